"""Engines that schedule per-op costs: analytic (closed form) and event (simpy)."""

from hwsim.sim.engines import ENGINES, EngineInput, engine, get_engine, op_costs, register_engine, resolve_device, simulate
from hwsim.sim.result import OpTiming, RunResult

__all__ = ["ENGINES", "EngineInput", "engine", "get_engine", "op_costs", "register_engine", "resolve_device", "simulate",
           "OpTiming", "RunResult"]
