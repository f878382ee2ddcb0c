"""``ENGINES[name]`` and the public entry point ``simulate(graph, device, engine, method)``.

An engine takes a prepared workload, the per-op costs of one device and schedules them into a
``RunResult``. ``analytic`` is the closed form used by sweeps; ``event`` (simpy) is registered by
``hwsim.sim.event``. Engines register themselves when their module is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from hwsim.cost.registry import cost_model
from hwsim.cost.types import OpCost
from hwsim.cost.structured_sparsity import device_view
from hwsim.cost.work import Workload, prepare
from hwsim.hardware import DeviceProfile, load_device
from hwsim.ir import OpGraph
from hwsim.registry import LazyRegistry
from hwsim.sim.fusion import charge_fused
from hwsim.sim.result import RunResult


@dataclass(frozen=True)
class EngineInput:
    """Everything an engine needs: the graph, its prepared workload, the device and its op costs."""

    graph: OpGraph
    workload: Workload
    device: DeviceProfile
    costs: tuple[OpCost, ...]
    method: str


Engine = Callable[[EngineInput], RunResult]

#: The built-in engines, each imported when first asked for (the analytic one never loads simpy).
ENGINES: LazyRegistry[str, Engine] = LazyRegistry("engine", {"analytic": "hwsim.sim.analytic", "event": "hwsim.sim.event"})


def get_engine(name: str) -> Engine:
    return ENGINES.get(name)


engine = get_engine


def register_engine(name: str) -> Callable[[Engine], Engine]:
    return ENGINES.decorator(name)


def resolve_device(device: DeviceProfile | str | os.PathLike[str],
                   overrides: Mapping[str, str] | None = None) -> DeviceProfile:
    if isinstance(device, DeviceProfile):
        if overrides:
            from hwsim.hardware import apply_overrides

            return apply_overrides(device.raw, overrides, name=device.name, source=device.source)
        return device
    return load_device(device, overrides)


def op_costs(graph: OpGraph, device: DeviceProfile) -> tuple[OpCost, ...]:
    """Per-op costs of ``graph`` on ``device`` (pure; no scheduling)."""
    return cost_model(device.kind).cost_graph(device_view(prepare(graph), device), device)


def simulate(graph: OpGraph, device: DeviceProfile | str, engine: str = "analytic", method: str = "baseline",
             *, overrides: Mapping[str, str] | None = None, check_fit: bool = True) -> RunResult:
    """Cost ``graph`` on ``device`` and schedule it with ``engine`` (ops fused into their producer's
    kernel charged once, by ``hwsim.sim.fusion``).

    ``check_fit`` raises ``ModelDoesNotFitError`` when the stored weights exceed every memory of the
    device (a result for a model that cannot be loaded would be invented).
    """
    run = get_engine(engine)
    dev = resolve_device(device, overrides)
    workload = device_view(prepare(graph), dev)  # N:M-sparse weights: accelerated or expanded, per device
    if check_fit:
        from hwsim.cost.memory import check_fits

        check_fits(workload, dev)
    costs = charge_fused(cost_model(dev.kind).cost_graph(workload, dev))
    return _with_power_scope(_with_first_inference(run(EngineInput(graph=graph, workload=workload, device=dev,
                                                                   costs=costs, method=method)), costs, dev), dev)


def _with_power_scope(result: RunResult, dev: DeviceProfile) -> RunResult:
    """Say what the energy covers (``extra.energy_scope``: the profile's ``power_scope``, chip or board)
    and the board's energy per inference (``extra.board_energy_j``): a board-scope profile's energy as it
    is (its static power is the board idle); for a chip-scope profile with a known ``board_idle_power``,
    the board idle x latency + the chip's dynamic energy (its static power is part of the board idle) + the
    host's busy power x latency when the profile gives it (``host_power``) + the rest of the module's power
    above idle x latency when given (``soc_active_power``), each part in ``extra.board_energy_parts`` (J)."""
    scope = dev.power_scope or "unstated"
    extra: dict[str, object] = {**result.extra, "energy_scope": scope}
    total_j = sum(result.energy_pj.values()) / 1e12
    if scope == "board":
        extra["board_energy_j"] = total_j
    elif scope == "chip" and dev.board_idle_power_w is not None:
        dynamic_j = total_j - result.energy_pj.get("static", 0.0) / 1e12
        parts = {"board_idle": dev.board_idle_power_w * result.seconds, "chip_dynamic": dynamic_j,
                 "host": (dev.host_power_w or 0.0) * result.seconds,
                 "soc_active": (dev.soc_active_power_w or 0.0) * result.seconds}
        extra["board_energy_j"] = sum(parts.values())
        extra["board_energy_parts"] = parts
    return replace(result, extra=extra)


def _with_first_inference(result: RunResult, costs: tuple[OpCost, ...], dev: DeviceProfile) -> RunResult:
    """Weights a cost model keeps on chip across inferences (``first_inference_weight_bytes`` in an op's
    extra) are loaded once, over the off-chip level, before the first inference: report that
    inference's latency beside the steady-state one (``seconds``)."""
    load = sum(int((c.extra or {}).get("first_inference_weight_bytes", 0)) for c in costs)
    if not load:
        return result
    off = [lv for lv in dev.memory if not lv.on_chip]
    if not off:
        return result
    extra_s = load / off[-1].bandwidth_bytes_per_s
    return replace(result, extra={**result.extra, "resident_weight_bytes": load,
                                  "first_inference_seconds": result.seconds + extra_s},
                   notes=result.notes + (f"{load} bytes of weights stay on chip across inferences: the first "
                                         f"inference also loads them ({extra_s * 1e3:.3g} ms more); "
                                         "latency is the steady state",))
