"""Compare methods: one row per (method, device), the best value of each column, the baseline as reference.

``COLUMNS`` is the one list of what a comparison shows, with units and which direction is better; the
HTML table, the JSON and the DataFrame all come from it, so they always agree. Bests are marked per
device (a latency on an FPGA does not compete with one on a CPU), among rows whose figures exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hwsim.analysis.metrics import MethodMetrics, MethodRun, method_metrics
from hwsim.analysis.ranking import RankingPolicy, accuracy_front, classify

Better = Literal["min", "max"] | None


@dataclass(frozen=True)
class Column:
    """One compared figure: the MethodMetrics field, a header, its unit kind and which way is better."""

    key: str
    label: str
    unit: str  # bytes, count, s, inf/s, J, dB, ratio, text, bool, resource
    better: Better = None
    group: str = ""
    doc: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("method", "method", "text", group="method"),
    Column("device", "device", "text", group="method"),
    Column("model_size_bytes", "model size", "bytes", "min", "model", "stored weights in their real encoding"),
    Column("macs", "MACs dense", "count", "min", "model", "multiply-accumulates of conv/linear/matmul, every one "
           "counted (expected, with early exits)"),
    Column("macs_effective", "MACs effective", "count", "min", "model", "MACs left with zero weights and zero "
           "activations skipped: dense x weight density x activation density (Han et al. 2015; docs/sparsity.md)"),
    Column("macs_worst", "MACs worst", "count", "min", "model", "MACs when no input leaves at an early exit"),
    Column("other_ops", "other ops", "count", "min", "model", "other arithmetic (adds, compares, xnor, ...)"),
    Column("latency_s", "latency", "s", "min", "speed", "one inference (expected over the exit probabilities, "
           "with early exits)"),
    Column("latency_worst_s", "latency worst", "s", "min", "speed", "latency when no input leaves at an early exit"),
    Column("throughput_inf_per_s", "throughput", "inf/s", "max", "speed", "inferences per second"),
    Column("energy_j", "energy", "J", "min", "energy", "per inference, all components (expected, with early exits)"),
    Column("energy_worst_j", "energy worst", "J", "min", "energy", "energy when no input leaves at an early exit"),
    Column("energy_compute_j", "E compute", "J", "min", "energy"),
    Column("energy_onchip_j", "E on-chip", "J", "min", "energy"),
    Column("energy_dram_j", "E DRAM", "J", "min", "energy"),
    Column("energy_static_j", "E static", "J", "min", "energy"),
    Column("peak_memory_bytes", "peak mem.", "bytes", "min", "memory", "largest live activations"),
    Column("dram_bytes", "DRAM", "bytes", "min", "memory", "DRAM traffic of one run (with early exits: every branch "
           "run, the worst case)"),
    Column("fits_memory", "fits", "bool", None, "memory", "weights and activations fit the device memory"),
    Column("lut", "LUT", "resource", "min", "fpga"),
    Column("dsp", "DSP", "resource", "min", "fpga"),
    Column("bram18", "BRAM18", "resource", "min", "fpga"),
    Column("fits_resources", "fits", "bool", None, "fpga", "the design fits the FPGA part (LUT, DSP, BRAM)"),
    Column("task_top1", "accuracy", "ratio", "max", "accuracy", "top-1 on the labelled test split (--data), after "
           "retraining where the method needs it"),
    Column("task_drop_pts", "drop", "pts", "min", "accuracy", "fp32 top-1 minus this method's, percentage points"),
    Column("sqnr_db", "SQNR", "dB", "max", "fidelity", "output SQNR against fp32 (not task accuracy)"),
    Column("top1_agreement", "top-1 agree", "ratio", "max", "fidelity", "share of inputs whose top-1 class matches "
           "fp32 (shown over at least 100 inputs)"),
    Column("kernel_status", "kernels", "text", None, "fidelity", "compressed kernels against dense references"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
#: Columns that only mean something on FPGA devices.
FPGA_COLUMNS = ("lut", "dsp", "bram18", "fits_resources")


@dataclass(frozen=True)
class Comparison:
    """Rows grouped by device, with per-device bests and the baseline row of each device."""

    rows: tuple[MethodMetrics, ...]
    devices: tuple[str, ...]
    methods: tuple[str, ...]
    baseline: str | None
    best: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)  # device -> col -> methods
    policy: RankingPolicy = field(default_factory=RankingPolicy)  # which methods ``best`` may name

    def row(self, method: str, device: str) -> MethodMetrics | None:
        return next((r for r in self.rows if r.method == method and r.device == device), None)

    def for_device(self, device: str) -> list[MethodMetrics]:
        return [r for r in self.rows if r.device == device]

    def is_best(self, row: MethodMetrics, key: str) -> bool:
        return row.method in self.best.get(row.device, {}).get(key, ())

    def baseline_row(self, device: str) -> MethodMetrics | None:
        return self.row(self.baseline, device) if self.baseline else None

    def ratio_to_baseline(self, row: MethodMetrics, key: str) -> float | None:
        """``row[key] / baseline[key]`` on the same device, or None when either is unknown or zero."""
        base = self.baseline_row(row.device)
        if base is None:
            return None
        a, b = getattr(row, key), getattr(base, key)
        if not _numeric(a) or not _numeric(b) or b == 0:
            return None
        return float(a) / float(b)

    def columns(self, fpga: bool | None = None) -> list[Column]:
        """Columns to show; FPGA resource columns only when some row has them (or ``fpga`` says so)."""
        if fpga is None:
            fpga = any(r.lut is not None or r.dsp is not None for r in self.rows)
        return [c for c in COLUMNS if fpga or c.key not in FPGA_COLUMNS]


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def pick_baseline(methods: Sequence[str], requested: str | None = None) -> str | None:
    """The reference method: the one asked for, else one named 'baseline' / 'fp32', else the first."""
    if requested is not None:
        return requested if requested in methods else None
    for name in ("baseline", "fp32", "baseline-fp32"):
        if name in methods:
            return name
    return methods[0] if methods else None


def compare_rows(rows: Iterable[MethodMetrics], baseline: str | None = None,
                 policy: RankingPolicy | None = None) -> Comparison:
    """Build a Comparison from metric rows (order kept: methods in first-seen order, then devices).

    ``best`` names, per device and column, the best value among the methods ``policy`` lets findings rank
    (``hwsim.analysis.ranking.classify``: within the allowed accuracy drop, or exact by construction
    without data) and the baseline: a method outside that rule is never best, whatever its figure, in the
    report's stars, the JSON and the DataFrame alike. A column with fewer than two such values, or where
    they all tie, has no best; inf counts (an exact SQNR), NaN does not."""
    rows = tuple(rows)
    policy = policy if policy is not None else RankingPolicy()
    methods = tuple(dict.fromkeys(r.method for r in rows))
    devices = tuple(dict.fromkeys(r.device for r in rows))
    base = pick_baseline(methods, baseline)
    best: dict[str, dict[str, tuple[str, ...]]] = {}
    for dev in devices:
        dev_rows = [r for r in rows if r.device == dev and r.status == "ok"]
        allowed = {r.method for r in classify(dev_rows, base, policy).eligible} | {base}
        per_col: dict[str, tuple[str, ...]] = {}
        for col in COLUMNS:
            if col.better is None:
                continue
            vals = [(r.method, getattr(r, col.key)) for r in dev_rows
                    if r.method in allowed and _numeric(getattr(r, col.key))]
            if len(vals) < 2:
                continue
            target = (min if col.better == "min" else max)(v for _, v in vals)
            winners = tuple(m for m, v in vals if v == target)
            if len(winners) < len(vals):
                per_col[col.key] = winners
        best[dev] = per_col
    return Comparison(rows, devices, methods, base, best, policy)


def compare(method_runs: Sequence[MethodRun], baseline: str | None = None,
            policy: RankingPolicy | None = None) -> Comparison:
    """The comparison of pipeline records: one row per method and device the method was run on."""
    rows = [method_metrics(mr, dr) for mr in method_runs for dr in mr.runs]
    return compare_rows(rows, baseline, policy)


def to_records(comparison: Comparison) -> list[dict[str, Any]]:
    """Rows as plain dicts, with ``*_vs_baseline`` ratios for latency, energy and size, and
    ``accuracy_front``: on its device's Pareto front of real top-1, latency, energy and size (None
    without measured accuracy; ``hwsim.analysis.ranking.accuracy_front``)."""
    fronts = {dev: accuracy_front(comparison.for_device(dev)) for dev in comparison.devices}
    out = []
    for r in comparison.rows:
        d = r.as_dict()
        front = fronts.get(r.device)
        d["accuracy_front"] = None if front is None else r.method in front
        for key in ("model_size_bytes", "latency_s", "energy_j", "dram_bytes", "latency_worst_s", "energy_worst_j"):
            d[f"{key}_vs_baseline"] = comparison.ratio_to_baseline(r, key)
        d["is_baseline"] = r.method == comparison.baseline
        d["best"] = sorted(k for k, ms in comparison.best.get(r.device, {}).items() if r.method in ms)
        out.append(d)
    return out


def to_dataframe(source: Any, baseline: str | None = None):  # -> pandas.DataFrame
    """A pandas DataFrame with one row per (method, device): from a Comparison, MethodRuns, metric rows,
    or anything with a ``comparison`` attribute (a pipeline result)."""
    import pandas as pd

    if hasattr(source, "comparison"):
        source = source.comparison
    if not isinstance(source, Comparison):
        items = list(source)
        if items and isinstance(items[0], MethodRun):
            source = compare(items, baseline)
        else:
            source = compare_rows(items, baseline)
    df = pd.DataFrame(to_records(source))
    if not df.empty:
        df["notes"] = df["notes"].map(lambda n: "; ".join(n))
        df["best"] = df["best"].map(lambda b: ",".join(b))
    return df


# --------------------------------------------------------------------------------------------------
# Per layer


@dataclass(frozen=True)
class LayerRow:
    """One layer of the original model under the baseline and under a compressed method on one device.

    A compressed graph may split a layer (factorization) or add nodes; its nodes are attributed to the
    original layer whose name they extend (``conv1`` <- ``conv1.u``, ``conv1_dw``), else listed alone."""

    layer: str
    op: str
    base_s: float | None
    focus_s: float | None
    base_macs: int | None
    focus_macs: int | None
    base_weight_bytes: int | None
    focus_weight_bytes: int | None
    base_dram_bytes: int | None
    focus_dram_bytes: int | None
    base_bound: str
    focus_bound: str
    focus_nodes: tuple[str, ...]

    @property
    def speedup(self) -> float | None:
        if self.base_s and self.focus_s:
            return self.base_s / self.focus_s
        return None


_SEPARATORS = (".", "_", "/", ":", "-")


def origin_layer(node: str, originals: Sequence[str]) -> str:
    """The original layer a compressed node belongs to: itself, else the longest name it extends."""
    if node in originals:
        return node
    best = ""
    for name in originals:
        if len(name) > len(best) and node.startswith(name) and node[len(name):len(name) + 1] in _SEPARATORS:
            best = name
    return best or node


def layer_rows(base: MethodRun, focus: MethodRun, device: str) -> list[LayerRow]:
    """Per-layer comparison of ``focus`` against ``base`` on ``device`` in the baseline's layer order."""
    b_run, f_run = base.run_on(device), focus.run_on(device)
    if b_run is None or b_run.run is None:
        return []
    originals = [op.node for op in b_run.run.ops]
    agg: dict[str, dict[str, Any]] = {}
    for op in b_run.run.ops:
        agg[op.node] = {"op": op.op, "base_s": op.cycles / b_run.run.clock_hz, "base_bound": op.bound,
                        "base_dram": int(op.transfer_bytes.get("dram", 0)), "focus_s": None, "focus_dram": None,
                        "focus_bound": [], "nodes": []}
    extra_order: list[str] = []
    if f_run is not None and f_run.run is not None:
        for op in f_run.run.ops:
            layer = origin_layer(op.node, originals)
            if layer not in agg:
                agg[layer] = {"op": op.op, "base_s": None, "base_bound": "", "base_dram": None, "focus_s": None,
                              "focus_dram": None, "focus_bound": [], "nodes": []}
                extra_order.append(layer)
            a = agg[layer]
            a["focus_s"] = (a["focus_s"] or 0.0) + op.cycles / f_run.run.clock_hz
            a["focus_dram"] = (a["focus_dram"] or 0) + int(op.transfer_bytes.get("dram", 0))
            a["focus_bound"].append(op.bound)
            a["nodes"].append(op.node)
    bs, fs = base.summary, focus.summary

    def _sum(summary, mapping: str, nodes: Sequence[str]) -> int | None:
        if summary is None:
            return None
        table = getattr(summary, mapping)
        vals = [table[n] for n in nodes if n in table]
        return int(sum(vals)) if vals else None

    out = []
    for layer in [*originals, *extra_order]:
        a = agg[layer]
        nodes = tuple(a["nodes"])
        bounds = a["focus_bound"]
        out.append(LayerRow(
            layer=layer, op=a["op"], base_s=a["base_s"], focus_s=a["focus_s"],
            base_macs=_sum(bs, "layer_macs", [layer]), focus_macs=_sum(fs, "layer_macs", nodes),
            base_weight_bytes=_sum(bs, "layer_weight_bytes", [layer]),
            focus_weight_bytes=_sum(fs, "layer_weight_bytes", nodes),
            base_dram_bytes=a["base_dram"], focus_dram_bytes=a["focus_dram"],
            base_bound=a["base_bound"], focus_bound=max(set(bounds), key=bounds.count) if bounds else "",
            focus_nodes=nodes,
        ))
    return out


@dataclass(frozen=True)
class LayerPoint:
    """A layer on the roofline: ops, DRAM bytes and seconds on one device."""

    layer: str
    method: str
    ops: int
    dram_bytes: int
    seconds: float

    @property
    def intensity_ops_per_byte(self) -> float | None:
        return self.ops / self.dram_bytes if self.dram_bytes > 0 else None

    @property
    def perf_ops_per_s(self) -> float | None:
        return self.ops / self.seconds if self.seconds > 0 else None


def layer_points(mr: MethodRun, device: str) -> list[LayerPoint]:
    """Every node with arithmetic and DRAM traffic of ``mr`` on ``device``, for a roofline."""
    dr = mr.run_on(device)
    if dr is None or dr.run is None or mr.summary is None:
        return []
    out = []
    for op in dr.run.ops:
        ops = mr.summary.layer_ops.get(op.node, 0)
        dram = int(op.transfer_bytes.get("dram", 0))
        secs = op.cycles / dr.run.clock_hz
        if ops > 0 and secs > 0:  # dram == 0: on-chip only, infinite intensity (drawn at the edge)
            out.append(LayerPoint(op.node, mr.method, ops, dram, secs))
    return out
