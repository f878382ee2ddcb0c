"""Quantized activations: a tensor annotated with an integer dtype and ``scale`` (and optionally
``zero_point``) meta holds values on that integer grid. The executor snaps every such tensor to its
grid when it is produced (it keeps the float value of each code, so float kernels read it unchanged);
integer kernels recover the codes exactly."""

from __future__ import annotations

import numpy as np

from hwsim.ir.tensor import TensorSpec


def activation_quant(spec: TensorSpec) -> tuple[float, int, int, int] | None:
    """(scale, zero_point, qmin, qmax) of a quantized activation tensor, or None for a float one."""
    if spec.dtype.kind not in ("int", "uint"):
        return None
    meta = spec.meta_dict()
    if "scale" not in meta:
        return None
    scale = meta["scale"]
    scale = float(scale[0] if isinstance(scale, (list, tuple)) else scale)
    zp = meta.get("zero_point", 0)
    zp = int(zp[0] if isinstance(zp, (list, tuple)) else zp)
    return scale, zp, int(spec.dtype.min_value), int(spec.dtype.max_value)


def quantize_activation(x: np.ndarray, q: tuple[float, int, int, int]) -> np.ndarray:
    """Integer codes minus zero point of a float activation on its grid: clip(rint(x / s) + z) - z."""
    scale, zp, lo, hi = q
    return np.clip(np.rint(x / np.float32(scale)) + zp, lo, hi) - zp


def fake_quantize(x: np.ndarray, q: tuple[float, int, int, int]) -> np.ndarray:
    """The float value each activation takes on its integer grid (what the next op reads)."""
    return (quantize_activation(x, q) * np.float32(q[0])).astype(np.float32)
