"""Counting ONNX exports: hwsim against onnx-tool and qonnx, side by side in one run (issue 13 item 2).

Each (tool, model) runs in a fresh subprocess that imports the tool, then times its count of the file:

- hwsim: ``load_model(path)`` + ``count_graph`` (what ``hwsim stats`` does);
- onnx-tool: ``onnx_tool.Model(path)``, ``graph.shape_infer()``, ``graph.profile()``;
- qonnx: ``qonnx.util.inference_cost.inference_cost(path)`` (its cleanup + shape inference + cost).

Reported per tool: seconds of the count (imports excluded, best of ``--repeat`` processes), peak RSS of
the process, and the peak above the process's RSS after its imports (the memory the model costs), as a
multiple of the file size. Ratios compare tools measured in this same run; absolute times on a busy
2-core machine vary. Exports come from tools/onnx_zoo.py (``--work``); missing ones are exported
there first (needs torch + torchvision).

    pip install -e ".[bench]"
    python bench/bench_onnx_peers.py --work /tmp/hwsim-zoo resnet18 mobilenet_v2 resnet50 vgg16
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PRELUDE = """
import json, resource, sys, time
def rss_kb():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
"""

WORK = {
    "hwsim": """
from hwsim.frontends import load_model
from hwsim.ir import count_graph
import hwsim.ir.opdefs, hwsim.frontends.onnx_reader
base = rss_kb(); t0 = time.perf_counter()
macs = count_graph(load_model(sys.argv[1])).macs
""",
    "onnx-tool": """
import onnx_tool
base = rss_kb(); t0 = time.perf_counter()
m = onnx_tool.Model(sys.argv[1]); m.graph.shape_infer(); m.graph.profile()
macs = int(m.graph.macs[0])
""",
    "qonnx": """
from qonnx.util.inference_cost import inference_cost
base = rss_kb(); t0 = time.perf_counter()
macs = int(inference_cost(sys.argv[1], discount_sparsity=False)['total_cost']['total_macs'])
""",
}
_REPORT = """
seconds = time.perf_counter() - t0
print(json.dumps({'seconds': seconds, 'peak_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'base_kb': base, 'macs': macs}))
"""


def measure(tool: str, path: Path, repeat: int) -> dict:
    best: dict | None = None
    for _ in range(repeat):
        r = subprocess.run([sys.executable, "-c", _PRELUDE + WORK[tool] + _REPORT, str(path)], capture_output=True,
                           text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                     "OMP_NUM_THREADS": "1"})
        if r.returncode != 0:
            return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1][:120]}
        out = json.loads(r.stdout.strip().splitlines()[-1])
        if best is None or out["seconds"] < best["seconds"]:
            best = out
    assert best is not None
    return best


def ensure_export(work: Path, name: str) -> Path:
    path = work / f"{name}.onnx"
    if not path.exists():
        sys.path.insert(0, str(ROOT / "tools"))
        import torch
        from onnx_zoo import build

        model, x = build(name)
        torch.onnx.export(model, (x,), str(path), opset_version=17, dynamo=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=["resnet18", "mobilenet_v2", "resnet50", "vgg16"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hwsim-zoo"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--tools", nargs="*", default=list(WORK))
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    print("| model | file MB | tool | MACs | count s | peak RSS MB | model memory / file | hwsim speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.models:
        path = ensure_export(a.work, name)
        mb = path.stat().st_size / 1e6
        rows = {tool: measure(tool, path, a.repeat) for tool in a.tools}
        hw = rows.get("hwsim", {})
        for tool, r in rows.items():
            if "error" in r:
                print(f"| {name} | {mb:.0f} | {tool} | | | | | failed: {r['error']} |")
                continue
            extra = (r["peak_kb"] - r["base_kb"]) / 1e3
            ratio = f"{r['seconds'] / hw['seconds']:.1f}x" if tool != "hwsim" and "seconds" in hw else ""
            print(f"| {name} | {mb:.0f} | {tool} | {r['macs']:,} | {r['seconds']:.2f} | {r['peak_kb'] / 1e3:.0f} | "
                  f"{extra / mb:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
