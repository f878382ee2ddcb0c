"""Epilogues folded into a producer's kernel: bias, inference batchnorm (its per-channel scale and
shift), relu and relu6 applied to each output value before it is stored, in one compiled pass.

The executor's plan (``hwsim.kernels.plan``) folds the batchnorm / relu / relu6 nodes that directly
follow a conv2d, linear or add into that producer's step. A depthwise conv applies the epilogue inside
its loop (``hwsim.kernels.jit_dense.depthwise_nhwc``); every other producer gets one compiled pass over
its fresh output (``apply``), whatever its layout (NCHW, channels-last, [N, features]).

Each stage is exactly the float32 operation of the node's own kernel (``k_batchnorm``: ``x * scale``
then ``+ shift``; relu: ``np.maximum(x, 0)``; relu6: ``np.clip(x, 0, 6)``; bias: ``y += b``), rounded the
same way (the loops are compiled without fast-math), so a folded run is bit-identical to running the
nodes one by one (held by a test).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.kernels.pointwise import batchnorm_scale_shift
from hwsim.kernels.registry import KernelCall, KernelDef
from hwsim.registry import Registry

#: Ops whose computation a producer's epilogue can absorb.
FOLDABLE = frozenset({"batchnorm", "relu", "relu6"})

# stage codes, as hwsim.kernels.jit_dense reads them (kept here so that building a program never
# imports numba)
ADD, MUL, RELU, RELU6 = 1, 2, 3, 4


@dataclass(frozen=True)
class Epilogue:
    """A program of per-channel stages: ``codes[s]`` and its operand row ``vectors[s]``."""

    codes: np.ndarray  # int64 [S]
    vectors: np.ndarray  # [S, C], in the activations' dtype

    @property
    def empty(self) -> bool:
        return self.codes.size == 0


def build_epilogue(channels: int, bias: Any = None, calls: Sequence[KernelCall] = (),
                   dtype: Any = np.float32) -> Epilogue:
    """The program for an optional bias, then the folded nodes' calls in order (ops in ``FOLDABLE``),
    its operands in ``dtype`` (the activations')."""
    dtype = np.dtype(dtype)
    codes: list[int] = []
    rows: list[np.ndarray] = []
    none = np.zeros(channels, dtype)
    if bias is not None:
        codes.append(ADD)
        rows.append(np.broadcast_to(np.asarray(bias, dtype).reshape(-1), (channels,)))
    for call in calls:
        op = call.node.op
        if op == "batchnorm":
            scale, shift = batchnorm_scale_shift(call, dtype, 2)
            codes += [MUL, ADD]
            rows += [scale.reshape(-1), shift.reshape(-1)]
        elif op == "relu":
            codes.append(RELU)
            rows.append(none)
        elif op == "relu6":
            codes.append(RELU6)
            rows.append(none)
        else:
            raise ValueError(f"op {op!r} cannot be folded into an epilogue (foldable: {sorted(FOLDABLE)})")
    vectors = np.ascontiguousarray(np.stack(rows), dtype) if rows else np.zeros((0, channels), dtype)
    return Epilogue(np.asarray(codes, np.int64), vectors)


def apply(y: np.ndarray, ep: Epilogue) -> np.ndarray:
    """Apply ``ep`` to ``y`` (channels on axis 1), in place when ``y`` is float32 and NCHW- or
    channels-last-contiguous (the layouts the kernels produce); otherwise on a contiguous copy.
    Returns the array holding the result."""
    if ep.empty:
        return y
    from hwsim.kernels import jit_dense  # numba, on the first folded run only

    if y.dtype != np.float32 or ep.vectors.dtype != np.float32:  # a float64 oracle run: NumPy, its dtype
        return _apply_numpy(y, ep)
    n, c = y.shape[0], y.shape[1]
    if y.ndim == 2 and y.flags.c_contiguous:
        jit_dense.epilogue_rows(y, ep.codes, ep.vectors)
        return y
    last = y.transpose(0, *range(2, y.ndim), 1)
    if last.flags.c_contiguous:  # channels-last memory seen through an NCHW-shaped view
        jit_dense.epilogue_rows(last.reshape(-1, c), ep.codes, ep.vectors)
        return y
    if not y.flags.c_contiguous or not y.flags.writeable:
        y = np.ascontiguousarray(y)
    jit_dense.epilogue_planes(y.reshape(n, c, -1), ep.codes, ep.vectors)
    return y


def _apply_numpy(y: np.ndarray, ep: Epilogue) -> np.ndarray:
    shape = (1, -1) + (1,) * (y.ndim - 2)
    for code, v in zip(ep.codes, ep.vectors):
        if code == ADD:
            y += v.reshape(shape)
        elif code == MUL:
            y *= v.reshape(shape)
        elif code == RELU:
            np.maximum(y, 0, out=y)
        else:
            np.clip(y, 0, 6, out=y)
    return y


def owns_fresh(arr: np.ndarray, inputs: tuple[np.ndarray, ...]) -> bool:
    """True if ``arr`` may be overwritten: writeable and sharing no memory with any input."""
    return arr.flags.writeable and not any(np.may_share_memory(arr, x) for x in inputs)


FoldingKernel = Callable[[KernelCall, Sequence[KernelCall]], tuple[np.ndarray, ...]]
#: (op, form) -> its kernel taking the folded nodes' calls, for producers that apply the epilogue
#: inside their own loop or pass (conv2d); other producers get ``apply`` on their output.
FOLDING_KERNELS: Registry[tuple[str, str], FoldingKernel] = Registry("epilogue-folding kernel")


def run_folded(kdef: KernelDef, call: KernelCall, folded: Sequence[KernelCall]) -> tuple[np.ndarray, ...]:
    """Run the producer's kernel with the folded nodes (``FOLDABLE`` ops, in order) as its epilogue:
    the same bits as the kernel, then each folded node's own kernel."""
    if (kdef.op, kdef.form) in FOLDING_KERNELS:
        return FOLDING_KERNELS.get((kdef.op, kdef.form))(call, folded)
    outs = kdef.fn(call)
    y = outs[0] if owns_fresh(outs[0], call.inputs) else outs[0].copy()
    return (apply(y, build_epilogue(y.shape[1], None, folded, y.dtype)), *outs[1:])
