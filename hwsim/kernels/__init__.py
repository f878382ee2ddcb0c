"""NumPy kernels per (op kind, storage form) and the graph executor: the living definition of what
every op and every encoding computes. ``execute(graph, inputs)`` runs any OpGraph, original or
compressed; ``KERNELS`` maps (op, form) to its kernel; ``reference`` holds the plain definitions."""

from hwsim.kernels.executor import ExecutionResult, execute, kernel_for, resolve_weights
from hwsim.kernels.forms import node_form, weight_form
from hwsim.kernels.registry import KERNELS, UNSUPPORTED, KernelCall, KernelDef, register_kernel

__all__ = ["ExecutionResult", "execute", "kernel_for", "resolve_weights", "node_form", "weight_form", "KERNELS",
           "UNSUPPORTED", "KernelCall", "KernelDef", "register_kernel"]
