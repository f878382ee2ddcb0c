"""What-if sweeps over device profile keys: value specs, point sampling, parallel evaluation, caching.

A sweep varies dotted profile keys (the ones ``--set`` accepts) over lists (``a,b,c``), linear ranges
(``lo:hi:step``) and log ranges (``log:lo:hi:n``), with units (``4GB/s,8GB/s`` or ``100:300:50 MHz``).
Values stay strings with their unit, so the device loader parses them exactly as it parses a file;
the number beside each is what plots put on their axis.

Points are the grid of all values or a seeded random sample of it. Each (method, point) runs the
analytic engine on the method's compressed graph (compressed once, reused at every point). Points
run in chunks on Dask (a LocalCluster by default, a given scheduler address otherwise) or serially;
results are identical either way, in point order. Every finished chunk goes to the cache at once.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwsim.analysis.cache import ResultCache, digest, result_key
from hwsim.analysis.metrics import ENERGY_PARTS, jsonable
from hwsim.analysis.pareto import pareto_front
from hwsim.errors import HwsimError, UsageError
from hwsim.units import dimension_of, unit_scale

_NUM_UNIT = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
#: Where a local sweep's Dask scheduler serves HTTP: a free port on localhost, never the dashboard's 8787
LOCAL_HTTP_ADDRESS = "127.0.0.1:0"
#: Most points one sweep may have (a guard against a typo such as a step of 1e-9).
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class VarySpec:
    """One varied key: its values as the loader reads them, and as numbers for plots (None: not numeric)."""

    key: str
    values: tuple[str, ...]
    numbers: tuple[float | None, ...]
    unit: str = ""
    log: bool = False

    @property
    def numeric(self) -> bool:
        return all(n is not None for n in self.numbers)

    @property
    def label(self) -> str:
        return f"{self.key} ({self.unit})" if self.unit else self.key


def _split_number(text: str, where: str) -> tuple[float, str]:
    m = _NUM_UNIT.match(text)
    if not m:
        raise UsageError(f"cannot read {text!r} as a number (with an optional unit)", where=where)
    number = float(m.group(1))
    if not math.isfinite(number):
        raise UsageError(f"{text!r} is not a finite number", where=where)
    return number, m.group(2)


def _in_one_unit(parsed: Sequence[tuple[float, str]], where: str) -> tuple[list[float], str]:
    """The numbers of a range's bounds (and step) in one unit, and that unit.

    One unit everywhere, or written once (``100:300:50MHz``: bounds without a unit take it); or mixed
    prefixes of one quantity (``1GHz:2GHz:250MHz``), converted to the first bound's unit. Bare numbers
    beside different units are ambiguous and refused.
    """
    named = [u for _, u in parsed if u]
    if len(set(named)) <= 1:
        return [n for n, _ in parsed], (named[0] if named else "")
    if len(named) < len(parsed):
        raise UsageError(f"give every bound its unit when the units differ ({', '.join(dict.fromkeys(named))})",
                         where=where)
    dims = {u: dimension_of(u) for u in named}
    known = {d for d in dims.values() if d is not None}
    if None in dims.values() or len(known) != 1:
        raise UsageError(f"a range must use units of one quantity, got {', '.join(dict.fromkeys(named))}",
                         where=where)
    (dim,) = known
    unit = named[0]
    base = unit_scale(unit, dim)
    return [n * unit_scale(u, dim) / base for n, u in parsed], unit


def _fmt(v: float, integer: bool, unit: str) -> str:
    text = str(int(round(v))) if integer else f"{v:.6g}"
    return f"{text} {unit}" if unit else text


def _canonical(text: str) -> str:
    """One spelling per quantity ("8GB/s" and "8 GB/s" -> "8 GB/s"), so cache keys and plots agree
    however a value was typed; text that is not a number with a unit is kept as written."""
    m = _NUM_UNIT.match(text)
    if not m:
        return text
    number = m.group(1)
    return f"{number} {m.group(2)}" if m.group(2) else number


def parse_vary(item: str) -> VarySpec:
    """``KEY=VALUES`` -> VarySpec. Raises UsageError (exit 2) on a malformed item or an empty range."""
    key, sep, spec = item.partition("=")
    key, spec = key.strip(), spec.strip()
    where = f"--vary {item}"
    if not sep or not key:
        raise UsageError("expected KEY=VALUES (a,b,c | lo:hi:step | log:lo:hi:n)", where=where)
    if not spec:
        raise UsageError("no values given", where=where)
    if spec.startswith("log:"):
        parts = spec[4:].split(":")
        if len(parts) != 3:
            raise UsageError("a log range is log:lo:hi:n", where=where)
        n_f, u3 = _split_number(parts[2], where)
        if u3 or n_f != int(n_f):
            raise UsageError(f"the number of log points must be a whole number, got {parts[2]!r}", where=where)
        n = int(n_f)
        if n < 1:
            raise UsageError(f"empty range: {n} points", where=where)
        if n > MAX_POINTS:  # before building anything
            raise UsageError(f"the range has {n:,} values (at most {MAX_POINTS:,})", where=where)
        (lo, hi), unit = _in_one_unit([_split_number(p, where) for p in parts[:2]], where)
        if lo <= 0 or hi <= 0:
            raise UsageError("a log range needs lo > 0 and hi > 0", where=where)
        if hi < lo:
            raise UsageError(f"empty range: hi {parts[1]!r} is below lo {parts[0]!r}", where=where)
        nums = [lo] if n == 1 else list(np.geomspace(lo, hi, n))
        # unitless bounds written as whole numbers ask for whole values (counts: LUTs, rows); duplicates collapse
        integer = not unit and all(re.fullmatch(r"[-+]?\d+", _NUM_UNIT.match(p).group(1)) for p in parts[:2])
        values = tuple(dict.fromkeys(_fmt(v, integer, unit) for v in nums))
        return VarySpec(key, values, tuple(_split_number(v, where)[0] for v in values), unit, log=True)
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise UsageError("a range is lo:hi:step (or log:lo:hi:n)", where=where)
        (lo, hi, step), unit = _in_one_unit([_split_number(p, where) for p in parts], where)
        if step <= 0:
            raise UsageError(f"the step must be positive, got {parts[2]!r}", where=where)
        if hi < lo:
            raise UsageError(f"empty range: hi {parts[1]!r} is below lo {parts[0]!r}", where=where)
        span = (hi - lo) / step
        if not math.isfinite(span) or span + 1 > MAX_POINTS:  # before building anything
            raise UsageError(f"the range has {span + 1:.3g} values (at most {MAX_POINTS:,})", where=where)
        count = int(math.floor(span + 1e-9)) + 1
        nums = [lo + i * step for i in range(count)]
        integer = all(x == int(x) for x in (lo, hi, step))
        values = tuple(_fmt(v, integer, unit) for v in nums)
        return VarySpec(key, values, tuple(_split_number(v, where)[0] for v in values), unit)
    raw = [v.strip() for v in spec.split(",")]
    if any(not v for v in raw):
        raise UsageError("an empty value in the list", where=where)
    values = tuple(dict.fromkeys(_canonical(v) for v in raw))
    parsed = [_NUM_UNIT.match(v) for v in values]
    if all(parsed):
        pairs = [_split_number(v, where) for v in values]
        named = {u for _, u in pairs if u}
        if len(named) <= 1 or (all(u for _, u in pairs) and len({dimension_of(u) for u in named} - {None}) == 1
                               and None not in {dimension_of(u) for u in named}):
            nums, unit = _in_one_unit(pairs, where)  # mixed prefixes of one quantity share the first unit
            return VarySpec(key, values, tuple(nums), unit if all(u for _, u in pairs) else "")
    # words (ws, os), or units of different quantities: labels, not one axis
    return VarySpec(key, values, tuple(None for _ in values), "")


def check_keys(specs: Sequence[VarySpec]) -> None:
    keys = [s.key for s in specs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise UsageError(f"key varied twice: {', '.join(sorted(dup))}", where="--vary")
    if not specs:
        raise UsageError("nothing to vary: give at least one --vary KEY=VALUES", where="--vary")


def validate_against(raw: Mapping[str, Any], specs: Sequence[VarySpec], build: Callable[..., Any],
                     fixed: Mapping[str, str] | None = None) -> None:
    """Build the base profile with every single value of every key, so an unknown key or an impossible
    value is one clear message before any work (``build`` is ``hwsim.hardware.apply_overrides``)."""
    for s in specs:
        for v in s.values:
            try:
                build(raw, {**(fixed or {}), s.key: v})
            except HwsimError as e:
                raise UsageError(f"{e}", where=f"--vary {s.key}") from None


@dataclass(frozen=True)
class Point:
    index: int
    overrides: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.overrides)


def grid_size(specs: Sequence[VarySpec]) -> int:
    return math.prod(len(s.values) for s in specs)


def make_points(specs: Sequence[VarySpec], samples: int | None = None, seed: int = 0) -> list[Point]:
    """The full grid, or ``samples`` distinct grid points drawn with ``seed`` (kept in grid order)."""
    total = grid_size(specs)
    if total > MAX_POINTS and samples is None:
        raise UsageError(f"the grid has {total:,} points (at most {MAX_POINTS:,}); use --samples N", where="--vary")
    if samples is not None:
        if samples < 1:
            raise UsageError("--samples must be at least 1", where="--samples")
        rng = np.random.default_rng(seed)
        if samples >= total:
            chosen = range(total)
        else:
            chosen = sorted(int(i) for i in rng.choice(total, size=samples, replace=False))
    else:
        chosen = range(total)
    sizes = [len(s.values) for s in specs]
    out = []
    for n, flat in enumerate(chosen):
        idx = np.unravel_index(flat, sizes) if sizes else ()
        out.append(Point(n, tuple((s.key, s.values[int(i)]) for s, i in zip(specs, idx))))
    return out


# --------------------------------------------------------------------------------------------------
# Evaluation of one point (runs in workers: top-level functions, plain data in and out)

#: Figures recorded per (method, point), in column order.
METRICS = ("latency_s", "throughput_inf_per_s", "energy_j", *(f"energy_{p}_j" for p in ENERGY_PARTS),
           "dram_bytes", "peak_memory_bytes", "weight_bytes", "fits_memory", "lut", "dsp", "bram18",
           "fits_resources")


def run_metrics(run: Any, batch: int) -> dict[str, Any]:
    """The sweep's figures from one RunResult, per inference."""
    lat = run.seconds
    res = dict(run.resources)
    out = {"latency_s": lat, "throughput_inf_per_s": batch / lat if lat else None,
           "energy_j": run.energy_total_pj * 1e-12 / batch}
    for p in ENERGY_PARTS:
        out[f"energy_{p}_j"] = float(run.energy_pj[p]) * 1e-12 / batch if p in run.energy_pj else None
    out.update(dram_bytes=int(run.transfer_bytes["dram"]) if "dram" in run.transfer_bytes else None,
               peak_memory_bytes=run.peak_activation_bytes, weight_bytes=run.weight_bytes,
               fits_memory=run.fits_memory, lut=res.get("lut"), dsp=res.get("dsp"), bram18=res.get("bram18"),
               fits_resources=run.fits_resources)
    return out


def evaluate_chunk(graph: Any, method: str, device_name: str, source: str, raw: Mapping[str, Any],
                   fixed: Mapping[str, str], points: Sequence[tuple[int, tuple[tuple[str, str], ...]]],
                   engine: str, batch: int) -> list[dict[str, Any]]:
    """Simulate ``graph`` at each point; bad-input failures become rows with status "error"."""
    from hwsim.hardware import apply_overrides
    from hwsim.sim.engines import simulate

    rows = []
    for index, overrides in points:
        row: dict[str, Any] = {"point": index, "method": method}
        try:
            dev = apply_overrides(raw, {**fixed, **dict(overrides)}, name=device_name, source=source)
            run = simulate(graph, dev, engine, method)
        except HwsimError as e:
            row.update({m: None for m in METRICS}, status="error", message=str(e))
        else:
            row.update(run_metrics(run, batch), status="ok", message="")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# The sweep


#: Evaluates one chunk of points for one method: (payload, method, device name, device source, raw
#: profile, fixed overrides, [(index, overrides)], engine, batch) -> one row per point. A top-level,
#: picklable function (it runs in Dask workers).
Evaluator = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class SweepTask:
    """Everything the evaluation needs, in plain picklable data. By default a point is one simulation of
    the method's compressed graph (``evaluate_chunk``, ``METRICS``); another ``evaluator`` with its own
    ``metrics`` evaluates other payloads (a decoder LLM's generation: ``hwsim.analysis.llm_sweep``)."""

    model_digest: str
    device_name: str
    device_source: str
    raw: Mapping[str, Any]
    fixed: Mapping[str, str]
    engine: str
    batch: int
    graphs: Mapping[str, Any]  # method name -> compressed OpGraph (or the evaluator's payload)
    method_defs: Mapping[str, Any]  # method name -> its definition (for the cache key)
    unavailable: Mapping[str, str] = field(default_factory=dict)  # method -> why it has no graph
    evaluator: Evaluator | None = None  # None: evaluate_chunk
    metrics: tuple[str, ...] = METRICS


@dataclass(frozen=True)
class SweepResult:
    specs: tuple[VarySpec, ...]
    points: tuple[Point, ...]
    rows: tuple[dict[str, Any], ...]  # one per (point, method), point order then method order
    computed: int
    cached: int
    seconds: float
    scheduler: str
    metrics: tuple[str, ...] = METRICS

    def dataframe(self):
        import pandas as pd

        recs = []
        by_index = {p.index: p for p in self.points}
        for r in self.rows:
            rec = {"point": r["point"], "method": r["method"]}
            for k, v in by_index[r["point"]].overrides:
                rec[k] = v
            for s in self.specs:
                if s.numeric:
                    rec[f"{s.key} [{s.unit or 'value'}]"] = s.numbers[s.values.index(dict(by_index[r['point']].overrides)[s.key])]
            for m in self.metrics:
                rec[m] = r.get(m)
            rec["status"] = r.get("status")
            rec["message"] = r.get("message")
            recs.append(rec)
        df = pd.DataFrame(recs)
        for col in ("fits_memory", "fits_resources"):
            if col in df:
                df[col] = df[col].astype("boolean")
        for col in ("lut", "dsp", "bram18", "dram_bytes", "peak_memory_bytes", "weight_bytes"):
            if col in df:
                df[col] = df[col].astype("Int64")
        return df


def _chunks(seq: Sequence[Any], n: int) -> list[Sequence[Any]]:
    size = max(1, math.ceil(len(seq) / max(1, n)))
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def point_key(task: SweepTask, method: str, point: Point) -> str:
    profile = {"base": digest(jsonable(task.raw)), "set": sorted({**task.fixed, **point.as_dict()}.items())}
    return result_key(task.model_digest, task.method_defs.get(method, method), profile, task.engine)


def run_sweep(task: SweepTask, specs: Sequence[VarySpec], points: Sequence[Point], cache: ResultCache,
              scheduler: str | None = "local", workers: int | None = None,
              progress: Callable[[int], None] | None = None) -> SweepResult:
    """Evaluate every (method, point) not in ``cache``; ``scheduler`` is "local" (a Dask LocalCluster on
    this machine's cores), "serial" (in process, no Dask) or a Dask scheduler address."""
    import time

    t0 = time.perf_counter()
    methods = list(task.graphs) + [m for m in task.unavailable if m not in task.graphs]
    todo: dict[str, list[Point]] = {m: [] for m in task.graphs}
    keys: dict[tuple[str, int], str] = {}
    cached = 0
    for m in task.graphs:
        for p in points:
            k = point_key(task, m, p)
            keys[(m, p.index)] = k
            if k in cache:
                cached += 1
                if progress:
                    progress(1)
            else:
                todo[m].append(p)
    jobs = []
    n_workers = workers or os.cpu_count() or 1
    for m, pts in todo.items():
        if not pts:
            continue
        # serial: one point per chunk, so each point reaches the cache as it finishes (a kill loses one)
        for chunk in _chunks(pts, 4 * n_workers if scheduler != "serial" else len(pts)):
            jobs.append((m, [(p.index, p.overrides) for p in chunk]))
    computed = sum(len(c) for _, c in jobs)

    def store(m: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            cache.put(keys[(m, row["point"])], jsonable(row))
        if progress:
            progress(len(rows))

    if jobs:
        evaluate = task.evaluator or evaluate_chunk
        if scheduler == "serial":
            for m, chunk in jobs:
                store(m, evaluate(task.graphs[m], m, task.device_name, task.device_source, task.raw,
                                  task.fixed, chunk, task.engine, task.batch))
        else:
            _run_dask(task, jobs, scheduler, n_workers, store)
    cache.sync()
    rows = []
    for p in points:
        for m in methods:
            if m in task.unavailable:
                rows.append({"point": p.index, "method": m, **{x: None for x in task.metrics},
                             "status": "unavailable", "message": task.unavailable[m]})
                continue
            row = dict(cache.get(keys[(m, p.index)]) or {})
            row["point"] = p.index  # the cached row may come from another sweep's numbering
            rows.append(row)
    label = "serial" if scheduler == "serial" else ("dask local" if scheduler in (None, "local") else
                                                     f"dask {scheduler}")
    return SweepResult(tuple(specs), tuple(points), tuple(rows), computed, cached, time.perf_counter() - t0, label,
                       task.metrics)


def _run_dask(task: SweepTask, jobs: list[tuple[str, list[Any]]], scheduler: str | None, n_workers: int,
              store: Callable[[str, list[dict[str, Any]]], None]) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler in (None, "local"):
            # no dashboard, and the scheduler's HTTP endpoint on a free localhost port: dashboard_address=None
            # still binds 8787 on every interface
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=LOCAL_HTTP_ADDRESS, scheduler_kwargs={"dashboard": False},
                                   silence_logs=50)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as e:
                raise UsageError(f"cannot reach the Dask scheduler: {e}", where=f"--scheduler {scheduler}") from None
        with client:
            graphs = {m: client.scatter(g, broadcast=True) for m, g in task.graphs.items()}
            raw = client.scatter(dict(task.raw), broadcast=True)
            futures = {}
            for m, chunk in jobs:
                f = client.submit(task.evaluator or evaluate_chunk, graphs[m], m, task.device_name, task.device_source, raw,
                                  dict(task.fixed), chunk, task.engine, task.batch, pure=False)
                futures[f] = m
            for f in as_completed(futures):
                store(futures[f], f.result())
    finally:
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------------
# Summaries of a finished sweep


def cheapest_meeting(result: SweepResult, metric: str, target: float) -> list[dict[str, Any]]:
    """Per method, the cheapest point whose ``metric`` <= ``target``.

    hwsim has no price model, so "cheapest" is the smallest hardware: each varied numeric key's value
    ranked within its range (0 smallest, 1 largest), summed over keys; ties go to the lower metric."""
    ranks: dict[str, dict[str, float]] = {}
    for s in result.specs:
        order = sorted(range(len(s.values)), key=lambda i: (s.numbers[i] is None, s.numbers[i] or 0.0, i))
        denom = max(1, len(order) - 1)
        ranks[s.key] = {s.values[i]: pos / denom for pos, i in enumerate(order)}
    by_index = {p.index: p for p in result.points}
    best: dict[str, tuple[float, float, dict[str, Any]]] = {}
    for r in result.rows:
        v = r.get(metric)
        if r.get("status") != "ok" or v is None or v > target:
            continue
        if r.get("fits_resources") is False or r.get("fits_memory") is False:
            continue
        p = by_index[r["point"]]
        cost = sum(ranks[k][val] for k, val in p.overrides)
        cand = (cost, v, {"method": r["method"], "point": r["point"], "overrides": dict(p.overrides),
                          metric: v, "size_rank": cost})
        if r["method"] not in best or cand[:2] < best[r["method"]][:2]:
            best[r["method"]] = cand
    return [best[m][2] for m in sorted(best)]


def sweep_front(result: SweepResult, x: str = "latency_s", y: str = "energy_j") -> list[int]:
    """Row indices (into ``result.rows``) on the Pareto front of two metrics, both minimized."""
    pts = [r if r.get("status") == "ok" else {} for r in result.rows]
    return pareto_front(pts, [(x, "min"), (y, "min")])
