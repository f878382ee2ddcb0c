"""Benchmark: hwsim's kernels on this machine, against onnxruntime and against float32 BLAS.

    python bench/bench_kernels.py [--repeats 10] [--threads 2] [--skip-4096] [--skip-engines] [--json out.json]

1. fp32 executor vs onnxruntime, batch 1, full-size inputs, same ONNX file, same run: the largest
   |difference| on ResNet-18, MobileNetV2 and the transformer (target <= 1e-4 relative), and ResNet-18's
   time at 1 thread and at ``--threads`` threads for both engines (target: hwsim within 3x of
   onnxruntime). On a loaded machine multi-threaded BLAS degrades far more than onnxruntime's pool.
   Times are the minimum over ``--repeats`` runs of one inference each; hwsim's weights are checked once
   beforehand, as onnxruntime prepares its initializers once per session.
2. XNOR-popcount GEMM (``hwsim.kernels.lowbit.xnor_popcount_gemm``, compiled with numba, on pre-packed
   uint64 words) vs float32 ``np.matmul`` at M = N = K = 1024 and 4096, both on 1 thread (threadpoolctl
   limit for OpenBLAS, ``numba.set_num_threads(1)`` for the kernel): time and ratio float32 / XNOR
   (target: > 1, XNOR faster). Packing the activations into words is timed separately (a binary
   network packs each activation once). Compilation is printed apart: the first call in this process
   (numba's on-disk cache loaded, or a compile when it is cold) and a compile with an empty cache in a
   fresh process; steady state is the least of the repeats after a warm-up call.

The machine is shared: numbers move with its load; each ratio is measured back to back in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from hwsim.analysis.onnx_reference import compare_with_onnxruntime  # noqa: E402
from hwsim.frontends import load_model  # noqa: E402
from hwsim.kernels.lowbit import pack_rows, xnor_popcount_gemm  # noqa: E402


def best_of(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def engine_rows(repeats: int, thread_counts: list[int]) -> list[dict]:
    """Accuracy on three models; ResNet-18 timed once per thread count (BLAS threads for hwsim through
    threadpoolctl, intra-op threads for onnxruntime)."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency; bench only

    rows = []
    for name in ("resnet18", "mobilenet_v2", "transformer_tiny"):
        graph = load_model(ROOT / "workloads" / f"{name}.json")
        cmp = compare_with_onnxruntime(graph, inputs=2, seed=0)
        row = {"model": name, "max_abs_diff": cmp.max_abs_diff, "max_rel_diff": cmp.max_rel_diff,
               "within_1e-4": cmp.max_rel_diff <= 1e-4, "timings": []}
        if name == "resnet18":
            for t in thread_counts:
                with threadpool_limits(limits=t, user_api="blas"):
                    timed = compare_with_onnxruntime(graph, inputs=1, seed=0, repeats=repeats, threads=t)
                row["timings"].append({"threads": t, "hwsim_ms": timed.hwsim_seconds * 1e3,
                                       "onnxruntime_ms": timed.engine_seconds * 1e3,
                                       "ratio": timed.hwsim_seconds / timed.engine_seconds})
        rows.append(row)
    return rows


def xnor_rows(sizes: list[int], repeats: int) -> list[dict]:
    from threadpoolctl import threadpool_limits

    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        aw = pack_rows(a > 0)[None]  # [1, M, K/64]: rows of A
        bw = pack_rows(b.T > 0)[None]  # [1, N, K/64]: columns of B
        with threadpool_limits(limits=1):
            t_float = best_of(lambda: a @ b, repeats)
            t_pack = best_of(lambda: pack_rows(a > 0), repeats)
            t_xnor = best_of(lambda: xnor_popcount_gemm(aw, bw, threads=1), repeats)
        mism = xnor_popcount_gemm(aw, bw)[0]  # [N, M]
        dot = n - 2 * mism.T
        signs = np.where(a[:64] > 0, 1.0, -1.0) @ np.where(b[:, :64] > 0, 1.0, -1.0)
        assert np.array_equal(dot[:64, :64], signs.astype(np.int64)), "XNOR GEMM disagrees with the +/-1 product"
        rows.append({"size": n, "float32_ms": t_float * 1e3, "xnor_ms": t_xnor * 1e3, "pack_ms": t_pack * 1e3,
                     "speedup_vs_float32": t_float / t_xnor, "faster": t_xnor < t_float,
                     "float32_gflops": 2 * n**3 / t_float / 1e9, "xnor_gops": 2 * n**3 / t_xnor / 1e9})
    return rows


def first_call_seconds() -> float:
    """Wall time of the first XNOR GEMM call in this process (numba's cache loaded, or a compile)."""
    a = pack_rows(np.ones((1, 8, 64), bool))
    t = time.perf_counter()
    xnor_popcount_gemm(a, a, threads=1)
    return time.perf_counter() - t


def cold_compile_seconds() -> float:
    """The same first call in a fresh process whose numba cache directory is empty (a full compile)."""
    import subprocess
    import tempfile

    code = ("import time, numpy as np; from hwsim.kernels.lowbit import pack_rows, xnor_popcount_gemm; "
            "a = pack_rows(np.ones((1, 8, 64), bool)); t = time.perf_counter(); xnor_popcount_gemm(a, a, threads=1); "
            "print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="timed at 1 thread and at this many (default: all cores)")
    ap.add_argument("--skip-4096", action="store_true", help="only the 1024^3 XNOR point")
    ap.add_argument("--json", default=None)
    ap.add_argument("--skip-engines", action="store_true", help="only the XNOR GEMM table")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; numpy {np.__version__}")
    first = first_call_seconds()
    cold = cold_compile_seconds()
    sizes = [1024] if args.skip_4096 else [1024, 4096]
    xnor = xnor_rows(sizes, max(1, min(args.repeats, 3)))
    print(f"\nXNOR-popcount GEMM (numba) vs float32 np.matmul (OpenBLAS), M = N = K, 1 thread each; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"compile: first call in this process {first * 1e3:.0f} ms (on-disk cache); "
          f"with an empty cache {cold:.2f} s (not in the times below)")
    print("| size | float32 ms | XNOR ms | pack ms | float32 / XNOR | XNOR faster |\n|---|---|---|---|---|---|")
    for r in xnor:
        print(f"| {r['size']} | {r['float32_ms']:.1f} | {r['xnor_ms']:.1f} | {r['pack_ms']:.1f} | "
              f"{r['speedup_vs_float32']:.2f}x | {r['faster']} |")
    engines: list[dict] = []
    if not args.skip_engines:
        counts = sorted({1, args.threads})
        engines = engine_rows(args.repeats, counts)
        print("\nfp32 executor vs onnxruntime (full size, 2 seeded inputs): largest difference")
        print(f"{'model':18s} {'max|diff|':>10s} {'rel':>10s} {'<=1e-4':>7s}")
        for r in engines:
            print(f"{r['model']:18s} {r['max_abs_diff']:10.3g} {r['max_rel_diff']:10.3g} "
                  f"{str(r['within_1e-4']):>7s}")
        print("\nResNet-18, batch 1, min over repeats (target: hwsim within 3x of onnxruntime)")
        print(f"{'threads':>7s} {'hwsim ms':>9s} {'ort ms':>8s} {'ratio':>6s}")
        for t in engines[0]["timings"]:
            print(f"{t['threads']:7d} {t['hwsim_ms']:9.1f} {t['onnxruntime_ms']:8.1f} {t['ratio']:6.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"engines": engines, "xnor": xnor, "first_call_s": first,
                                               "cold_compile_s": cold}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
