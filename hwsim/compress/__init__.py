"""Compression passes: one module per technique family, the pass contract, recipes, the method catalogue."""

from hwsim.compress.base import PASSES, LayerChange, PassDef, PassParams, PassResult, register_pass, run_passes

__all__ = ["PASSES", "LayerChange", "PassDef", "PassParams", "PassResult", "register_pass", "run_passes"]
