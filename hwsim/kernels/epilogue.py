"""Epilogues folded into a producer's kernel: bias, inference batchnorm (its per-channel scale and
shift), relu, relu6, sigmoid and SiLU applied to each output value before it is stored, in one
compiled pass; and the sigmoid and SiLU kernels themselves (the same compiled loop).

The executor's plan (``hwsim.kernels.plan``) folds the nodes of these ops that directly follow a
conv2d, linear or add into that producer's step. A depthwise conv applies the epilogue inside
its loop (``hwsim.kernels.jit_dense.depthwise_nhwc``); every other producer gets one compiled pass over
its fresh output (``apply``), whatever its layout (NCHW, channels-last, [N, features]).

Each stage is exactly the float32 operation of the node's own kernel (``k_batchnorm``: ``x * scale``
then ``+ shift``; relu: ``np.maximum(x, 0)``; relu6: ``np.clip(x, 0, 6)``; bias: ``y += b``; sigmoid and
SiLU: their kernels below run the very same compiled stage), rounded the same way (the loops are
compiled without fast-math), so a folded run is bit-identical to running the nodes one by one (held
by a test).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwsim.kernels.pointwise import POINTWISE_RTOL, batchnorm_scale_shift, sigmoid_into
from hwsim.kernels.registry import KernelCall, KernelDef, register_kernel
from hwsim.registry import Registry

# stage codes, as hwsim.kernels.jit_dense reads them (kept here so that building a program never
# imports numba)
ADD, MUL, RELU, RELU6, SIGMOID, SILU = 1, 2, 3, 4, 5, 6
#: Activation ops -> their stage code (no operand).
#: The channels-last epilogue pass runs its loops over at least this many values (several pixels
#: when there are few channels), its operands repeated to match.
ROW_RUN = 512
ACTIVATION_STAGES = {"relu": RELU, "relu6": RELU6, "sigmoid": SIGMOID, "silu": SILU}
#: Ops whose computation a producer's epilogue can absorb.
FOLDABLE = frozenset({"batchnorm", *ACTIVATION_STAGES})


@dataclass(frozen=True)
class Epilogue:
    """A program of per-channel stages: ``codes[s]`` and its operand row ``vectors[s]``."""

    codes: np.ndarray  # int64 [S]
    vectors: np.ndarray  # [S, C], in the activations' dtype
    _repeats: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    _padded: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return self.codes.size == 0

    def repeated(self, pixels: int) -> np.ndarray:
        """The operands repeated for ``pixels`` consecutive channels-last pixels, [S, pixels * C]
        (made once per program and count: programs are kept per stored weight)."""
        if pixels not in self._repeats:
            self._repeats[pixels] = np.ascontiguousarray(np.tile(self.vectors, (1, pixels)))
        return self._repeats[pixels]

    def padded(self, width: int) -> np.ndarray:
        """The operands zero-padded to ``width`` >= C channels, [S, width] (a kernel that loads them in
        whole vectors past the last channel; made once per program and width)."""
        if width not in self._padded:
            rows = np.zeros((self.vectors.shape[0], width), self.vectors.dtype)
            rows[:, :self.vectors.shape[1]] = self.vectors
            self._padded[width] = rows
        return self._padded[width]


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
        elif op in ACTIVATION_STAGES:
            codes.append(ACTIVATION_STAGES[op])
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
    last = y if y.ndim == 2 else y.transpose(0, *range(2, y.ndim), 1)
    if last.flags.c_contiguous:  # [N, features], or channels-last memory seen through an NCHW-shaped view
        jit_dense.epilogue_rows(last.reshape(-1, c), ep.codes, row_operands(ep, c))
        return y
    if not y.flags.c_contiguous or not y.flags.writeable:
        y = np.ascontiguousarray(y)
    jit_dense.epilogue_planes(y.reshape(n, c, -1), ep.codes, ep.vectors)
    return y


def row_operands(ep: Epilogue, channels: int) -> np.ndarray:
    """The operands of the channels-last pass (``jit_dense.epilogue_rows``) over rows of ``channels``
    values: repeated for the pixels one vector loop of ``ROW_RUN`` values covers."""
    return ep.repeated(-(-ROW_RUN // channels))


def _apply_numpy(y: np.ndarray, ep: Epilogue) -> np.ndarray:
    shape = (1, -1) + (1,) * (y.ndim - 2)
    for code, v in zip(ep.codes, ep.vectors):
        if code == ADD:
            y += v.reshape(shape)
        elif code == MUL:
            y *= v.reshape(shape)
        elif code == RELU:
            np.maximum(y, 0, out=y)
        elif code == RELU6:
            np.clip(y, 0, 6, out=y)
        else:
            s = sigmoid_into(y, np.empty_like(y))
            if code == SILU:
                y *= s
            else:
                y[...] = s
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


def _activation_kernel(op: str) -> None:
    code = np.array([ACTIVATION_STAGES[op]], np.int64)

    def kernel(call: KernelCall) -> tuple[np.ndarray, ...]:
        x = call.inputs[0]
        y = np.array(x, order="C")  # a fresh copy, computed in place
        if y.ndim < 2:
            return (apply(y.reshape(1, -1), Epilogue(code, np.zeros((1, 1), y.dtype))).reshape(x.shape),)
        return (apply(y, Epilogue(code, np.zeros((1, y.shape[1]), y.dtype))),)

    kernel.__doc__ = (f"{op}, elementwise: the compiled epilogue stage (exp by a polynomial within 1 ulp), "
                      f"as when folded into its producer.")
    register_kernel(op, "dense", "tolerance", rtol=POINTWISE_RTOL)(kernel)


for _op in ("sigmoid", "silu"):
    _activation_kernel(_op)
