"""Benchmark: prefill + 128-token decode of a 1B decoder, analytic (target: under 2 s on this 2-core
machine), against the naive cost of simulating every decode step in full.

    python bench/bench_llm.py [--model workloads/llm/llama-3.2-1b.yaml] [--device gpu-orin-nano]
                              [--prefill 128] [--new-tokens 128]

Times, in one process and one run: (1) ``generate()`` (prefill simulated once, the decode step once,
the attention cores re-costed at the other 126 context lengths), through the same code path as
``hwsim simulate MODEL --prefill N --new-tokens T``; (2) the same sum with every decode step simulated
in full, for a subset of steps, scaled to all of them. Prints both and their ratio, and checks the two
sums agree on the subset.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.analysis.llm import generate  # noqa: E402
from hwsim.frontends.llm_config import decode_graph, load_llm_config  # noqa: E402
from hwsim.hardware import load_device  # noqa: E402
from hwsim.sim import simulate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "workloads" / "llm" / "llama-3.2-1b.yaml"))
    ap.add_argument("--device", default="gpu-orin-nano")
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--full-steps", type=int, default=8, help="decode steps simulated in full for the naive rate")
    a = ap.parse_args()
    t0 = time.perf_counter()
    cfg = load_llm_config(a.model)
    dev = load_device(a.device)
    r = generate(cfg, dev, prefill_tokens=a.prefill, new_tokens=a.new_tokens)
    fast = time.perf_counter() - t0
    t1 = time.perf_counter()
    per = dict(r.per_context)
    worst = 0.0
    for L in range(a.prefill, a.prefill + a.full_steps):
        s = simulate(decode_graph(cfg, L), dev, check_fit=False).seconds
        worst = max(worst, abs(s / per[L] - 1))
    naive = (time.perf_counter() - t1) / a.full_steps * (a.new_tokens - 1)
    print(f"{cfg.name} on {dev.name}: prefill {a.prefill} + {a.new_tokens} new tokens")
    print(f"  generate (analytic, summed)      {fast:7.3f} s   target < 2 s   {'OK' if fast < 2 else 'MISSED'}")
    print(f"  every step in full (extrapolated) {naive:7.3f} s   ({a.full_steps} steps timed)")
    print(f"  speed-up {naive / fast:.1f}x; summed vs full steps: max relative difference {worst:.2e}")
    print(f"  TTFT {r.ttft_s * 1e3:.1f} ms, decode {r.decode_tokens_per_s:.2f} tokens/s, "
          f"generation {r.generation_s:.2f} s")


if __name__ == "__main__":
    main()
