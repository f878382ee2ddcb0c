"""The FPGA dataflow pipeline: every layer engine is a stage; frames stream through all stages at once,
and within a frame rows stream from engine to engine (``stream_schedule``; used by both engines).

Closed form (deterministic stage times s_1..s_K, unbounded inter-stage FIFOs): frame f leaves stage k at
D(f, k) = max(D(f, k-1), D(f-1, k)) + s_k, so the last of F frames leaves after
``sum(s) + (F - 1) * max(s)``: the fill (one frame through every stage) plus one initiation interval,
the slowest stage, per further frame. The event engine simulates the same pipeline with simpy
(``hwsim.sim.event``), where stages that move data off chip also contend for the shared DRAM bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hwsim.ir import OpGraph


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


# --- row streaming (FINN engines start on the first rows of a frame) ---------------------------------
@dataclass(frozen=True)
class StreamStage:
    """One engine of a dataflow design as the row-level pipeline sees it.

    ``row_cycles``: cycles of each output row of one frame (they sum to the stage's per-frame cycles).
    ``inputs``: (producer stage index, or -1 for the graph input; rows that producer emits per frame,
    the window rows ``need`` an output row's first row requires, the ``stride`` in input rows per output
    row). A window op (conv, pool) needs input rows up to ``row * stride + need``; a whole-input op
    (linear, global pooling) has ``need`` equal to the producer's rows."""

    index: int
    row_cycles: tuple[int, ...]
    inputs: tuple[tuple[int, int, int, int], ...]  # (producer, producer rows, need, stride)

    @property
    def rows(self) -> int:
        return len(self.row_cycles)


def needed_row(r: int, producer_rows: int, need: int, stride: int) -> int:
    """Index (0-based) of the last producer row output row ``r`` needs."""
    return max(0, min(producer_rows, r * stride + need) - 1)


def stream_schedule(stages: Sequence[StreamStage], frames: int = 1) -> list[list[list[int]]]:
    """done[k][f][r]: when stage k finishes row r of frame f, by the exact recursion
    done = max(previous row of this stage, the input rows it needs) + row cycles (stages in topological
    order, unbounded FIFOs, no contention). The event engine simulates the same rows with a shared bus."""
    done: list[list[list[int]]] = []
    for st in stages:
        per_frame: list[list[int]] = []
        prev = 0
        for f in range(frames):
            rows: list[int] = []
            for r, c in enumerate(st.row_cycles):
                ready = prev
                for p, p_rows, need, stride in st.inputs:
                    if p >= 0:
                        ready = max(ready, done[p][f][needed_row(r, p_rows, need, stride)])
                prev = ready + c
                rows.append(prev)
            per_frame.append(rows)
        done.append(per_frame)
    return done


WINDOW_OPS = ("conv2d", "maxpool", "avgpool")
ROWWISE_GROUPS = ("activation", "norm", "elementwise", "data")


def _rows(shape: Sequence[int]) -> int:
    return int(shape[2]) if len(shape) == 4 else 1


def split_rows(total: int, rows: int) -> tuple[int, ...]:
    q, r = divmod(int(total), max(rows, 1))
    return tuple(q + (1 if i < r else 0) for i in range(max(rows, 1)))


def stream_stages(graph: "OpGraph", nodes: Sequence[str], is_stage: Sequence[bool],
                  frame_cycles: Sequence[int]) -> tuple[list[StreamStage], list[int]]:
    """Row-level stages of a dataflow design: for each stage, its rows (output height of an NCHW map,
    else 1), per-row cycles (``frame_cycles`` per frame split evenly over the rows) and which producer
    rows each output row waits for. Returns the stages and, per op, its stage index (-1: not a stage)."""
    stage_of: dict[str, int] = {}
    stages: list[StreamStage] = []
    index: list[int] = []

    def source_stage(tensor: str) -> int:
        """The stage that produces ``tensor``, looking through fused and view ops; -1 for graph inputs."""
        node = graph.producer(tensor)
        while node is not None and node.name not in stage_of:
            if not node.inputs:
                return -1
            node = graph.producer(node.inputs[0])
        return -1 if node is None else stage_of[node.name]

    for name, stage, cycles in zip(nodes, is_stage, frame_cycles):
        if not stage:
            index.append(-1)
            continue
        node = graph.node(name)
        out_shape = graph.tensor(node.outputs[0]).shape
        rows = _rows(out_shape)
        inputs: list[tuple[int, int, int, int]] = []
        for t in node.inputs:
            p = source_stage(t)
            if p < 0:
                continue
            p_rows = stages[p].rows
            in_shape = graph.tensor(t).shape
            same_map = len(in_shape) == 4 and _rows(in_shape) == p_rows
            if node.op in WINDOW_OPS and same_map:
                kh = int(node.attrs["kernel"][0])
                sh = int(node.attrs.get("stride", [1])[0])
                pad = int(node.attrs.get("padding", [0])[0])
                need, stride = max(1, kh - pad), sh
            elif node.opdef.group.value in ROWWISE_GROUPS and same_map and rows > 0:
                stride = max(1, p_rows // rows)
                need = stride
            else:  # whole-input ops: linear, matmul, global pooling, reshapes across rows
                need, stride = p_rows, 0
            inputs.append((p, p_rows, need, stride))
        stage_of[name] = len(stages)
        index.append(len(stages))
        stages.append(StreamStage(len(stages), split_rows(cycles, rows), tuple(inputs)))
    return stages, index


def streamed_spans(graph: "OpGraph", nodes: Sequence[str], is_stage: Sequence[bool], frame_cycles: Sequence[int],
                   frames: int) -> tuple[list[tuple[int, int]], int]:
    """(start, end) per op and the total of a dataflow design, rows streaming between engines."""
    stages, index = stream_stages(graph, nodes, is_stage, frame_cycles)
    done = stream_schedule(stages, frames)
    spans: list[tuple[int, int]] = []
    t = 0
    for k in index:
        if k < 0:
            spans.append((t, t))
            continue
        st = stages[k]
        start = done[k][0][0] - st.row_cycles[0]
        t = done[k][-1][-1]
        spans.append((start, t))
    total = max((done[k][-1][-1] for k in range(len(stages))), default=0)
    return spans, total
