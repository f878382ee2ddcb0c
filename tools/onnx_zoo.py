"""The ONNX zoo check: every torchvision classification model plus a GPT-2-style and a Llama-style decoder,
exported to ONNX (opset 17, random weights, batch 1), read by hwsim and checked four ways:

1. load: ``hwsim.frontends.load_model`` reads the file;
2. count: hwsim's MACs, plus the MACs of matrix products on constants only (folded at load time by
   hwsim and onnxruntime alike, counted by PyTorch on every forward; found by this tool's own walk over
   the ONNX graph), equal PyTorch's own count of the same forward pass (``torch.utils.flop_counter``
   over convolutions, matrix products and attention, FLOPs / 2; the forward hooks on Conv/Linear
   modules give the conv + linear share as a cross-check); parameters are compared too;
3. simulate: the analytic engine on every device profile of the catalogue;
4. verify: hwsim's fp32 executor against onnxruntime on one seeded input, max |hwsim - ort| / max |ort|
   <= 1e-4, on an output that varies (classifier heads torchvision initialises to zero, ViT's, get seeded
   random weights first; random weights: a fidelity check of the kernels, not an accuracy figure).

Needs torch + torchvision (not hwsim dependencies). Exports go to ``--work`` (not the repository); each
model runs in its own subprocess (a crash or timeout is recorded, not fatal) and its result is cached as
JSON, so an interrupted run resumes. ``--table`` writes the markdown results table (docs/onnx-zoo.md).

    python tools/onnx_zoo.py --work /tmp/hwsim-zoo                 # everything (hours on 2 cores)
    python tools/onnx_zoo.py --work /tmp/hwsim-zoo --only resnet18 gpt2_tiny
    python tools/onnx_zoo.py --work /tmp/hwsim-zoo --table docs/onnx-zoo.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

TOLERANCE = 1e-4
OPSET = 17
DECODERS = ("gpt2_tiny", "llama_tiny")


# --- the two decoders (randomly initialised, written here) -------------------------------------------

def _decoders():  # noqa: ANN202 - torch classes built lazily so the module imports without torch
    import math

    import torch
    from torch import nn

    class GPT2Block(nn.Module):
        def __init__(self, d: int, heads: int) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.heads = heads

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
            att = att.masked_fill(mask == 0, torch.finfo(att.dtype).min).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(y)
            h = self.fc(self.ln2(x))
            h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
            return x + self.out(h)

    class GPT2(nn.Module):
        """GPT-2 layout: learned positions, pre-LayerNorm blocks, tanh-GELU MLP, tied LM head."""

        def __init__(self, vocab: int = 1000, ctx: int = 64, d: int = 128, heads: int = 4, layers: int = 2) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
            self.blocks = nn.ModuleList(GPT2Block(d, heads) for _ in range(layers))
            self.ln_f = nn.LayerNorm(d)
            self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)).view(1, 1, ctx, ctx))

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            t = ids.shape[1]
            x = self.wte(ids) + self.wpe(torch.arange(t, device=ids.device))
            for blk in self.blocks:
                x = blk(x, self.mask[:, :, :t, :t])
            return self.ln_f(x) @ self.wte.weight.t()

    class RMSNorm(nn.Module):
        def __init__(self, d: int, eps: float = 1e-6) -> None:
            super().__init__()
            self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    class LlamaBlock(nn.Module):
        def __init__(self, d: int, heads: int, kv_heads: int, hidden: int) -> None:
            super().__init__()
            self.hd, self.heads, self.kv = d // heads, heads, kv_heads
            self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
            self.q = nn.Linear(d, d, bias=False)
            self.k = nn.Linear(d, kv_heads * self.hd, bias=False)
            self.v = nn.Linear(d, kv_heads * self.hd, bias=False)
            self.o = nn.Linear(d, d, bias=False)
            self.gate, self.up = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
            self.down = nn.Linear(hidden, d, bias=False)

        def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            b, t, d = x.shape
            h = self.norm1(x)
            q = self.q(h).view(b, t, self.heads, self.hd).transpose(1, 2)
            k = self.k(h).view(b, t, self.kv, self.hd).transpose(1, 2)
            v = self.v(h).view(b, t, self.kv, self.hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            rep = self.heads // self.kv  # grouped-query attention: each K/V head serves `rep` query heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.o(y)
            h = self.norm2(x)
            return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))

    class Llama(nn.Module):
        """Llama layout: RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP, untied head."""

        def __init__(self, vocab: int = 1000, ctx: int = 64, d: int = 128, heads: int = 4, kv_heads: int = 2,
                     hidden: int = 344, layers: int = 2) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.blocks = nn.ModuleList(LlamaBlock(d, heads, kv_heads, hidden) for _ in range(layers))
            self.norm, self.head = RMSNorm(d), nn.Linear(d, vocab, bias=False)
            hd = d // heads
            inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
            ang = torch.outer(torch.arange(ctx).float(), inv)
            emb = torch.cat((ang, ang), dim=-1)
            self.register_buffer("cos", emb.cos())
            self.register_buffer("sin", emb.sin())
            self.register_buffer("mask", torch.triu(torch.full((ctx, ctx), torch.finfo(torch.float32).min), 1))

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            t = ids.shape[1]
            x = self.embed(ids)
            cos, sin, mask = self.cos[:t], self.sin[:t], self.mask[:t, :t]
            for blk in self.blocks:
                x = blk(x, cos, sin, mask)
            return self.head(self.norm(x))

    return {"gpt2_tiny": GPT2, "llama_tiny": Llama}


# --- one model -------------------------------------------------------------------------------------

def _randomise_zero_heads(model) -> None:  # noqa: ANN001
    """torchvision initialises some classifier heads to zero (ViT's ``heads.head``): every logit is then 0
    whatever the network computes, and comparing outputs with onnxruntime would pass without checking
    anything. Such all-zero Linear weights get seeded normal values (std 0.02) before the export."""
    import torch

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Linear) and not mod.weight.any():
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * 0.02)


def build(name: str):  # noqa: ANN201
    """(module, example input) with seeded random weights."""
    import torch

    torch.manual_seed(0)
    if name in DECODERS:
        model = _decoders()[name]().eval()
        return model, torch.randint(0, 1000, (1, 32), generator=torch.Generator().manual_seed(0))
    import torchvision

    kwargs = {"aux_logits": False, "init_weights": True} if name in ("inception_v3", "googlenet") else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    _randomise_zero_heads(model)
    side = 299 if name == "inception_v3" else 224
    return model, torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0))


def torch_counts(model, x) -> dict[str, int]:  # noqa: ANN001
    """PyTorch's own count of the forward pass: MACs of convolutions, matrix products and attention
    (FlopCounterMode's FLOPs / 2), and the conv + linear share from forward hooks on the modules."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(q, k, v, *args, out_shape=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        return sdpa_flop_count(q, k, v)  # QK^T and PV: FlopCounterMode has no formula for the CPU kernel

    hooked = {"conv_linear_macs": 0}

    def hook(mod, inp, out):  # noqa: ANN001
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            hooked["conv_linear_macs"] += out.numel() * k
        else:
            hooked["conv_linear_macs"] += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    counter = FlopCounterMode(display=False, custom_mapping={
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa})
    with counter:  # with autograd on: under no_grad nn.MultiheadAttention's fused fast path hides its products
        model(x)
    for h in handles:
        h.remove()
    return {"macs": int(counter.get_total_flops()) // 2, "conv_linear_macs": hooked["conv_linear_macs"],
            "params": sum(p.numel() for p in model.parameters())}


def folded_constant_macs(path: Path) -> int:
    """MACs of the matrix products whose operands are all constants (initializers, Constant nodes or
    results of such nodes): onnxruntime and hwsim's reader fold these subgraphs at load time, while
    PyTorch's flop counter counts them on every forward (Swin V2's position-bias MLP over its constant
    coordinate table)."""
    import math

    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False))
    g = model.graph
    shapes = {t.name: [d.dim_value for d in t.type.tensor_type.shape.dim] for t in (*g.value_info, *g.output)}
    shapes.update({t.name: list(t.dims) for t in g.initializer})
    const = {t.name for t in g.initializer}
    macs = 0
    for node in g.node:
        inputs = [t for t in node.input if t]
        if node.op_type == "Constant" or (inputs and all(t in const for t in inputs)):
            const.update(node.output)
            if node.op_type in ("MatMul", "Gemm") and node.input[0] in shapes and node.output[0] in shapes:
                a = shapes[node.input[0]]
                k = a[0] if node.op_type == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute) \
                    else a[-1]
                macs += math.prod(shapes[node.output[0]]) * k
    return macs


def run_one(name: str, work: Path) -> dict:
    import numpy as np
    import torch

    from hwsim.cost.memory import ModelDoesNotFitError
    from hwsim.frontends import load_model
    from hwsim.hardware import load_device
    from hwsim.hardware.loader import list_devices
    from hwsim.ir import count_graph
    from hwsim.kernels import execute
    from hwsim.sim import simulate

    row: dict = {"model": name}
    path = work / f"{name}.onnx"
    model, x = build(name)
    t0 = time.perf_counter()
    if not path.exists():
        tmp = path.with_suffix(".tmp.onnx")
        # not under no_grad: there nn.MultiheadAttention takes its fused fast path, which has no ONNX export
        torch.onnx.export(model, (x,), str(tmp), opset_version=OPSET, dynamo=False,
                          input_names=["input"], output_names=["output"])
        tmp.rename(path)
    row["export_s"] = round(time.perf_counter() - t0, 1)
    row["file_mb"] = round(path.stat().st_size / 1e6, 1)
    row.update({f"torch_{k}": v for k, v in torch_counts(model, x).items()})
    with torch.no_grad():
        torch_out = model(x).numpy()
    del model

    t0 = time.perf_counter()
    row["stage"] = "load"
    g = load_model(path)
    row["load_s"] = round(time.perf_counter() - t0, 2)
    row["nodes"] = len(g.nodes)
    c = count_graph(g)
    row.update(hwsim_macs=c.macs, hwsim_params=c.params)
    row["folded_macs"] = folded_constant_macs(path)
    row["macs_exact"] = c.macs + row["folded_macs"] == row["torch_macs"]

    row["stage"] = "simulate"
    devices = list_devices()
    sims, too_big = {}, []
    for dev in devices:
        try:
            sims[dev] = simulate(g, load_device(dev)).total_cycles
        except ModelDoesNotFitError:  # the simulator's answer for that board: the weights exceed its memory
            too_big.append(dev)
    row["devices"] = len(devices)
    row["does_not_fit"] = too_big
    row["simulated"] = len(sims) + len(too_big) == len(devices) and all(v > 0 for v in sims.values())

    row["stage"] = "verify"
    import onnxruntime as ort

    feed = x.numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: feed})[0]
    t0 = time.perf_counter()
    got = execute(g, {g.inputs[0]: feed}).output
    row["execute_s"] = round(time.perf_counter() - t0, 1)
    row["rel_diff_ort"] = float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
    row["rel_diff_torch"] = float(np.max(np.abs(ref - torch_out)) / max(float(np.max(np.abs(torch_out))), 1e-30))
    # an output that does not vary (a zero head) would make the comparison pass without checking anything
    row["output_std"] = float(np.std(ref))
    row["agrees"] = row["rel_diff_ort"] <= TOLERANCE and row["output_std"] > 0
    row["stage"] = "done"
    row["ok"] = row["macs_exact"] and row["simulated"] and row["agrees"]
    return row


def _child(name: str, work: Path) -> None:
    out = work / f"{name}.json"
    row: dict = {"model": name}
    try:
        row = run_one(name, work)
    except BaseException as e:  # noqa: BLE001 - record why, in the table
        row = {**row, "ok": False, "error": f"{type(e).__name__}: {str(e)[:400]}",
               "trace": traceback.format_exc()[-1500:]}
    out.write_text(json.dumps(row, indent=1, default=str))


# --- driver and table ------------------------------------------------------------------------------

#: the largest exports (0.5-2.6 GB): run last
HEAVY = ("convnext_large", "efficientnet_v2_l", "regnet_x_32gf", "regnet_y_32gf", "vit_l_32", "vit_l_16",
         "regnet_y_128gf", "vit_h_14")


def all_models() -> list[str]:
    import torchvision

    names = sorted(torchvision.models.list_models(module=torchvision.models))
    return list(DECODERS) + [n for n in names if n not in HEAVY] + [n for n in HEAVY if n in names]


def _num(v: object) -> str:
    return f"{v:,}" if isinstance(v, int) else ""


def _fit(r: dict) -> str:
    n = len(r.get("does_not_fit") or [])
    return f" ({n} too small for the weights)" if n else ""


def table(work: Path, names: list[str]) -> str:
    lines = ["| model | file MB | nodes | MACs (PyTorch) | MACs (hwsim) | exact | params PyTorch / hwsim | devices "
             "simulated | max rel. diff vs onnxruntime | result |", "|---|---|---|---|---|---|---|---|---|---|"]
    ok = run = 0
    for n in names:
        f = work / f"{n}.json"
        if not f.exists():
            lines.append(f"| {n} | | | | | | | | | not run |")
            continue
        r = json.loads(f.read_text())
        run += 1
        ok += bool(r.get("ok"))
        if r.get("ok"):
            res = "ok"
        elif r.get("stage") == "done":
            res = "FAILS: " + ", ".join(k for k in ("macs_exact", "simulated", "agrees") if not r.get(k))
        else:
            res = f"FAILS at {r.get('stage', 'export')}: {r.get('error', '')}"
        rel = f"{r['rel_diff_ort']:.1e}" if "rel_diff_ort" in r else ""
        exact = {True: "yes", False: "no"}.get(r.get("macs_exact"), "")
        if r.get("folded_macs"):
            exact += f" (+{r['folded_macs']:,} folded)"
        lines.append(f"| {n} | {r.get('file_mb', '')} | {r.get('nodes', '')} | {_num(r.get('torch_macs'))} | "
                     f"{_num(r.get('hwsim_macs'))} | {exact} | {_num(r.get('torch_params'))} / "
                     f"{_num(r.get('hwsim_params'))} | {r.get('devices', '')}{_fit(r)} | {rel} | "
                     f"{res.replace('|', '/')[:300]} |")
    return "\n".join(lines) + f"\n\n{ok} of {run} models run pass every check ({len(names)} in the zoo).\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hwsim-zoo"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--redo", action="store_true", help="rerun models that already have a result")
    ap.add_argument("--table", type=Path, help="write the markdown table here (no runs)")
    ap.add_argument("--reverse", action="store_true", help="run the light models in reverse order (a second "
                    "driver on the same --work folder takes the other end)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if a.child:
        _child(a.child, a.work)
        return
    names = a.only or all_models()
    if a.table:
        a.table.write_text(a.table.read_text().split("<!-- table -->")[0] + "<!-- table -->\n\n" + table(a.work, names)
                           if a.table.exists() else table(a.work, names))
        return
    if a.reverse:
        heavy = [n for n in names if n in HEAVY]
        names = [n for n in names if n not in HEAVY][::-1] + heavy
    for n in names:
        if (a.work / f"{n}.json").exists() and not a.redo:
            continue
        try:  # another driver may be running this one (drivers can share a work folder)
            os.close(os.open(a.work / f"{n}.lock", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        t0 = time.time()
        try:
            with open(a.work / f"{n}.log", "w") as log:
                subprocess.run([sys.executable, __file__, "--work", str(a.work), "--child", n], timeout=a.timeout,
                               check=False, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
        except subprocess.TimeoutExpired:
            (a.work / f"{n}.json").write_text(json.dumps({"model": n, "ok": False, "error": f"timeout {a.timeout} s"}))
        r = json.loads((a.work / f"{n}.json").read_text()) if (a.work / f"{n}.json").exists() else {
            "ok": False, "error": "child died (killed: out of memory?)"}
        if not (a.work / f"{n}.json").exists():
            (a.work / f"{n}.json").write_text(json.dumps({"model": n, **r}))
        (a.work / f"{n}.lock").unlink(missing_ok=True)
        print(f"{n:24s} {'ok ' if r.get('ok') else 'FAIL'} {time.time() - t0:6.0f} s  {r.get('error', '')[:150]}",
              flush=True)


if __name__ == "__main__":
    main()
