"""FFT convolution (Mathieu et al. 2014; Vasilache et al., fbfft): transform the padded input and the
zero-padded filter once, multiply pointwise in the frequency domain (one complex GEMM over channels per
frequency bin), transform back. CNN convolution is cross-correlation, so the filter spectrum is
conjugated; outputs are read at stride steps. Work is O(HW log HW) per channel, independent of kh x kw."""

from __future__ import annotations

import numpy as np

from hwsim.kernels.conv_common import ConvGeometry, add_bias, pad_nchw
from hwsim.kernels.registry import KernelCall, register_kernel

FFT_RTOL = 1e-4


def fft_conv(x: np.ndarray, w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    n, c = x.shape[:2]
    o = w.shape[0]
    gr = geo.groups
    cg, og = c // gr, o // gr
    xp = pad_nchw(x, geo.pads)
    hp, wp = xp.shape[2], xp.shape[3]
    if (geo.dh, geo.dw) != (1, 1):  # a dilated filter is the filter with zeros between its taps
        wd = np.zeros(w.shape[:2] + ((geo.kh - 1) * geo.dh + 1, (geo.kw - 1) * geo.dw + 1), w.dtype)
        wd[:, :, ::geo.dh, ::geo.dw] = w
        w = wd
    complex_dt = np.complex64 if np.result_type(x, w) == np.float32 else np.complex128
    xf = np.fft.rfft2(xp, axes=(2, 3)).astype(complex_dt, copy=False)  # N, C, hp, wp/2+1
    wf = np.conj(np.fft.rfft2(w, s=(hp, wp), axes=(2, 3))).astype(complex_dt, copy=False)  # O, Cg, hp, wf
    bins = xf.shape[2] * xf.shape[3]
    xb = xf.reshape(n, gr, cg, bins).transpose(3, 1, 2, 0)  # bins, G, Cg, N
    wb = wf.reshape(gr, og, cg, bins).transpose(3, 0, 1, 2)  # bins, G, Og, Cg
    yb = np.matmul(wb, xb)  # bins, G, Og, N
    yf = yb.transpose(3, 1, 2, 0).reshape(n, o, xf.shape[2], xf.shape[3])
    y = np.fft.irfft2(yf, s=(hp, wp), axes=(2, 3))
    y = y[:, :, : geo.sh * (geo.ho - 1) + 1: geo.sh, : geo.sw * (geo.wo - 1) + 1: geo.sw]
    return np.ascontiguousarray(y, dtype=np.result_type(x, w))


@register_kernel("conv2d", "fft", "tolerance", rtol=FFT_RTOL)
def k_conv_fft(call: KernelCall) -> tuple[np.ndarray, ...]:
    """Dense conv2d by FFT: pointwise complex products per frequency bin, padded-input-sized transforms."""
    x = call.inputs[0]
    w = np.asarray(call.weight("weight"), dtype=x.dtype)
    b = call.weight("bias")
    return (add_bias(fft_conv(x, w, ConvGeometry.of(call.attrs, x.shape)), None if b is None else np.asarray(b)),)
