"""Compression passes: one module per technique family, the pass contract, recipes, the method catalogue.

Importing this package registers every pass in ``PASSES``: the modules below register themselves on
import. ``PASS_MODULES`` is the complete list; keep it in sync when a family module is added.
"""

from importlib import import_module

from hwsim.compress.base import PASSES, LayerChange, PassDef, PassParams, PassResult, register_pass, run_passes

#: Every module that registers passes (Deep Compression family, then binary / low-rank / compact /
#: structured / early-exit / convolution-algorithm families).
PASS_MODULES = (
    "hwsim.compress.prune",
    "hwsim.compress.sparse",
    "hwsim.compress.quantize",
    "hwsim.compress.share",
    "hwsim.compress.huffman",
    "hwsim.compress.binary",
    "hwsim.compress.lowrank",
    "hwsim.compress.compact",
    "hwsim.compress.structured",
    "hwsim.compress.early_exit",
    "hwsim.compress.conv_algorithms",
    "hwsim.compress.kv_cache",
    "hwsim.compress.nm_sparse",
    "hwsim.compress.llm_prune",
)

for _module in PASS_MODULES:
    import_module(_module)

from hwsim.compress.method import CompressedModel, Method, apply_method  # noqa: E402

__all__ = ["PASSES", "PASS_MODULES", "LayerChange", "PassDef", "PassParams", "PassResult", "register_pass",
           "run_passes", "CompressedModel", "Method", "apply_method"]
