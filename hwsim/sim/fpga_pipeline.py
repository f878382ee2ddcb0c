"""The FPGA dataflow pipeline: every layer engine is a stage; frames stream through all stages at once.

Closed form (deterministic stage times s_1..s_K, unbounded inter-stage FIFOs): frame f leaves stage k at
D(f, k) = max(D(f, k-1), D(f-1, k)) + s_k, so the last of F frames leaves after
``sum(s) + (F - 1) * max(s)``: the fill (one frame through every stage) plus one initiation interval,
the slowest stage, per further frame. The event engine simulates the same pipeline with simpy
(``hwsim.sim.event``), where stages that move data off chip also contend for the shared DRAM bus.
"""

from __future__ import annotations

from collections.abc import Sequence


def initiation_interval(stage_cycles: Sequence[int]) -> int:
    """Cycles between consecutive frames in steady state: the slowest stage."""
    return max(stage_cycles, default=0)


def pipeline_latency(stage_cycles: Sequence[int], frames: int = 1) -> int:
    """Cycles until the last of ``frames`` frames leaves the last stage (fill + steady state + drain)."""
    if frames < 1:
        raise ValueError("frames must be >= 1")
    if not stage_cycles:
        return 0
    return int(sum(stage_cycles) + (frames - 1) * max(stage_cycles))


def frame_departures(stage_cycles: Sequence[int], frames: int) -> list[list[int]]:
    """D[f][k]: when frame f leaves stage k (the recurrence above), for tests and traces."""
    d: list[list[int]] = []
    for f in range(frames):
        row: list[int] = []
        for k, s in enumerate(stage_cycles):
            ready = row[k - 1] if k else 0
            free = d[f - 1][k] if f else 0
            row.append(max(ready, free) + s)
        d.append(row)
    return d
