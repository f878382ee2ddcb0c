"""Probe: a few hundred generated bad inputs across the commands, and how each was handled.

Every input here is bad by construction (a window of 0, a negative seed, a bare number for a quantity
with a unit, a NUL in a name, a corrupt weights file, an unknown pass, an impossible range ...), built
from LeNet-5 and the shipped profiles (the ONNX reader is probed by the `onnx` helper). Each is run
through the commands that read it, in this process (``hwsim.cli.main``), and classified:

* handled: exit 2, one line on stderr naming the input, no traceback, nothing written;
* traceback: any other exception escaped;
* silently accepted: exit 0 on a bad input;
* partial output: an output file exists after the run failed.

The target (issue 12, item 7) is >= 99 % handled.

    python bench/probe_bad_inputs.py [--seed 0] [--per-class 3] [--show 20]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import random
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from testutils import LENET5_DOC  # noqa: E402

from hwsim.cli import main  # noqa: E402
from hwsim.hardware import read_raw  # noqa: E402
from hwsim.hardware.loader import device_path  # noqa: E402

BAD_INTS = [0, -1, -7, 3.5, "3", None, True, [], {}, [0, 0], [1, -1], 2**70]
BAD_NAMES = ["", "a\x00b", "tab\tname", None, 7, ["x"]]
BAD_QUANTITIES = ["1.4", 1400000000, "-1 GHz", "1e400 GHz", "fast", None, [], "0 Hz", "3 Mb", "1e300 GB/s"]


class Timeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ANN001
    raise Timeout()


# --- generators: (class, description, files {name: bytes}, argv builder) ------------------------------
def model_cases(rng: random.Random, per_class: int) -> list[tuple[str, str, dict[str, bytes]]]:
    out = []

    def doc_case(cls: str, mutate) -> None:  # noqa: ANN001
        d = copy.deepcopy(LENET5_DOC)
        desc = mutate(d)
        out.append((cls, desc, {"m.json": json.dumps(d).encode()}))

    windowed = [n for n in LENET5_DOC["nodes"] if n["op"] in ("conv2d", "maxpool")]
    for _ in range(per_class * 4):
        node = rng.choice(windowed)
        key = rng.choice(["kernel", "stride"] + (["dilation", "out_channels"] if node["op"] == "conv2d" else []))
        val = rng.choice(BAD_INTS)

        def m(d, node=node, key=key, val=val):  # noqa: ANN001
            next(n for n in d["nodes"] if n["name"] == node["name"])["attrs"][key] = val
            return f"{node['name']}.{key}={val!r}"
        doc_case("model: window/size attribute", m)
    for _ in range(per_class):
        val = rng.choice([-1, -(2**40), "x", 1.5, None, 2**70])
        doc_case("model: seed", lambda d, v=val: (d.__setitem__("seed", v), f"seed={v!r}")[1])
    for v in ([], ["nope"], [""], "y", 7):  # (no "outputs" key at all is valid: the last node's)
        doc_case("model: outputs", lambda d, v=v: (d.__setitem__("outputs", v), f"outputs={v!r}")[1])
    for _ in range(per_class * 2):
        i, v = rng.randrange(len(LENET5_DOC["nodes"])), rng.choice(BAD_NAMES)
        doc_case("model: names", lambda d, i=i, v=v: (d["nodes"][i].__setitem__("name", v), f"nodes[{i}].name={v!r}")[1])
    for shape in ([0, 1, 28, 28], [1, -1, 28, 28], [], [1, 1, 2**40, 2**40], [1, 1, "28", 28], [1, 1, 2, 2]):
        doc_case("model: input shape",
                 lambda d, s=shape: (d["inputs"][0].__setitem__("shape", s), f"inputs[0].shape={s!r}")[1])
    for op in ("nonexistent", "", None, 3):
        doc_case("model: op", lambda d, op=op: (d["nodes"][2].__setitem__("op", op), f"nodes[2].op={op!r}")[1])
    doc_case("model: dangling input", lambda d: (d["nodes"][3].__setitem__("inputs", ["ghost"]), "inputs=[ghost]")[1])
    doc_case("model: duplicate name", lambda d: (d["nodes"][1].__setitem__("name", "conv1"), "pool1 named conv1")[1])
    doc_case("model: cycle", lambda d: (d["nodes"][0].__setitem__("inputs", ["ip2"]), "conv1 reads ip2")[1])
    doc_case("model: unknown key", lambda d: (d.__setitem__("colour", "red"), "colour")[1])
    doc_case("model: unknown attr", lambda d: (d["nodes"][0]["attrs"].__setitem__("strid", 2), "strid")[1])
    for w in ("../outside.npz", "/etc/hostname", "missing.npz", "", "w.npz"):
        d = copy.deepcopy(LENET5_DOC)
        d["weights"] = w
        files = {"m.json": json.dumps(d).encode()}
        if w == "w.npz":
            files["w.npz"] = bytes(rng.randrange(256) for _ in range(300))  # corrupt archive
        out.append(("model: weights file", f"weights={w!r}", files))
    out.append(("model: corrupt npz member", "damaged member", {"m.json": json.dumps({**LENET5_DOC, "weights": "w.npz"}).encode(),
                                                              "w.npz": _damaged_npz()}))
    for text, desc in ((b"[" * 100_000 + b"]" * 100_000, "deep nesting"), (b"{\"name\": ", "truncated JSON"),
                       (b"", "empty file"), (b"[1, 2]", "a list"), (bytes(range(256)), "binary garbage"),
                       (b"\xff\xfe{}", "not UTF-8")):
        out.append(("model: file", desc, {"m.json": text}))
    return out


def _damaged_npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{"conv1.weight": np.zeros((20, 1, 5, 5), np.float32)})
    raw = bytearray(buf.getvalue())
    raw[200:260] = b"\xff" * 60
    return bytes(raw)


def device_cases(rng: random.Random, per_class: int) -> list[tuple[str, str, dict[str, bytes]]]:
    out = []
    bases = {"cpu-a53": read_raw(device_path("cpu-a53")), "fpga-small": read_raw(device_path("fpga-small")),
             "gpu-jetson-nano": read_raw(device_path("gpu-jetson-nano")),
             "systolic-32x32": read_raw(device_path("systolic-32x32"))}
    quantity_keys = [("clock",), ("memory", "dram", "bandwidth"), ("memory", "dram", "size"), ("static_power",),
                     ("memory", "dram", "latency"), ("process_node",)]
    for _ in range(per_class * 6):
        name = rng.choice(list(bases))
        d = copy.deepcopy(bases[name])
        path, val = rng.choice(quantity_keys), rng.choice(BAD_QUANTITIES)
        node = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = val
        out.append(("device: quantity", f"{name} {'.'.join(path)}={val!r}", {"d.yaml": yaml.safe_dump(d).encode()}))
    for key, val in (("dsp", 0), ("dsp", -1), ("lut", 0), ("bram36", -3), ("dsp_mult_bits", [0, 18])):
        d = copy.deepcopy(bases["fpga-small"])
        d["fpga"][key] = val
        out.append(("device: fpga resources", f"fpga.{key}={val!r}", {"d.yaml": yaml.safe_dump(d).encode()}))
    for key, val in (("rows", 0), ("cols", -4), ("dataflow", "xy"), ("ifmap_sram", "1.5")):
        d = copy.deepcopy(bases["systolic-32x32"])
        d["array"][key] = val
        out.append(("device: array", f"array.{key}={val!r}", {"d.yaml": yaml.safe_dump(d).encode()}))
    for key, val in (("cores", 0), ("cores", 2.5), ("macs_per_cycle_per_core", {}), ("efficiency", {"gemm": 0})):
        d = copy.deepcopy(bases["cpu-a53"])
        d["cpu"][key] = val
        out.append(("device: cpu", f"cpu.{key}={val!r}", {"d.yaml": yaml.safe_dump(d).encode()}))
    for kind in ("tpu", None, ["cpu"], 3):
        d = copy.deepcopy(bases["cpu-a53"])
        d["kind"] = kind
        out.append(("device: kind", f"kind={kind!r}", {"d.yaml": yaml.safe_dump(d).encode()}))
    for text, desc in ((b"kind: cpu\nx: " + b"[" * 50_000 + b"]" * 50_000, "deep nesting"), (b"- a\n- b\n", "a list"),
                       (b"kind: [cpu\n", "invalid YAML"), (b"", "empty file"), (b"\xff\xfe", "not UTF-8")):
        out.append(("device: file", desc, {"d.yaml": text}))
    return out


def methods_cases(rng: random.Random, per_class: int) -> list[tuple[str, str, dict[str, bytes]]]:
    out = []
    steps = [("prune", "sparsity", [1.5, -0.1, "x", None, 2]), ("quantize", "bits", [0, -1, 1000, 2.5, "8"]),
             ("share_kmeans", "bits", [0, -2, 99]), ("lowrank_svd", "rank_fraction", [0, -1, 7, "a"])]
    for _ in range(per_class * 4):
        p, key, vals = rng.choice(steps)
        v = rng.choice(vals)
        doc = {"version": 1, "methods": {"bad": {"steps": [{"pass": p, "params": {key: v}}]}}}
        out.append(("methods: parameter", f"{p}.{key}={v!r}", {"m.yaml": yaml.safe_dump(doc).encode()}))
    for doc, desc in (({"version": 1, "methods": {"bad": {"steps": [{"pass": "nope"}]}}}, "unknown pass"),
                      ({"version": 1, "methods": {"bad": {"extends": "ghost"}}}, "unknown extends"),
                      ({"version": 1, "methods": {"bad": {"steps": []}}}, "no steps"),
                      ({"version": 2, "methods": {"x": {"extends": "int8"}}}, "version 2"),
                      ({"version": 1, "methods": {}}, "no methods"),
                      ({"version": 1, "methods": {"bad": {"steps": [{"pass": "prune", "params": {"sparsity": 0.5},
                                                                     "colour": 1}]}}}, "unknown step key"),
                      ({"version": 1, "methods": {"bad": {"steps": [{"pass": "prune", "seed": -1}]}}}, "seed key")):
        out.append(("methods: structure", desc, {"m.yaml": yaml.safe_dump(doc).encode()}))
    for text, desc in ((b"methods: " + b"[" * 50_000 + b"]" * 50_000, "deep nesting"), (b"methods: {a: [", "invalid YAML"),
                       (b"", "empty file")):
        out.append(("methods: file", desc, {"m.yaml": text}))
    return out


def cli_cases(rng: random.Random) -> list[tuple[str, str, list[str]]]:
    lenet = str(ROOT / "workloads" / "lenet5.json")
    out: list[tuple[str, str, list[str]]] = []
    for s in ("clock=1.4", "clock=1e400 GHz", "memory.dram.bandwidth=12.8", "memory.l3.size=1 MiB", "clock",
              "cpu.cores=0", "cpu.cores=two", "=1", "memory.dram.latency=100", "static_power=-1 W"):
        out.append(("cli: --set", s, ["simulate", lenet, "-d", "cpu-a53", "--set", s]))
    for v in ("clock=1,2", "clock=log:1GHz:2GHz:1e8", "clock=1Hz:1e12Hz:1Hz", "clock=1e400GHz:2GHz:1GHz",
              "clock=1GHz:2GB/s:1MHz", "clock=2GHz:1GHz:1MHz", "clock=", "clock=a,,b", "nope=1GHz,2GHz",
              "clock=log:0GHz:1GHz:3", "clock=1GHz:2:250MHz"):
        out.append(("cli: --vary", v, ["sweep", lenet, "--device", "cpu-a53", "--vary", v, "--scheduler", "serial",
                                       "--quiet", "-o", "{out}/sweep"]))
    for argv, desc in ((["verify", lenet, "-m", "baseline", "--seed", "-1"], "verify --seed -1"),
                       (["verify", lenet, "-m", "baseline", "--inputs", "0"], "verify --inputs 0"),
                       (["verify", lenet, "-m", "nosuch"], "verify unknown method"),
                       (["simulate", lenet, "-d", "nosuch"], "unknown device"),
                       (["simulate", lenet, "-d", "cpu-a53", "-m", "nosuch"], "simulate unknown method"),
                       (["simulate", lenet, "-d", "cpu-a53", "-e", "nosuch"], "unknown engine"),
                       (["sweep", lenet, "--device", "cpu-a53", "--vary", "clock=1GHz,2GHz", "--samples", "0",
                         "--scheduler", "serial", "-o", "{out}/s"], "--samples 0"),
                       (["sweep", lenet, "--device", "cpu-a53", "--vary", "clock=1GHz,2GHz", "--target-latency", "5",
                         "--scheduler", "serial", "-o", "{out}/s"], "--target-latency 5"),
                       (["sweep", lenet, "--device", "cpu-a53", "--vary", "clock=1GHz,2GHz", "--seed", "-3",
                         "--samples", "1", "--scheduler", "serial", "-o", "{out}/s"], "sweep --seed -3"),
                       (["compress", lenet, "-m", "int8", "-o", "{out}/x.txt"], "compress -o not .json"),
                       (["compress", lenet, "-m", "int8", "-o", "{out}/blocker/x.json"], "compress unwritable"),
                       (["report", lenet, "--device", "cpu-a53", "--methods", "nosuch", "-o", "{out}/r.html"],
                        "report unknown method"),
                       (["report", lenet, "--device", "cpu-a53,nosuch", "-o", "{out}/r.html"], "report unknown device"),
                       (["report", lenet, "--device", "cpu-a53", "--seed", "-1", "-o", "{out}/r.html"], "report --seed -1"),
                       (["calibrate", "-o", "{out}/host.txt"], "calibrate -o not .yaml"),
                       (["stats", "{out}/missing.json"], "missing model"),
                       (["stats", "{out}"], "model is a directory"),
                       (["stats", "{out}/m.onnx"], "ONNX file that is text")):
        out.append(("cli: values", desc, argv))
    return out


# --- running -----------------------------------------------------------------------------------------
def run(argv: list[str], outputs: list[Path], timeout_s: int = 120) -> tuple[str, str]:
    """(class, detail) of one run."""
    err, out = io.StringIO(), io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout_s)
    code: int | str = 0
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Timeout:
        code = "timeout"
    except BaseException as e:  # noqa: BLE001 - the probe counts what escapes
        signal.alarm(0)
        return "traceback", f"{type(e).__name__}: {e}"[:300] + " @ " + traceback.extract_tb(e.__traceback__)[-1].filename.split("hwsim/")[-1]
    finally:
        signal.alarm(0)
    written = [p for p in outputs if p.exists()]
    text = err.getvalue().strip()
    if code == "timeout":
        return "time blow-up", f"over {timeout_s} s"
    if code == 0:
        return "silently accepted", out.getvalue()[:200].replace("\n", " ")
    if written:
        return "partial output", ", ".join(str(p.name) for p in written)
    if code == 2 and text.startswith("hwsim: error:") and "Traceback" not in text:
        return "handled", text.splitlines()[0][:200]
    if code == 2 and text.startswith(("Usage:", "Error:")) or "Error: Invalid value" in text:
        return "handled", text.splitlines()[-1][:200]  # click's own option validation (exit 2)
    return "traceback" if "Traceback" in text else "other exit", f"exit {code}: {text[:200]}"


def main_probe() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=3)
    ap.add_argument("--show", type=int, default=25, help="list this many non-handled runs")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    results: list[tuple[str, str, str, str, str]] = []  # (input class, input, command, outcome, detail)
    lenet = str(ROOT / "workloads" / "lenet5.json")
    n_inputs = 0
    with tempfile.TemporaryDirectory() as tmp_root:
        for i, (cls, desc, files) in enumerate(model_cases(rng, args.per_class)):
            n_inputs += 1
            d = Path(tmp_root) / f"m{i}"
            d.mkdir()
            for name, data in files.items():
                (d / name).write_bytes(data)
            m = str(d / "m.json")
            o = d / "out"
            for cmd, argv, outs in (("stats", ["stats", m, "--json"], []),
                                    ("simulate", ["simulate", m, "-d", "cpu-a53", "--json"], []),
                                    ("compress", ["compress", m, "-m", "int8", "-o", str(o / "c.json"), "--weights-out",
                                                  str(o / "c.npz"), "--json"], [o / "c.json", o / "c.npz"]),
                                    ("verify", ["verify", m, "-m", "baseline", "-n", "1", "--json", "--quiet"], [])):
                results.append((cls, desc, cmd, *run(argv, outs)))
        for i, (cls, desc, files) in enumerate(device_cases(rng, args.per_class)):
            n_inputs += 1
            d = Path(tmp_root) / f"d{i}"
            d.mkdir()
            (d / "d.yaml").write_bytes(files["d.yaml"])
            for cmd, argv in (("simulate", ["simulate", lenet, "-d", str(d / "d.yaml"), "--json"]),
                              ("devices show", ["devices", "show", str(d / "d.yaml"), "--json"])):
                results.append((cls, desc, cmd, *run(argv, [])))
        for i, (cls, desc, files) in enumerate(methods_cases(rng, args.per_class)):
            n_inputs += 1
            d = Path(tmp_root) / f"r{i}"
            d.mkdir()
            (d / "m.yaml").write_bytes(files["m.yaml"])
            o = d / "out"
            for cmd, argv, outs in (("compress", ["compress", lenet, "-m", str(d / "m.yaml"), "-o", str(o / "c.json")],
                                     [o / "c.json"]),
                                    ("simulate", ["simulate", lenet, "-d", "cpu-a53", "-m", str(d / "m.yaml"), "--json"], [])):
                results.append((cls, desc, cmd, *run(argv, outs)))
        for i, (cls, desc, argv) in enumerate(cli_cases(rng)):
            n_inputs += 1
            d = Path(tmp_root) / f"c{i}"
            d.mkdir()
            (d / "blocker").write_text("x")
            (d / "m.onnx").write_text("not onnx")
            argv = [a.replace("{out}", str(d)) for a in argv]
            before = {p for p in d.rglob("*")}
            outcome = run(argv, [])
            after = {p for p in d.rglob("*")} - before
            if outcome[0] == "handled" and after:
                outcome = ("partial output", ", ".join(sorted(p.name for p in after)))
            results.append((cls, desc, argv[0], *outcome))
    counts = Counter(r[3] for r in results)
    total = len(results)
    print(f"{n_inputs} bad inputs, {total} runs across the commands")
    for k in ("handled", "traceback", "silently accepted", "partial output", "time blow-up", "other exit"):
        print(f"  {k:18s} {counts.get(k, 0):5d}  ({100 * counts.get(k, 0) / total:.1f} %)")
    by_class = Counter((r[0], r[3]) for r in results)
    print("by input class (not handled):")
    for (cls, outcome), n in sorted(by_class.items()):
        if outcome != "handled":
            print(f"  {cls:30s} {outcome:18s} {n}")
    shown = [r for r in results if r[3] != "handled"][: args.show]
    for cls, desc, cmd, outcome, detail in shown:
        print(f"- [{outcome}] {cmd} <- {cls}: {desc!r}: {detail}")


if __name__ == "__main__":
    main_probe()
