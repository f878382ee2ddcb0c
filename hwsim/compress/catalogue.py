"""The named method catalogue: what `hwsim methods` lists and `--method NAME` selects.

Every entry is model-agnostic (methods that need model-specific choices, such as early-exit branch
points or a student model file, are written in a methods file; see ``hwsim.compress.recipes``).
``needs_training`` is True where the literature's accuracy figures come with (re)training that the
tool does not do: its reports show task accuracy as unknown for those, never an invented number.
"""

from __future__ import annotations

from pathlib import Path

from hwsim.compress.method import Method
from hwsim.compress.recipes import load_methods_file
from hwsim.errors import UnknownNameError
from hwsim.registry import Registry

METHODS: Registry[str, Method] = Registry("compression method")

FINETUNE = "task accuracy after this method needs fine-tuning the tool does not do: unknown"
TRAIN = "task accuracy of the new architecture needs training the tool does not do: unknown"
NOT_MEASURED = "task accuracy not measured (post-training quantization; `hwsim verify` reports output fidelity)"


def _m(name: str, description: str, steps: list[tuple[str, dict]], needs_training: bool | None, family: str,
       notes: tuple[str, ...] = ()) -> Method:
    return METHODS.register(name, Method(name, description, tuple((s, dict(p)) for s, p in steps), needs_training,
                                         notes, family))


_AUTO = ("sparse_format", {"format": "auto"})

_m("baseline", "the model as given: fp32 weights, dense storage", [], False, "baseline")
_m("fp16", "IEEE half-precision weights and activations", [("quantize", {"format": "fp16", "activations": True})],
   False, "quantize", ("fp16 inference is usually within noise of fp32; not measured here",))
_m("bf16", "bfloat16 weights and activations (8-bit mantissa, fp32 range)",
   [("quantize", {"format": "bf16", "activations": True})], False, "quantize")
_m("int8", "int8 weights (symmetric, per output channel) and int8 activations (asymmetric, calibrated)",
   [("quantize", {"bits": 8, "granularity": "channel", "activations": True})], False, "quantize", (NOT_MEASURED,))
_m("int8-weights", "int8 weights (symmetric, per output channel); fp32 activations",
   [("quantize", {"bits": 8, "granularity": "channel"})], False, "quantize", (NOT_MEASURED,))
_m("int4-weights", "int4 weights (symmetric, per output channel); fp32 activations",
   [("quantize", {"bits": 4, "granularity": "channel"})], True, "quantize", (FINETUNE,))
_m("mixed-4bit", "per-layer weight bits (2..8) chosen by SQNR for a 4-bit-per-weight budget (Lin et al. 2016)",
   [("mixed_precision", {"budget_bits_per_weight": 4.0})], True, "quantize", (FINETUNE,))
_m("prune-50", "magnitude pruning to 50% sparsity per layer, smallest sparse format per tensor",
   [("prune", {"sparsity": 0.5}), _AUTO], True, "prune", (FINETUNE,))
_m("prune-90", "magnitude pruning to 90% sparsity per layer, smallest sparse format per tensor",
   [("prune", {"sparsity": 0.9}), _AUTO], True, "prune", (FINETUNE,))
_m("prune-global-90", "magnitude pruning with one global threshold to 90% overall sparsity",
   [("prune", {"sparsity": 0.9, "scope": "global"}), _AUTO], True, "prune", (FINETUNE,))
_m("prune-random-50", "random pruning to 50% (baseline criterion, Mittal et al. 2018)",
   [("prune_random", {"sparsity": 0.5}), _AUTO], True, "prune", (FINETUNE,))
_m("filter-prune-30", "remove the 30% smallest-L1 filters of each conv (Li et al. 2017); tensors shrink",
   [("prune_filters", {"ratio": 0.3})], True, "prune", (FINETUNE,))
_m("channel-prune-30", "remove 30% of the channels of every channel group, residual-consistent",
   [("prune_channels", {"ratio": 0.3})], True, "prune", (FINETUNE,))
_m("fold-bn", "fold batchnorm into the preceding conv / linear and drop no-op layers (exact)",
   [("remove_layers", {})], False, "prune")
_m("weight-sharing", "per-layer k-means weight sharing: 256 centroids for conv, 32 for fc (Deep Compression)",
   [("share_kmeans", {})], True, "share", (FINETUNE,))
_m("deep-compression", "Deep Compression: prune (conv 65%, fc 91%) -> k-means sharing (8 / 5 bits) -> relative "
   "index (8 / 5 bits) -> Huffman (Han et al. 2016)",
   [("prune", {"conv_sparsity": 0.65, "linear_sparsity": 0.91}), ("share_kmeans", {}),
    ("sparse_format", {"format": "relative_index"}), ("huffman", {})], True, "deep_compression", (FINETUNE,))
_m("hashed-nets", "HashedNets: fc weights shared through a hash, 1/8 of the parameters stored (Chen et al. 2015)",
   [("share_hash", {"ratio": 0.125})], True, "share", (FINETUNE,))
_m("binary-xnor", "XNOR-Net: binary weights (per-channel scale) and binary activations; first/last layers kept",
   [("binarize", {"mode": "xnor"})], True, "binary", (TRAIN,))
_m("binaryconnect", "BinaryConnect: binary weights, real activations; first/last layers kept",
   [("binarize", {"mode": "binaryconnect"})], True, "binary", (TRAIN,))
_m("bnn", "Binarized Neural Networks: binary weights and activations, no scales; first/last layers kept",
   [("binarize", {"mode": "bnn"})], True, "binary", (TRAIN,))
_m("finn-w1a1", "FINN / BNN-PYNQ W1A1: binary weights and activations in every layer, the input image unbinarized",
   [("binarize", {"mode": "bnn", "keep_first_last": False, "keep_input_precision": True})], True, "binary",
   (TRAIN,))
_m("w3a3", "3-bit weights (symmetric, per output channel) and 3-bit activations in every layer (FINN-style "
   "quantized networks, e.g. MLPerf Tiny's KWS-W3A3)",
   [("quantize", {"bits": 3, "granularity": "channel", "activations": True})], True, "quantize", (FINETUNE,))
_m("ternary-twn", "Ternary Weight Networks: threshold 0.7 mean|W|, one scale per layer",
   [("ternarize", {})], True, "binary", (TRAIN,))
_m("svd-lowrank", "truncated SVD of linear layers (Denton et al. 2014; Xue et al. 2013)", [("svd", {})], True,
   "lowrank", (FINETUNE,))
_m("tucker-lowrank", "Tucker-2 of conv layers into 1x1 -> kxk -> 1x1 (Kim et al. 2016)", [("tucker2", {})], True,
   "lowrank", (FINETUNE,))
_m("cp-lowrank", "CP decomposition of conv layers into four convs (Lebedev et al. 2015)", [("cp", {})], True,
   "lowrank", (FINETUNE,))
_m("separable-lowrank", "spatially separable kxk -> kx1 + 1xk (Jaderberg et al. 2014)", [("separable", {})], True,
   "lowrank", (FINETUNE,))
_m("depthwise-student", "every standard conv replaced by a depthwise-separable block (MobileNet-style student)",
   [("depthwise_separable", {})], True, "compact", (TRAIN,))
_m("width-0.5", "width multiplier 0.5: every layer half as wide, residual-consistent (MobileNets)",
   [("width_multiplier", {"alpha": 0.5})], True, "compact", (TRAIN,))
_m("depth-0.5", "keep half of each run of identity-residual blocks", [("depth_multiplier", {"depth": 0.5})], True,
   "compact", (TRAIN,))
_m("transferred-filters", "store half of each conv's filters, derive the rest by negation (CReLU)",
   [("transferred_filters", {})], True, "compact", (TRAIN,))
_m("circulant-fc", "circulant projections for fc layers: O(n) parameters, FFT products (Cheng et al. 2015)",
   [("circulant", {})], True, "structured", (TRAIN,))
_m("fastfood-fc", "Fastfood transforms for fc layers: Walsh-Hadamard products (Yang et al. 2015)",
   [("fastfood", {})], True, "structured", (TRAIN,))
_m("winograd", "3x3 stride-1 convs run Winograd F(2x2,3x3) (Lavin & Gray 2016); the same function",
   [("conv_algorithm", {"algorithm": "winograd_f2x2_3x3"})], False, "conv_algorithm")
_m("winograd-f4", "3x3 stride-1 convs run Winograd F(4x4,3x3): 4x fewer multiplies, larger transforms",
   [("conv_algorithm", {"algorithm": "winograd_f4x4_3x3"})], False, "conv_algorithm")
_m("fft-conv", "convolutions computed by FFT", [("conv_algorithm", {"algorithm": "fft"})], False, "conv_algorithm")

# --- decoder LLMs: the storage formats of weight-only quantization (values by round-to-nearest) -----
_RTN = ("values rounded to nearest: the format's storage and speed; GPTQ's error-compensating rounding and AWQ's "
        "activation-aware scaling, which set the values inside the same format, are not run")
_m("q8_0", "int8 weights in groups of 32 with one fp16 scale (llama.cpp Q8_0: 8.5 bits per weight)",
   [("quantize", {"bits": 8, "granularity": "group", "group_size": 32, "scale_bits": 16})], False, "quantize",
   (NOT_MEASURED,))
_m("q4_0", "int4 weights in groups of 32 with one fp16 scale (llama.cpp Q4_0: 4.5 bits per weight)",
   [("quantize", {"bits": 4, "granularity": "group", "group_size": 32, "scale_bits": 16})], False, "quantize",
   (NOT_MEASURED, _RTN))
_m("w4-g128", "int4 weights, asymmetric, groups of 128 with an fp16 scale and a 4-bit zero point (the storage of "
   "GPTQ and AWQ 4-bit checkpoints: 4.16 bits per weight)",
   [("quantize", {"bits": 4, "granularity": "group", "group_size": 128, "scale_bits": 16, "symmetric": False})],
   False, "quantize", (NOT_MEASURED, _RTN))
_m("w4-g64", "int4 weights, asymmetric, groups of 64 (fp16 scale, 4-bit zero point: 4.31 bits per weight)",
   [("quantize", {"bits": 4, "granularity": "group", "group_size": 64, "scale_bits": 16, "symmetric": False})],
   False, "quantize", (NOT_MEASURED, _RTN))
_m("w3-g128", "int3 weights, asymmetric, groups of 128 (fp16 scale, 3-bit zero point: 3.15 bits per weight)",
   [("quantize", {"bits": 3, "granularity": "group", "group_size": 128, "scale_bits": 16, "symmetric": False})],
   False, "quantize", (NOT_MEASURED, _RTN))

_m("kv-int8", "KV cache as int8 with one fp16 scale per token and KV head (weights unchanged)",
   [("kv_quantize", {"bits": 8})], False, "quantize", (NOT_MEASURED,))
_m("kv-int4", "KV cache as int4, asymmetric, one fp16 scale and 4-bit zero per token and KV head",
   [("kv_quantize", {"bits": 4, "symmetric": False})], False, "quantize", (NOT_MEASURED,))
_m("q4_0+kv-int8", "llama.cpp-style Q4_0 weights with an int8 KV cache",
   [("quantize", {"bits": 4, "granularity": "group", "group_size": 32, "scale_bits": 16}),
    ("kv_quantize", {"bits": 8})], False, "quantize", (NOT_MEASURED, _RTN))

_m("sparse-2:4", "2:4 structured sparsity of linear layers: the 2 largest of every 4 weights kept, stored as "
   "values + 2-bit positions (accelerated by Ampere / Orin sparse tensor cores; dense elsewhere)",
   [("prune_nm", {"n": 2, "m": 4})], True, "prune", (FINETUNE,))

_HEADS = ("importance: the L2 norm of a unit's weights (a head's rows of W_q and columns of W_o; a KV group's K / V "
          "rows and its query heads; an MLP channel's gate / up rows and down column); the residual width is kept")
_m("llm-head-prune-25", "decoder LLMs: remove 25% of the query heads of every KV group (whole q heads + their o_proj "
   "columns; K / V heads and the KV cache kept)", [("prune_heads", {"ratio": 0.25, "unit": "query"})], True, "prune",
   (FINETUNE, _HEADS))
_m("llm-kv-head-prune-25", "decoder LLMs: remove 25% of the KV heads with every query head of their group (the KV "
   "cache shrinks by as much)", [("prune_heads", {"ratio": 0.25, "unit": "kv"})], True, "prune", (FINETUNE, _HEADS))
_m("llm-mlp-prune-30", "decoder LLMs: remove 30% of every MLP's channels (SwiGLU gate / up rows and down columns, or "
   "fc1 rows and fc2 columns)", [("prune_mlp", {"ratio": 0.3})], True, "prune", (FINETUNE, _HEADS))

#: The methods a report compares when none are named (the issue's list).
DEFAULT_METHODS = ("baseline", "fp16", "int8", "int4-weights", "prune-50", "prune-90", "filter-prune-30",
                   "deep-compression", "binary-xnor", "ternary-twn", "svd-lowrank", "tucker-lowrank",
                   "depthwise-student", "winograd")


def get_method(name_or_path: str) -> Method:
    """A catalogue method by name, or a method from a YAML methods file: ``file.yaml`` (a file with one
    method) or ``file.yaml#name``; a bare file name that is not a file here names a shipped methods file
    (``early_exit.yaml#early-exit-lenet5``)."""
    if name_or_path in METHODS:
        return METHODS.get(name_or_path)
    path, _, inner = name_or_path.partition("#")
    if path.endswith((".yaml", ".yml")) or Path(path).is_file():
        methods = load_methods_file(path)
        if inner:
            if inner not in methods:
                raise UnknownNameError(f"no method {inner!r} in the file; it defines {', '.join(methods)}",
                                       source=path)
            return methods[inner]
        if len(methods) != 1:
            raise UnknownNameError(f"the file defines {len(methods)} methods ({', '.join(methods)}); choose one "
                                   f"with {path}#NAME", source=path)
        return next(iter(methods.values()))
    return METHODS.get(name_or_path)  # raises, listing the catalogue


__all__ = ["METHODS", "DEFAULT_METHODS", "get_method", "load_methods_file", "Method"]
