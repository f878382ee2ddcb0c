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


def pipelined_spans(lower_bounds: Sequence[int], is_stage: Sequence[bool], frames: int) -> tuple[list[tuple[int, int]], int]:
    """(start, end) of each op of an FPGA dataflow design and the total, by the closed form.

    Stages process ``frames`` frames at ``lower_bound / frames`` cycles each; a stage's span runs from
    its first frame's start to its last frame's end. Ops that are not stages (fused thresholds, views)
    sit at the end of the stage before them and take no time."""
    per = [max(0, lb // max(frames, 1)) for lb, s in zip(lower_bounds, is_stage) if s]
    dep = frame_departures(per, frames) if per else []
    spans: list[tuple[int, int]] = []
    k, t = 0, 0
    for lb, s in zip(lower_bounds, is_stage):
        if s:
            first_end = dep[0][k]
            spans.append((first_end - per[k], dep[-1][k]))
            t = dep[-1][k]
            k += 1
        else:
            spans.append((t, t))
    return spans, (dep[-1][-1] if dep else 0)
