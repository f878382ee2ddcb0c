"""Verification inside a report run: which input it runs on, and a pool that runs it beside simulation.

Methods verify in worker processes while the main process compresses and simulates; results are
collected in submission order, so the outcome never depends on timing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hwsim.analysis.metrics import MethodRun, Outcome
from hwsim.analysis.verify import VerifyResult, verify_method
from hwsim.compress.method import Method
from hwsim.errors import HwsimError
from hwsim.ir.graph import OpGraph
from hwsim.pipeline.steps import AUTO_MAX_PARAMS, Progress, guard, no_progress

#: Models up to this many parameters are verified on a reduced input by default (ResNet-18: ~20 s for
#: the whole catalogue on 2 cores); larger ones are skipped unless ``mode`` asks (minutes).
AUTO_REDUCED_MAX_PARAMS = 15_000_000
#: The side of an image input in ``reduced`` verification (enough for every standard workload's strides).
REDUCED_SIDE = 64

#: A verification's result and how it went (the result is None unless the outcome is ok).
Verified = tuple[VerifyResult | None, Outcome]


class VerifyConfig(BaseModel):
    """Verification: kernel exactness plus fidelity on ``inputs`` seeded inputs.

    mode: ``full`` verifies every method on the model's own input; ``reduced`` on one input whose
    image side is cut to 64 px (the same weights and kernels, fewer pixels: for speed; fidelity is then
    measured on those smaller inputs); ``auto`` is ``full`` up to AUTO_MAX_PARAMS parameters,
    ``reduced`` up to AUTO_REDUCED_MAX_PARAMS, and skips larger models, saying so; ``off`` skips. Methods verify in ``workers`` processes in parallel
    with compression and simulation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["auto", "full", "reduced", "off"] = "auto"
    inputs: int = Field(default=2, ge=1, le=10_000)
    seed: int = 0
    workers: int = Field(default=2, ge=0, le=64)  # 0: verify in this process


def reduced_graph(graph: OpGraph) -> tuple[OpGraph, str]:
    """The graph with each image input's side cut to REDUCED_SIDE pixels, when its shapes allow it."""
    specs, changed = [], False
    for name in graph.inputs:
        spec = graph.tensor(name)
        if len(spec.shape) == 4 and min(spec.shape[2:]) > REDUCED_SIDE:
            h, w = spec.shape[2:]
            k = REDUCED_SIDE / min(h, w)
            spec = spec.with_(shape=(spec.shape[0], spec.shape[1], max(1, round(h * k)), max(1, round(w * k))))
            changed = True
        specs.append(spec)
    if not changed:
        return graph, "full-size input (already small)"
    try:
        small = graph.rebuild(inputs=specs)
    except HwsimError:
        return graph, "full-size input (the model's shapes do not allow a smaller one)"
    shape = "x".join(map(str, specs[0].shape))
    return small, f"one reduced input {shape} (fidelity measured on it, not on the model's full input)"


def verify_plan(cfg: VerifyConfig, graph: OpGraph, params: int) -> tuple[OpGraph | None, str]:
    """Which graph verification runs on, or None with the reason it is skipped."""
    mode = cfg.mode
    if mode == "off":
        return None, "verification not requested (--verify off)"
    if mode == "auto" and params > AUTO_REDUCED_MAX_PARAMS:
        return None, (f"verification skipped: {params / 1e6:.1f}M parameters is over the default limit of "
                      f"{AUTO_REDUCED_MAX_PARAMS / 1e6:.0f}M (--verify reduced or --verify full runs it; minutes)")
    if mode == "reduced" or (mode == "auto" and params > AUTO_MAX_PARAMS):
        return reduced_graph(graph)
    return graph, f"full-size input, {cfg.inputs} seeded input(s)"


def verify_job(graph: OpGraph, method: Method, cfg: VerifyConfig, strict: bool) -> Verified:
    """One verification (in a worker process or in this one): (result, outcome), never an exception
    across the pipe. BLAS runs on one thread: the worker processes already fill the cores, and BLAS
    threads beside them oversubscribe the machine (on the ResNet-18 report a third of all CPU time
    went to BLAS threads spinning for work); in-process verification does the same, so results do
    not depend on the number of workers (BLAS's summation order depends on its thread count)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return guard(strict, lambda: verify_method(graph, method, cfg.inputs, cfg.seed))


def _warm_one_kernel_group(counter: Any) -> None:
    """Pool initializer: worker i compiles (or loads from numba's disk cache) kernel group i, so on a
    cold cache the workers compile different loops side by side (the packed GEMM and the dense loops take
    ~5-7 s each) instead of each compiling the same ones; a worker that needs the other group later loads
    it from the disk cache the other worker wrote (numba replaces cache files atomically)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    from hwsim.kernels import jit_dense, jit_gemm

    (jit_gemm.warm_up, jit_dense.warm_up)[index % 2]()


class VerifyPool:
    """Verifications running in worker processes while the main process compresses and simulates.

    Results are collected in submission order, so the outcome does not depend on timing."""

    def __init__(self, workers: int) -> None:
        self._pool: Pool | None = None
        self._jobs: dict[str, Verified | AsyncResult[Verified]] = {}
        if workers > 0:
            import multiprocessing as mp

            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            self._pool = ctx.Pool(processes=workers, initializer=_warm_one_kernel_group,
                                  initargs=(ctx.Value("i", 0),))

    def submit(self, name: str, graph: OpGraph, method: Method, cfg: VerifyConfig, strict: bool) -> None:
        if self._pool is None:
            self._jobs[name] = verify_job(graph, method, cfg, strict)
        else:
            self._jobs[name] = self._pool.apply_async(verify_job, (graph, method, cfg, strict))

    def result(self, name: str) -> Verified:
        job = self._jobs[name]
        return job if isinstance(job, tuple) else job.get()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


#: The verification outcome of a method whose verification is still running (collected after all methods).
PENDING = Outcome("skipped", "verification pending")


def collect_verification(mr: MethodRun, verified: Callable[[], Verified], progress: Progress = no_progress) -> MethodRun:
    """``mr`` with its (pending) verification filled in."""
    if mr.verify != PENDING:
        return mr
    t0 = time.perf_counter()
    vres, v_out = verified()
    progress(f"{mr.method}: verified")
    return dataclasses.replace(mr, verify=v_out, verify_result=vres,
                               timings_s={**mr.timings_s, "verify_wait": time.perf_counter() - t0})


__all__ = ["AUTO_REDUCED_MAX_PARAMS", "PENDING", "REDUCED_SIDE", "Verified", "VerifyConfig", "VerifyPool",
           "collect_verification", "reduced_graph", "verify_job", "verify_plan"]
