"""Structured-matrix replacements of fully connected layers: ``circulant`` and ``fastfood``.

Both map the last axis of their input from ``n`` to ``out_features`` features like ``linear`` does,
but store O(n) parameters and do O(n log n) work:

* ``circulant`` (Cheng et al., ICCV 2015, "circulant projections"): y = (R D x)[:out] + b, with R the
  d x d circulant matrix of the stored vector ``weight`` r (R[i, j] = r[(i - j) mod d]) and D a fixed
  random +/-1 diagonal derived from ``seed``; x is zero-padded to d = max(n, out). R D x is computed
  as irfft(rfft(r) * rfft(D x)): two real FFTs of length d per sample (rfft(r) is precomputed at
  load time) and d//2 + 1 complex products.
* ``fastfood`` (Le, Sarlos, Smola, ICML 2013; Adaptive Fastfood: Yang et al., "Deep Fried Convnets",
  ICCV 2015): V = S H G Pi H B per block, with H the d x d Walsh-Hadamard matrix (d = the next power of
  two >= n), B, G, S learned diagonals (``b``, ``g``, ``s``: [blocks, d]) and Pi a fixed permutation
  derived from ``seed``. ceil(out / d) blocks are stacked and the first ``out`` rows kept.

The fixed random parts (the sign diagonal, the permutations) are not stored: they are regenerated
from ``seed`` by :func:`circulant_signs` and :func:`fastfood_permutations`, which kernels must use.
:func:`circulant_matrix` and :func:`fastfood_matrix` give each op's dense equivalent (the definition
kernels are checked against).

Counting (exact for the stated algorithm, per sample row): ``macs`` are the real multiplies of the
elementwise products (circulant: 4 per complex bin; fastfood: the three diagonal scalings), ``fft``
the flops of the real FFTs (ceil(2.5 d log2 d) per transform, the radix-2 real-FFT count, half the
5 d log2 d of a complex FFT), ``wht`` the additions/subtractions of the fast Walsh-Hadamard transforms
(d log2 d per transform), ``mul`` the sign flips, ``move`` the permutation, ``add`` the bias.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hwsim.errors import ShapeError
from hwsim.ir.ops import CountInput, OpCounts, OpDef, OpGroup, ParamSlot, register_op
from hwsim.ir.opdefs._attrs import numel, only, positive

if TYPE_CHECKING:
    import numpy as np

Shape = tuple[int, ...]
_ATTRS = {"out_features", "in_features", "bias", "seed", "size"}


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _normalize(kind: str):
    def normalize(attrs: dict[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Any]:
        only(attrs, _ATTRS, kind)
        if len(in_shapes[0]) < 1:
            raise ShapeError(f"{kind} needs an input of rank >= 1")
        if "out_features" not in attrs:
            raise ShapeError(f"{kind} needs attribute 'out_features'")
        n = in_shapes[0][-1]
        if "in_features" in attrs and attrs["in_features"] != n:
            raise ShapeError(f"{kind} declares in_features={attrs['in_features']} but its input's last axis is {n}")
        out = positive(attrs["out_features"], f"{kind} out_features")
        seed = attrs.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ShapeError(f"{kind} seed must be a non-negative integer, got {seed!r}")
        size = max(n, out) if kind == "circulant" else next_pow2(n)
        if "size" in attrs and attrs["size"] != size:
            raise ShapeError(f"{kind} declares size={attrs['size']} but input {n} / output {out} give {size}")
        return {"out_features": out, "bias": bool(attrs.get("bias", True)), "seed": seed, "size": size}

    return normalize


def _infer(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> list[Shape]:
    return [tuple(in_shapes[0][:-1]) + (attrs["out_features"],)]


def blocks(attrs: Mapping[str, Any]) -> int:
    """Number of stacked d x d Fastfood blocks needed for ``out_features`` outputs."""
    return math.ceil(attrs["out_features"] / attrs["size"])


def _circulant_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {"weight": (attrs["size"],)}
    if attrs.get("bias"):
        shapes["bias"] = (attrs["out_features"],)
    return shapes


def _fastfood_params(attrs: Mapping[str, Any], in_shapes: Sequence[Shape]) -> dict[str, Shape]:
    d, k = attrs["size"], blocks(attrs)
    shapes: dict[str, Shape] = {"s": (k, d), "g": (k, d), "b": (k, d)}
    if attrs.get("bias"):
        shapes["bias"] = (attrs["out_features"],)
    return shapes


def rfft_flops(d: int) -> int:
    """Flops of one real FFT of length d: ceil(2.5 d log2 d) (half a complex radix-2 FFT's 5 d log2 d)."""
    return math.ceil(2.5 * d * math.log2(d)) if d > 1 else 0


def wht_adds(d: int) -> int:
    """Additions/subtractions of one fast Walsh-Hadamard transform of length d (a power of two)."""
    return d * int(math.log2(d)) if d > 1 else 0


def _rows(c: CountInput) -> int:
    return numel(c.in_shapes[0]) // c.in_shapes[0][-1]


def count_circulant(c: CountInput) -> OpCounts:
    d, rows = c.attrs["size"], _rows(c)
    arith = {"fft": rows * 2 * rfft_flops(d), "mul": rows * d}
    if c.attrs.get("bias"):
        arith["add"] = rows * c.attrs["out_features"]
    return OpCounts(macs=rows * 4 * (d // 2 + 1), arith=arith)


def count_fastfood(c: CountInput) -> OpCounts:
    d, k, rows = c.attrs["size"], blocks(c.attrs), _rows(c)
    arith = {"wht": rows * k * 2 * wht_adds(d), "move": rows * k * d}
    if c.attrs.get("bias"):
        arith["add"] = rows * c.attrs["out_features"]
    return OpCounts(macs=rows * k * 3 * d, arith=arith)


# --- the fixed random parts and the dense equivalents (the definition kernels are checked against) --
def circulant_signs(seed: int, d: int) -> np.ndarray:
    """The fixed +/-1 diagonal D of a circulant layer (float32, length d)."""
    import numpy as np  # values only: shape inference and counting never import numpy

    rng = np.random.default_rng([seed, 0xC1C])
    return np.where(rng.random(d) < 0.5, -1.0, 1.0).astype(np.float32)


def fastfood_permutations(seed: int, k: int, d: int) -> np.ndarray:
    """The fixed permutations Pi of the k Fastfood blocks ([k, d] int64, each row a permutation)."""
    import numpy as np  # values only: shape inference and counting never import numpy

    rng = np.random.default_rng([seed, 0xFF])
    return np.stack([rng.permutation(d) for _ in range(k)])


def hadamard(d: int) -> np.ndarray:
    """Unnormalized Sylvester Walsh-Hadamard matrix of order d (a power of two)."""
    import numpy as np  # values only: shape inference and counting never import numpy

    if d & (d - 1):
        raise ValueError(f"Hadamard order must be a power of two, got {d}")
    h = np.ones((1, 1), np.float64)
    while h.shape[0] < d:
        h = np.block([[h, h], [h, -h]])
    return h


def fwht(a: np.ndarray) -> np.ndarray:
    """H @ a for the Sylvester Walsh-Hadamard matrix H, along axis 0 (length a power of two), in
    d log2 d additions per column (the butterfly a kernel runs)."""
    import numpy as np  # values only: shape inference and counting never import numpy

    out = np.asarray(a, np.float64)
    d = out.shape[0]
    if d & (d - 1):
        raise ValueError(f"Walsh-Hadamard length must be a power of two, got {d}")
    rest = out.shape[1:]
    h = 1
    while h < d:
        v = out.reshape(d // (2 * h), 2, h, -1)
        out = np.stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]], axis=1)
        h *= 2
    return out.reshape((d, *rest))


def circulant_matrix(weight: np.ndarray, attrs: Mapping[str, Any], in_features: int) -> np.ndarray:
    """The dense [out, in] matrix a circulant layer applies (bias excluded)."""
    import numpy as np  # values only: shape inference and counting never import numpy

    d = attrs["size"]
    r = np.asarray(weight, np.float64)
    idx = (np.arange(d)[:, None] - np.arange(d)[None, :]) % d
    full = r[idx] * circulant_signs(attrs["seed"], d)[None, :]
    return full[: attrs["out_features"], :in_features]


def fastfood_matrix(s: np.ndarray, g: np.ndarray, b: np.ndarray, attrs: Mapping[str, Any],
                    in_features: int) -> np.ndarray:
    """The dense [out, in] matrix a fastfood layer applies (bias excluded): stacked S H G Pi H B."""
    import numpy as np  # values only: shape inference and counting never import numpy

    d, k = attrs["size"], blocks(attrs)
    h = hadamard(d)
    perms = fastfood_permutations(attrs["seed"], k, d)
    rows = []
    for i in range(k):
        phb = (h * np.asarray(b[i], np.float64)[None, :])[perms[i]]  # Pi H B
        rows.append(np.asarray(s[i], np.float64)[:, None] * fwht(np.asarray(g[i], np.float64)[:, None] * phb))
    return np.concatenate(rows, axis=0)[: attrs["out_features"], :in_features]


_CIRC_DOC = ("circulant projection of an FC layer: y = (R D x)[:out] + b, R circulant of the stored vector "
             "(length d = max(in, out)), D a fixed +/-1 diagonal from seed; computed with real FFTs")
_FF_DOC = ("Adaptive Fastfood FC layer: stacked V = S H G Pi H B (H Walsh-Hadamard, d = next power of two "
           ">= in; S, G, B stored diagonals [blocks, d]; Pi fixed permutations from seed)")

register_op(OpDef(
    name="circulant", group=OpGroup.STRUCTURED, doc=_CIRC_DOC, infer=_infer, count=count_circulant,
    normalize=_normalize("circulant"),
    params=(ParamSlot("weight", "normal_small"), ParamSlot("bias", "zeros", optional_attr="bias")),
    param_shapes=_circulant_params, attr_names=frozenset(_ATTRS),
))
register_op(OpDef(
    name="fastfood", group=OpGroup.STRUCTURED, doc=_FF_DOC, infer=_infer, count=count_fastfood,
    normalize=_normalize("fastfood"),
    params=(ParamSlot("s", "ones"), ParamSlot("g", "normal_small"), ParamSlot("b", "ones"),
            ParamSlot("bias", "zeros", optional_attr="bias")),
    param_shapes=_fastfood_params, attr_names=frozenset(_ATTRS),
))
