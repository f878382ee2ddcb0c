"""Cost of compressed-sparse and coded weights: index storage and decoding, irregular gathers,
load imbalance across lanes, codebook lookups and entropy decoding; and the break-even density below
which a sparse format beats dense storage on a device.

Read only from annotations: ``encoding`` (csr, csc, coo, bitmap, relative_index, codebook, huffman,
...), ``density``, the real ``stored_bits`` and ``meta`` (index_bits, entries, filler_zeros,
value_format, value_coding, index_coding) that ``hwsim.formats`` payloads write.

The model (documented in docs/devices.md):
  cycles = dense MAC cycles x (entries / numel) / gather_efficiency x imbalance
         + entries x index_decode_cycles x ceil(m / lanes) / workers      (index decoding)
         + values x codebook_lookup_cycles / (lanes x workers)             (shared-value lookup)
         + coded symbols x huffman_decode_cycles_per_symbol / workers      (entropy decoding)
(the entropy term only on a device with ``sparse.huffman_decode: on_the_fly``; by default Huffman stages
are decoded once at model load and weights are read in their inner fixed-width encoding)
where entries = stored non-zeros plus filler zeros (relative indexing), m = rows the weights are
applied to (batch x output pixels), and imbalance = expected max / mean non-zeros per worker for
uniformly random positions (normal approximation of the binomial): 1 + sqrt(2 ln P) sd / mean.
Dense storage of a pruned tensor (encoding dense, density < 1) gets no speed-up: dense kernels
multiply the zeros. Where the sparse form would be slower than dense on a CPU/GPU
(``sparse.dense_fallback``, on by default), the engine expands it to dense at load time
(``dense_fallback``) and the op is costed that way, as a runtime would choose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim.cost.work import Gemm, OpWork, WeightInfo
from hwsim.hardware.profile import DeviceProfile
from hwsim.ir.dtypes import DType, dtype

#: Structure formats that let a kernel skip zeros (and must decode indices to do so).
SPARSE_STRUCTURES = frozenset({"csr", "csc", "coo", "bitmap", "relative_index"})
#: Indices decoded per stored entry.
_INDICES_PER_ENTRY = {"csr": 1.0, "csc": 1.0, "coo": 2.0, "bitmap": 1.0, "relative_index": 1.0}


@dataclass(frozen=True)
class SparseView:
    """What a weight's storage asks of the compute units beyond the dense MACs."""

    structure: str  # "dense" or a sparse structure
    effectual_fraction: float  # share of the dense MACs a kernel must execute (fillers included)
    index_decodes: float  # indices decoded per pass over the weights
    lookups: float  # codebook lookups per pass
    huffman_symbols: float  # entropy-coded symbols decoded per pass
    density: float

    @property
    def skips_zeros(self) -> bool:
        return self.structure in SPARSE_STRUCTURES


def sparse_view(w: WeightInfo | None, *, huffman_on_the_fly: bool = False) -> SparseView | None:
    """None for plain dense weights (nothing to add to the dense cost).

    Huffman-coded streams cost decoding cycles only on a device that decodes them on every inference
    (``huffman_on_the_fly``); by default they are decoded once at model load and kernels run on the
    inner encoding (see ``hwsim.cost.work.WeightInfo``)."""
    if w is None:
        return None
    meta = w.meta
    structure = str(meta.get("structure", w.encoding))
    if w.encoding in SPARSE_STRUCTURES:
        structure = w.encoding
    value_format = meta.get("value_format")
    codebook = w.encoding == "codebook" or value_format == "codebook"
    huffman = huffman_on_the_fly and (w.encoding == "huffman" or meta.get("value_coding") == "huffman"
                                      or meta.get("index_coding") == "huffman")
    if structure not in SPARSE_STRUCTURES and not codebook and not huffman:
        return None
    nnz = int(meta.get("nnz", w.nonzeros))
    if structure in SPARSE_STRUCTURES:
        entries = float(meta.get("entries", nnz + int(meta.get("filler_zeros", 0))))
        frac = min(1.0, entries / max(w.numel, 1))
        decodes = entries * _INDICES_PER_ENTRY[structure]
        if structure == "bitmap":  # scan the presence bits a 64-bit word at a time, plus one ctz per hit
            decodes = entries + w.numel / 64
        values = entries
    else:
        frac, decodes, values = 1.0, 0.0, float(w.numel)
    symbols = 0.0
    if huffman:
        symbols = values + (decodes if meta.get("index_coding") == "huffman" or w.encoding == "huffman" else 0.0)
    return SparseView(structure if structure in SPARSE_STRUCTURES else "dense", frac, decodes,
                      values if codebook else 0.0, symbols, w.density)


def dense_fallback(w: WeightInfo) -> tuple[SparseView | None, float]:
    """How a sparse weight runs when the engine expands it to dense storage at load time (what TFLite's
    Densify does with a sparse tensor a dense kernel beats): its values at their stored width for
    every element, zeros included. Shared-value codes stay codes (a codebook lookup per weight per
    pass, in the kernel); float and integer values are plain dense weights.

    Returns (view, bytes per element): the view is None for plain dense values."""
    meta = w.meta
    numel = max(w.numel, 1)
    if meta.get("value_format") == "codebook":
        bits = int(meta.get("value_bits", 8))
        table = int(meta.get("codebook_size", 2 ** bits)) * int(meta.get("codebook_bits", 32))
        view = SparseView("dense", 1.0, 0.0, float(w.numel), 0.0, w.density)
        return view, (w.numel * bits + table) / 8 / numel
    bits = int(meta.get("value_bits", w.dtype.bits))
    return None, bits / 8


def imbalance(density: float, positions: float, workers: int) -> float:
    """Expected max / mean of non-zeros per worker when ``positions`` weight positions with
    independent keep-probability ``density`` are dealt evenly to ``workers``."""
    if workers <= 1 or density >= 1.0 or density <= 0.0 or positions <= 0:
        return 1.0
    per = positions / workers
    mean = per * density
    if mean <= 0:
        return 1.0
    sd = math.sqrt(per * density * (1.0 - density))
    return 1.0 + math.sqrt(2.0 * math.log(workers)) * sd / mean


@dataclass(frozen=True)
class SparseCycles:
    mac_cycles: float  # replaces the dense MAC cycles
    decode_cycles: float  # index decode + lookups + entropy decoding
    imbalance: float
    notes: tuple[str, ...]


def sparse_cycles(view: SparseView, dense_mac_cycles: float, g: Gemm, device: DeviceProfile, *, lanes: int,
                  workers: int) -> SparseCycles:
    t = device.sparse
    notes: list[str] = []
    mac = dense_mac_cycles
    imb = 1.0
    if view.skips_zeros:
        imb = imbalance(view.density, g.batch * g.n * g.k, workers)
        mac = dense_mac_cycles * view.effectual_fraction / t.gather_efficiency * imb
        notes.append(f"sparse {view.structure}: {view.effectual_fraction:.3g} of MACs, gather efficiency "
                     f"{t.gather_efficiency:g}, imbalance x{imb:.3f}")
    m_blocks = math.ceil(g.m / max(lanes, 1))
    decode = view.index_decodes * t.index_decode_cycles * m_blocks / max(workers, 1)
    decode += view.lookups * t.codebook_lookup_cycles / max(lanes * workers, 1)
    decode += view.huffman_symbols * t.huffman_decode_cycles_per_symbol / max(workers, 1)
    if view.lookups:
        notes.append("codebook lookups")
    if view.huffman_symbols:
        notes.append("Huffman decoding at run time")
    return SparseCycles(mac, decode, imb, tuple(notes))


# --- break-even density ------------------------------------------------------------------------------
def _stored_bits(encoding: str, shape: tuple[int, ...], density: float, value_bits: int) -> int:
    from hwsim.formats.base import FORMATS  # formats register themselves on import
    import hwsim.formats.sparse  # noqa: F401
    import hwsim.formats.relative_index  # noqa: F401

    return int(FORMATS.get(encoding).estimate(shape, density, value_bits))


def synthetic_linear(encoding: str, density: float, *, m: int = 1, n: int = 1024, k: int = 1024,
                     weight_dtype: DType | str = "fp32", act_dtype: DType | str = "fp32") -> OpWork:
    """A linear layer [m x k] x [k x n] whose weight is stored in ``encoding`` at ``density``."""
    wd, ad = dtype(weight_dtype), dtype(act_dtype)
    shape = (n, k)
    if encoding == "dense":
        stored = n * k * wd.bits
        nnz = int(round(n * k * density))
    else:
        stored = _stored_bits(encoding, shape, density, wd.bits)
        nnz = int(round(n * k * density))
    weight = WeightInfo(dtype=wd, encoding=encoding, density=density, numel=n * k, nonzeros=nnz,
                        stored_bytes=(stored + 7) // 8, meta={"nnz": nnz})
    a_bytes = (m * k * ad.bits + 7) // 8
    return OpWork(node=f"fc_{encoding}", op="linear", group="dense", macs=m * n * k, arith={}, gemm=Gemm(1, m, n, k),
                  act_dtype=ad, out_dtype=ad, weight=weight, other_param_bytes=0, in_bytes=(a_bytes,),
                  out_bytes=(m * n * ad.bits + 7) // 8, in_numel=m * k, out_numel=m * n)


def break_even_density(device: DeviceProfile, encoding: str = "csr", *, m: int = 1, n: int = 1024, k: int = 1024,
                       weight_dtype: str = "fp32", act_dtype: str = "fp32", tol: float = 1e-4) -> float | None:
    """Density below which ``encoding`` runs faster than dense storage of the same layer on ``device``.

    Returns 0.0 when the sparse format never wins and 1.0 when it wins even fully dense; None when
    the device kind has no cost model. Solved by bisection on the device's own cost model.
    """
    from hwsim.cost.registry import UnsupportedOpError, cost_model  # lazy: the registry imports the models
    from hwsim.cost.work import Workload
    from hwsim.errors import UnknownNameError

    try:
        model = cost_model(device.kind)
    except UnknownNameError:
        return None

    def latency(enc: str, d: float) -> int:
        w = synthetic_linear(enc, d, m=m, n=n, k=k, weight_dtype=weight_dtype, act_dtype=act_dtype)
        acts = w.act_in_bytes + w.out_bytes
        one = Workload(model=w.node, ops=(w,), input_bytes=w.act_in_bytes, weight_bytes=w.param_bytes,
                       live_after=(w.out_bytes,), peak_activation_bytes=acts, peak_step=0)
        return model.cost_graph(one, device)[0].lower_bound_cycles  # whole-graph models (FPGA) too

    try:
        dense = latency("dense", 1.0)
    except UnsupportedOpError:
        return None
    lo, hi = 1e-4, 1.0
    if latency(encoding, lo) >= dense:
        return 0.0
    if latency(encoding, hi) < dense:
        return 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if latency(encoding, mid) < dense:
            lo = mid
        else:
            hi = mid
    return round(lo, 4)
