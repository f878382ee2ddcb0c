"""Measure the machine hwsim runs on and write it as a ``kind: cpu`` device profile (by default the user's
``~/.config/hwsim/devices/host.yaml``).

What is measured, and how it becomes profile numbers (every number in the YAML says which):

* **GEMM** with NumPy at fp32 and fp64 (BLAS, all threads) at several sizes; fp32 also on one BLAS
  thread. The best per-core rate at each dtype (one-thread rate, or the
  all-thread rate / cores), divided by the clock, is ``macs_per_cycle_per_core``: an attainable peak
  (what a tuned library reaches), not the datasheet's. For fp32, the rate conv layers get matters more
  than square GEMMs: the median one-thread rate over the im2col GEMM shapes of ResNet-18's conv stages
  (``CONV_SHAPES``) is the profile's fp32 rate (its ratio to the best square GEMM is written beside
  it: the measured efficiency of conv-shaped GEMMs). The whole curve is kept in
  the file's ``calibration`` comment block so the efficiency at small sizes can be read.
* **int8 GEMM** with int32 accumulation, timed for real in an inference engine's kernels: ONNX Runtime's
  ``MatMulInteger`` (uint8 activations x int8 weights, ``hwsim.frontends.gemm_probe``) on one thread over
  the same conv shapes, median; the same engine's fp32 ``MatMul`` on those shapes is timed beside it and
  the ratio written as a comment. Without onnxruntime the int8 rate is marked unavailable (the cost
  model then runs int8 at the fp32 rate, with a note), never extrapolated. NumPy's own int8 ``matmul``
  is not used: it is a plain loop with no SIMD kernel (a profile built on it predicted int8 ResNet-18
  42x slower than fp32). fp16 is likewise left unmeasured (NumPy emulates half precision in software).
* **Vector ops** (add, mul, max, div, sqrt, exp, copy) on L2-resident float32 arrays, one thread:
  elements per cycle per core (``vector_ops_per_cycle_per_core``).
* **XNOR + popcount** on 64-bit words (``np.bitwise_xor`` + ``np.bitwise_count``): cycles per word.
* **Memory copies** (``np.copyto``) at sizes that fit each cache level and far beyond the last one:
  bytes read + written per second. Private levels (per-core L1/L2) are measured on one core and
  multiplied by the cores, the shared last level and DRAM on one core (a lower bound on a busy box).
* **Dispatch overhead**: the median time of a tiny (8x8) BLAS matmul: ``op_overhead``.

Cache sizes and sharing come from ``/sys/devices/system/cpu/cpu0/cache``, the CPU model and clock from
``/proc/cpuinfo``, the memory size from ``/proc/meminfo``. What cannot be measured here (static power,
process node, latencies) is written as an explicit assumption, never as a measurement.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GEMM_SIZES = {"fp32": (64, 128, 256, 512, 1024), "fp64": (64, 128, 256, 512, 1024)}
QUICK_GEMM_SIZES = {"fp32": (32, 64), "fp64": (32, 64)}
#: dtype label of the fp32 GEMMs timed in ONNX Runtime (beside its int8 ones; not the NumPy fp32 rate)
ENGINE_FP32 = "fp32-onnxruntime"
#: im2col GEMM shapes (M = output pixels, K = window, N = filters) of ResNet-18's conv stages: the fp32
#: per-core rate is the median over these, one BLAS thread: what a conv layer, not a square GEMM, gets
CONV_SHAPES = ((12544, 147, 64), (3136, 576, 64), (784, 1152, 128), (196, 2304, 256), (49, 4608, 512))
QUICK_CONV_SHAPES = ((196, 288, 32), (49, 576, 64))


@dataclass(frozen=True)
class GemmPoint:
    dtype: str
    n: int
    seconds: float
    threads: int = 0  # BLAS threads used; 0 = all (the library's default)
    shape: tuple[int, int, int] | None = None  # (M, K, N) of a non-square GEMM

    @property
    def macs(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2] if self.shape else self.n**3

    @property
    def macs_per_s(self) -> float:
        return self.macs / self.seconds


@dataclass(frozen=True)
class CopyPoint:
    size_bytes: int
    seconds: float

    @property
    def bytes_per_s(self) -> float:
        return 2 * self.size_bytes / self.seconds  # read + write


@dataclass(frozen=True)
class CacheLevel:
    level: int
    size_bytes: int
    instances: int  # private copies (per core) or 1 (shared)


@dataclass(frozen=True)
class Calibration:
    """Everything measured on the host, with where each fact came from."""

    cpu_model: str
    clock_hz: float
    clock_source: str
    cores: int
    memory_bytes: int
    caches: tuple[CacheLevel, ...]
    gemm: tuple[GemmPoint, ...]
    copies: tuple[CopyPoint, ...]
    vector_elems_per_s: dict[str, float]
    popcount_words_per_s: float
    overhead_s: float
    date: str
    software: str
    notes: tuple[str, ...] = field(default=())

    def best_gemm(self, dtype: str) -> float:
        return max(p.macs_per_s for p in self.gemm if p.dtype == dtype)

    def conv_gemm_rate(self, dtype: str = "fp32") -> float | None:
        """Median one-thread MACs/s over the conv-shaped GEMMs of ``dtype`` (None if not measured)."""
        rates = [p.macs_per_s for p in self.gemm if p.dtype == dtype and p.shape is not None and p.threads == 1]
        return float(statistics.median(rates)) if rates else None

    def per_core_gemm(self, dtype: str) -> tuple[float, GemmPoint]:
        """MACs/s one core sustains: the best of the one-thread runs and of the all-thread runs / cores.
        On a shared machine the one-thread figure is the robust one: threads that wait on each other
        spin, and a loaded box turns that into a collapse the hardware does not have."""
        best: tuple[float, GemmPoint] | None = None
        for p in self.gemm:
            if p.dtype != dtype or p.shape is not None:
                continue
            rate = p.macs_per_s / (1 if p.threads == 1 else self.cores)
            if best is None or rate > best[0]:
                best = (rate, p)
        assert best is not None
        return best

    def copy_bandwidth(self, size_bytes: int) -> float:
        """Copy bandwidth measured with the buffer closest to ``size_bytes``."""
        if not self.copies:
            return 0.0
        return min(self.copies, key=lambda p: abs(p.size_bytes - size_bytes)).bytes_per_s

    def level_bandwidths(self) -> list[float]:
        """Per-instance bandwidth of each cache level, then DRAM, made non-increasing outwards: a
        NumPy call costs ~0.3 us, which hides an L1's speed behind its tiny buffers, and no inner level
        is slower than the one behind it."""
        raw = [self.copy_bandwidth(lv.size_bytes // 4) for lv in self.caches]
        raw.append(self.copy_bandwidth(max(p.size_bytes for p in self.copies)))
        out = list(raw)
        for i in range(len(out) - 2, -1, -1):
            out[i] = max(out[i], out[i + 1])
        return out


# --- facts about the machine ---------------------------------------------------------------------
def cpu_model(cpuinfo: str | None = None) -> str:
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    if m:
        return m.group(1).strip()
    m = re.search(r"^(?:Hardware|Processor|CPU part)\s*:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else (platform.processor() or platform.machine() or "unknown")


def cpu_clock(cpuinfo: str | None = None) -> tuple[float, str]:
    """(Hz, source): cpufreq's maximum if exposed, else /proc/cpuinfo's 'cpu MHz' (the TSC rate in VMs)."""
    freq = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").strip()
    if freq.isdigit():
        return int(freq) * 1e3, "cpufreq cpuinfo_max_freq"
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    mhz = [float(x) for x in re.findall(r"^cpu MHz\s*:\s*([0-9.]+)", text, re.M)]
    if mhz:
        return max(mhz) * 1e6, "/proc/cpuinfo cpu MHz"
    bogo = re.findall(r"^BogoMIPS\s*:\s*([0-9.]+)", text, re.M | re.I)
    if bogo:
        return float(bogo[0]) * 1e6 / 2, "BogoMIPS / 2 (no frequency exposed)"
    return 1e9, "unknown (1 GHz assumed)"


def caches(root: str = "/sys/devices/system/cpu/cpu0/cache") -> tuple[CacheLevel, ...]:
    """Data and unified caches of cpu0: size and how many cores share each (instances = cores / sharers)."""
    out: dict[int, CacheLevel] = {}
    ncpu = os.cpu_count() or 1
    for d in sorted(Path(root).glob("index*")):
        kind = _read(d / "type").strip()
        if kind not in ("Data", "Unified"):
            continue
        level = int(_read(d / "level").strip() or 0)
        size = _parse_size(_read(d / "size").strip())
        sharers = _count_cpus(_read(d / "shared_cpu_list").strip()) or 1
        if level and size:
            out[level] = CacheLevel(level, size, max(1, ncpu // sharers))
    return tuple(out[k] for k in sorted(out))


def memory_bytes() -> int:
    m = re.search(r"MemTotal:\s*(\d+)\s*kB", _read("/proc/meminfo"))
    return int(m.group(1)) * 1024 if m else 0


def _parse_size(s: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([KMG]?)", s)
    if not m:
        return 0
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[m.group(2)]


def _count_cpus(spec: str) -> int:
    n = 0
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            n += int(b) - int(a) + 1
        elif part.strip():
            n += 1
    return n


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


# --- timing ----------------------------------------------------------------------------------------
def best_time(fn: Callable[[], Any], min_time_s: float, repeats: int = 5, sample_s: float = 2e-3) -> float:
    """Seconds per call: the fastest of many short samples (each ~``sample_s``: enough calls to dwarf
    the timer) taken for ``min_time_s x repeats`` in all. On a shared machine the minimum over short
    samples is the figure the other programs' preemptions did not touch."""
    fn()  # warm-up: page faults, thread start, BLAS buffers
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-9)
    calls = max(1, int(sample_s / one))
    best = float("inf")
    budget = min_time_s * repeats
    start = time.perf_counter()
    samples = 0
    while samples < 3 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
        samples += 1
    return best


def measure_gemm(sizes: dict[str, tuple[int, ...]], min_time_s: float, seed: int = 0,
                 threads: int = 0) -> list[GemmPoint]:
    """GEMM timings; ``threads`` = 1 pins BLAS to one thread (threadpoolctl), 0 leaves its default."""
    if threads:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # without threadpoolctl only the default (all threads) can be measured
            return []
        with threadpool_limits(threads, user_api="blas"):
            return [GemmPoint(p.dtype, p.n, p.seconds, threads) for p in measure_gemm(sizes, min_time_s, seed)]
    rng = np.random.default_rng(seed)
    pts: list[GemmPoint] = []
    for name, ns in sizes.items():
        for n in ns:
            if name == "int8":
                a = rng.integers(-128, 127, (n, n), dtype=np.int8)
                b = rng.integers(-128, 127, (n, n), dtype=np.int8)

                def fn(a: np.ndarray = a, b: np.ndarray = b) -> Any:
                    return np.matmul(a, b, dtype=np.int32)
            else:
                npd = {"fp32": np.float32, "fp64": np.float64, "fp16": np.float16}[name]
                a = rng.standard_normal((n, n)).astype(npd)
                b = rng.standard_normal((n, n)).astype(npd)

                def fn(a: np.ndarray = a, b: np.ndarray = b) -> Any:
                    return a @ b
            pts.append(GemmPoint(name, n, best_time(fn, min_time_s)))
    return pts


def measure_conv_gemms(shapes: tuple[tuple[int, int, int], ...], min_time_s: float, seed: int = 0) -> list[GemmPoint]:
    """fp32 GEMMs of conv (im2col) shapes on one BLAS thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return []
    rng = np.random.default_rng(seed)
    pts: list[GemmPoint] = []
    with threadpool_limits(1, user_api="blas"):
        for m, k, n in shapes:
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            pts.append(GemmPoint("fp32", n, best_time(lambda a=a, b=b: a @ b, min_time_s), 1, (m, k, n)))
    return pts


def measure_engine_gemms(shapes: tuple[tuple[int, int, int], ...], min_time_s: float,
                         seed: int = 0) -> tuple[list[GemmPoint], str]:
    """int8 GEMMs with int32 accumulation (and fp32 beside them) of conv shapes in ONNX Runtime on one
    thread. Returns the points and a note; no points (and the reason) without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return [], "onnxruntime is not installed"
    from hwsim.frontends.gemm_probe import matmul_model

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    rng = np.random.default_rng(seed)
    pts: list[GemmPoint] = []
    for m, k, n in shapes:
        for dtype, label in (("int8", "int8"), ("fp32", ENGINE_FP32)):
            session = ort.InferenceSession(matmul_model(k, n, dtype, seed), opts, providers=["CPUExecutionProvider"])
            a = (rng.integers(0, 256, (m, k)).astype(np.uint8) if dtype == "int8"
                 else rng.standard_normal((m, k)).astype(np.float32))
            feed = {"a": a}
            pts.append(GemmPoint(label, n, best_time(lambda s=session, f=feed: s.run(None, f), min_time_s), 1, (m, k, n)))
    return pts, f"onnxruntime {ort.__version__}"


def measure_copies(sizes: list[int], min_time_s: float) -> list[CopyPoint]:
    pts: list[CopyPoint] = []
    for size in sizes:
        src = np.ones(max(1, size // 4), dtype=np.float32)
        dst = np.empty_like(src)
        pts.append(CopyPoint(src.nbytes, best_time(lambda s=src, d=dst: np.copyto(d, s), min_time_s)))
    return pts


def measure_vector(n: int, min_time_s: float) -> dict[str, float]:
    """Elements per second of one thread on arrays of ``n`` float32 (sized to stay in L2)."""
    x = np.linspace(0.5, 2.0, n, dtype=np.float32)
    y = np.linspace(1.0, 3.0, n, dtype=np.float32)
    out = np.empty_like(x)
    ops: dict[str, Callable[[], Any]] = {
        "add": lambda: np.add(x, y, out=out), "mul": lambda: np.multiply(x, y, out=out),
        "cmp": lambda: np.maximum(x, y, out=out), "div": lambda: np.divide(x, y, out=out),
        "sqrt": lambda: np.sqrt(x, out=out), "exp": lambda: np.exp(x, out=out),
        "move": lambda: np.copyto(out, x),
    }
    return {k: n / best_time(fn, min_time_s) for k, fn in ops.items()}


def measure_popcount(words: int, min_time_s: float) -> float:
    a = np.arange(words, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    b = a[::-1].copy()
    tmp = np.empty_like(a)
    count = getattr(np, "bitwise_count", None)
    if count is None:  # NumPy < 2: unpack bits (slower; the profile says which was used)
        def fn() -> Any:
            np.bitwise_xor(a, b, out=tmp)
            return np.unpackbits(tmp.view(np.uint8)).sum()
    else:
        def fn() -> Any:
            np.bitwise_xor(a, b, out=tmp)
            return count(tmp).sum()
    return words / best_time(fn, min_time_s)


def measure_overhead(min_time_s: float) -> float:
    a = np.ones((8, 8), dtype=np.float32)
    times = [best_time(lambda: a @ a, min_time_s / 4, repeats=1) for _ in range(5)]
    return float(statistics.median(times))


#: The measurement steps in order, with their share of the run time (for a progress bar).
STEPS = (("machine facts", 1), ("GEMM, all threads", 6), ("GEMM, one thread", 4), ("conv-shaped GEMMs", 4),
         ("int8 GEMMs (onnxruntime)", 4), ("memory copies", 3), ("vector ops", 2), ("popcount", 1),
         ("dispatch overhead", 1))


def measure(quick: bool = False, seed: int = 0, progress: Callable[[str, int], None] | None = None) -> Calibration:
    """Run every measurement (about a minute; ``quick``: a few seconds, for tests). ``progress(step,
    weight)`` is called as each step of ``STEPS`` starts."""
    weights = dict(STEPS)

    def step(name: str) -> None:
        if progress is not None:
            progress(name, weights[name])

    step("machine facts")
    info = _read("/proc/cpuinfo")
    clock, clock_src = cpu_clock(info)
    cores = _blas_threads()
    levels = caches()
    t = 0.02 if quick else 0.25
    copy_sizes: list[int] = []
    for lv in levels:
        copy_sizes.append(lv.size_bytes // 4)  # comfortably inside the level (src + dst = half of it)
    last = max((lv.size_bytes for lv in levels), default=8 * 1024**2)
    copy_sizes.append((2 if quick else 8) * last)  # far beyond the last level: DRAM
    l2 = next((lv.size_bytes for lv in levels if lv.level == 2), 256 * 1024)
    shapes = QUICK_CONV_SHAPES if quick else CONV_SHAPES
    step("GEMM, all threads")
    gemm = measure_gemm(QUICK_GEMM_SIZES if quick else GEMM_SIZES, t, seed)
    step("GEMM, one thread")
    gemm += measure_gemm({"fp32": (64, 256) if quick else (128, 256, 512, 1024)}, t, seed, threads=1)
    step("conv-shaped GEMMs")
    gemm += measure_conv_gemms(shapes, t, seed)
    step("int8 GEMMs (onnxruntime)")
    engine, engine_note = measure_engine_gemms(shapes, t, seed)
    gemm += engine
    notes = [f"int8 GEMM: {engine_note}"]
    step("memory copies")
    copies = measure_copies(sorted(set(copy_sizes)), t)
    step("vector ops")
    vector = measure_vector(max(1024, l2 // 16), t)
    step("popcount")
    popcount = measure_popcount(max(1024, l2 // 32), t)
    step("dispatch overhead")
    overhead = measure_overhead(t)
    return Calibration(
        cpu_model=cpu_model(info), clock_hz=clock, clock_source=clock_src, cores=cores,
        memory_bytes=memory_bytes(), caches=levels, gemm=tuple(gemm), copies=tuple(copies),
        vector_elems_per_s=vector, popcount_words_per_s=popcount, overhead_s=overhead,
        date=dt.date.today().isoformat(),
        software=f"numpy {np.__version__}, {_blas_name()}, python {platform.python_version()}",
        notes=tuple(notes),
    )


def _blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info

        threads = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if threads:
            return int(max(threads))
    except Exception:  # noqa: BLE001 - threadpoolctl is optional; fall back to the CPU count
        pass
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _blas_name() -> str:
    try:
        from threadpoolctl import threadpool_info

        for i in threadpool_info():
            if i.get("user_api") == "blas":
                return f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
    except Exception:  # noqa: BLE001
        pass
    return "BLAS unknown"


# --- the profile -----------------------------------------------------------------------------------
def _si(x: float, unit: str) -> str:
    for p, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.4g} {p}{unit}"
    return f"{x:.4g} {unit}"


def _bytes(n: float) -> str:
    for p, f in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= f and n % f == 0:
            return f"{int(n // f)} {p}"
    return f"{int(n)} B"


def profile_yaml(cal: Calibration) -> str:
    """The profile text (schema of ``hwsim.hardware``, kind cpu), every number commented with its origin."""
    lines = [
        "# Host profile written by `hwsim calibrate` from measurements on this machine.",
        f"# date: {cal.date}; CPU: {cal.cpu_model}; {cal.cores} cores (BLAS threads); {cal.software}",
        "# Rates are attainable peaks measured with NumPy (see hwsim/analysis/calibrate.py), not datasheet peaks.",
        "kind: cpu",
        f"description: \"{cal.cpu_model}, {cal.cores} cores, measured {cal.date}\"",
        f"clock: {cal.clock_hz / 1e9:.4f} GHz     # {cal.clock_source}",
        "process_node: 7 nm             # ASSUMED: not measurable from software",
        "static_power: 0 W              # unknown: not measurable from software (static energy reads 0)",
        "cpu:",
        f"  cores: {cal.cores}",
        f"  simd_width_bits: {_simd_bits()}     # widest vector ISA in /proc/cpuinfo flags",
        "  macs_per_cycle_per_core:",
    ]
    conv = cal.conv_gemm_rate()
    for dtype in ("fp32", "fp64"):
        if dtype == "fp32" and conv is not None:
            best, _ = cal.per_core_gemm("fp32")
            lines.append(f"    fp32: {conv / cal.clock_hz:.6g}    # measured: median one-thread NumPy GEMM over "
                         f"im2col shapes of ResNet-18's convs, {_si(conv, 'MAC/s')} per core "
                         f"({conv / best:.0%} of the best square GEMM, {_si(best, 'MAC/s')})")
            continue
        if any(p.dtype == dtype for p in cal.gemm):
            per_core, pt = cal.per_core_gemm(dtype)
            rate = per_core / cal.clock_hz
            how = (f"one BLAS thread, {_si(pt.macs_per_s, 'MAC/s')} at n={pt.n}" if pt.threads == 1 else
                   f"{_si(pt.macs_per_s, 'MAC/s')} on {cal.cores} threads at n={pt.n}")
            if dtype == "fp64":
                lines.append(f"    # fp64: {rate:.4g} MACs/cycle/core ({how}); the schema has no fp64 rate")
                continue
            lines.append(f"    {dtype}: {rate:.6g}    # measured: best NumPy GEMM per core ({how})")
    lines += _int8_lines(cal)
    lines.append("    # fp16: not measured (NumPy emulates half precision in software, no fp16 GEMM kernel): "
                 "fp16 layers are costed at the fp32 rate, with a note")
    lines.append("  vector_ops_per_cycle_per_core:   # measured: one thread, L2-resident float32 arrays")
    for k in ("add", "mul", "cmp", "div", "sqrt", "exp", "move"):
        v = cal.vector_elems_per_s[k] / cal.clock_hz
        lines.append(f"    {k}: {v:.6g}    # {_si(cal.vector_elems_per_s[k], 'elem/s')}")
    lines.append(f"    erf: {cal.vector_elems_per_s['exp'] / cal.clock_hz:.6g}    # ASSUMED equal to exp (not measured)")
    lines.append(f"    fft: {cal.vector_elems_per_s['mul'] / cal.clock_hz:.6g}    # ASSUMED equal to mul")
    lines.append(f"    transform_filter: {cal.vector_elems_per_s['add'] / cal.clock_hz:.6g}    # ASSUMED equal to add")
    pc = cal.clock_hz / cal.popcount_words_per_s
    lines += [
        "  popcount:",
        "    word_bits: 64",
        f"    cycles_per_word: {pc:.6g}    # measured: NumPy XOR + bitwise_count, {_si(cal.popcount_words_per_s, 'word/s')}",
        f"  op_overhead: {cal.overhead_s * 1e6:.4g} us    # measured: median 8x8 BLAS matmul (dispatch cost)",
        "memory:                          # measured: np.copyto bandwidth (read + write), from the cores outwards",
    ]
    bws = cal.level_bandwidths()
    for lv, bw in zip(cal.caches, bws):
        scale = lv.instances  # private levels: measured on one core, all cores have their own
        raw = cal.copy_bandwidth(lv.size_bytes // 4)
        how = f"measured {_si(raw, 'B/s')} per core (copy of {_bytes(lv.size_bytes // 4)})"
        if bw > raw:
            how += f", raised to the next level's {_si(bw, 'B/s')}"
        lines += [
            f"  l{lv.level}:",
            f"    size: {_bytes(lv.size_bytes)}    # /sys cache index (per instance)",
            f"    instances: {lv.instances}",
            f"    bandwidth: {bw * scale / 1e9:.4g} GB/s    # {how} x {scale}",
            "    on_chip: true",
            "    usable_fraction: 0.5    # ASSUMED: half the cache holds a tile set without conflict misses",
        ]
    dram_bw = bws[-1]
    lines += [
        "  dram:",
        f"    size: {_bytes(cal.memory_bytes) if cal.memory_bytes else '1 GiB'}    # /proc/meminfo MemTotal",
        f"    bandwidth: {dram_bw / 1e9:.4g} GB/s    # measured: copy of {_bytes(max(c.size_bytes for c in cal.copies))} "
        "on one core",
        "    on_chip: false",
    ]
    return "\n".join(lines) + "\n"


def _int8_lines(cal: Calibration) -> list[str]:
    """The int8 rate measured in ONNX Runtime, or a comment saying it is unavailable (never extrapolated)."""
    int8 = cal.conv_gemm_rate("int8")
    if int8 is None:
        why = next((n.split(": ", 1)[1] for n in cal.notes if n.startswith("int8 GEMM: ")), "not measured")
        return [f"    # int8: unavailable ({why}): int8 layers are costed at the fp32 rate, with a note; "
                "install onnxruntime and run `hwsim calibrate` again to measure it"]
    engine = next((n.split(": ", 1)[1] for n in cal.notes if n.startswith("int8 GEMM: ")), "onnxruntime")
    fp32 = cal.conv_gemm_rate(ENGINE_FP32)
    ratio = f"; {int8 / fp32:.2f}x the same engine's fp32 MatMul on those shapes" if fp32 else ""
    return [f"    int8: {int8 / cal.clock_hz:.6g}    # measured: {engine} MatMulInteger (uint8 x int8 -> int32), "
            f"one thread, median over ResNet-18's conv im2col shapes, {_si(int8, 'MAC/s')}{ratio}"]


def calibration_block(cal: Calibration) -> list[str]:
    """The raw curves as YAML comments (appended after the profile, ignored by the loader)."""
    out = ["# calibration curves (measured; informational):"]
    for p in cal.gemm:
        threads = f"{p.threads} thread" if p.threads else f"{cal.cores} threads"
        size = "x".join(map(str, p.shape)) if p.shape else f"n={p.n}"
        out.append(f"#   gemm {p.dtype} {size} ({threads}): {_si(p.macs_per_s, 'MAC/s')}")
    for p in cal.copies:
        out.append(f"#   copy {_bytes(p.size_bytes)}: {_si(p.bytes_per_s, 'B/s')}")
    return out


def _simd_bits() -> int:
    flags = _read("/proc/cpuinfo")
    if " avx512f" in flags:
        return 512
    if " avx2" in flags or " avx " in flags:
        return 256
    return 128


def write_profile(cal: Calibration, path: str | Path) -> str:
    """Profile text with the raw curves appended as comments; written atomically. Returns the text."""
    from hwsim.frontends.model_json import atomic_write_text

    text = profile_yaml(cal) + "\n".join(calibration_block(cal)) + "\n"
    atomic_write_text(path, text)
    return text
