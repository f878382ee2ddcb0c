"""Modelled vs published batch-1 latencies (tests/golden/data/latency_figures.json): the table behind
tests/golden/test_latency_figures.py, with every figure's error and the engine spread.

    python bench/bench_latency_figures.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "golden"))

from test_latency_figures import DATA, modelled_ms  # noqa: E402


def main() -> None:
    print(f"{'figure':34s} {'device':16s} {'role':11s} {'published':>10s} {'hwsim':>9s} {'error':>8s}")
    errors = []
    for f in DATA["figures"]:
        ms = modelled_ms(f)
        err = ms / f["ms"] - 1
        if f["role"] == "validation":
            errors.append(err)
        print(f"{f['id']:34s} {f['device']:16s} {f['role']:11s} {f['ms']:8.1f}ms {ms:7.1f}ms {err:+8.0%}")
    mae = sum(abs(e) for e in errors) / len(errors)
    gm = math.exp(sum(math.log(1 + e) for e in errors) / len(errors))
    print(f"validation figures: {len(errors)}, mean |error| {mae:.0%}, geometric-mean ratio {gm:.2f}, "
          f"tolerance x{DATA['tolerance_factor']}")


if __name__ == "__main__":
    main()
