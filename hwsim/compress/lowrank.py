"""Low-rank factorization: ``svd`` (linear), ``tucker2`` and ``cp`` (conv, via tensorly), ``separable``.

Each pass replaces a layer by a chain of smaller layers. The last factor keeps the original node
name, its output tensor and its bias tensor (so consumers and later layer patterns still find it);
the earlier factors are new nodes ``<layer>.<factor>``. When the layer's weights are materialized
(given by a file or an earlier pass) the real weights are decomposed and the relative Frobenius
reconstruction error ||W - W'|| / ||W|| is recorded; otherwise only the structure changes (the new
factors get seeded weights) and the error is unknown (None). A rank rule that needs the spectrum
(``energy``) decomposes the (possibly seeded) weights in every case.

Rank rules (precedence: ``rank`` / ``ranks`` > ``energy`` > ``ratio``; default ratio 0.25):

* ``svd`` (Denton et al. 2014, Xue et al. 2013): W [out, in] ~ U_r S_r V_r^T -> linear(in -> r, no
  bias) then linear(r -> out, bias). ``ratio`` is a fraction of min(out, in); ``energy`` keeps the
  smallest r with sum_{i<=r} s_i^2 >= energy * sum s_i^2.
* ``tucker2`` (Kim et al., ICLR 2016): W [T, S, D, D] ~ core x0 U_out x1 U_in (tensorly
  partial_tucker on modes 0 and 1: HOSVD init from the unfoldings' Gram matrices, then
  ``n_iter_max`` HOOI sweeps, default 2) -> 1x1 conv S -> R3, DxD conv R3 -> R4 (the
  original stride, padding, dilation), 1x1 conv R4 -> T. Kim et al. pick R3, R4 with global
  VBMF; hwsim does not implement VBMF. Instead ``ranks: [R3, R4]``, ``ratio`` (R3 = ceil(ratio S),
  R4 = ceil(ratio T)), or ``energy``: per mode, the smallest rank whose leading singular values of
  that mode's unfolding keep ``energy`` of the squared Frobenius norm (an HOSVD energy rule).
  Parameters: S R3 + D^2 R3 R4 + T R4 (Kim's compression formula's denominator).
* ``cp`` (Lebedev et al., ICLR 2015): W ~ sum_r a_t (x) a_s (x) a_y (x) a_x by CP-ALS
  (:func:`cp_als`: tensorly parafac's algorithm, with a Khatri-Rao product that fits in memory for
  real kernels) -> 1x1 conv S -> R, kx1 depthwise, 1xk depthwise, 1x1 conv R -> T.
  ``ratio`` is the fraction of the layer's parameters to keep: R = floor(ratio T S kh kw / (S + kh +
  kw + T)).
* ``separable`` (Jaderberg et al., BMVC 2014, scheme 2): W [T, S, kh, kw] reshaped to
  [(S kh), (T kw)], truncated SVD of rank K -> kh x 1 conv S -> K then 1 x kw conv K -> T. ``ratio``
  is a fraction of min(S kh, T kw).

By default (``only_if_smaller``) a layer whose factorization would not store fewer parameters is left
alone and reported as skipped. A requested rank larger than the layer's matrix (or mode) is an error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, StrictInt

from hwsim.compress._splice import (
    dense, factored_rel_error, materialized, node_weight_bytes, one_blas_thread, rel_error, splice, squared_norm,
    unique_name,
)
from hwsim.compress.base import LayerChange, PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.errors import CompressionError
from hwsim.ir.graph import Node, OpGraph

DEFAULT_RATIO = 0.25


class _LowRankParams(PassParams):
    ratio: float | None = Field(default=None, gt=0.0, le=1.0)
    energy: float | None = Field(default=None, gt=0.0, le=1.0)
    only_if_smaller: bool = True


class SvdParams(_LowRankParams):
    rank: int | None = Field(default=None, ge=1)


class Tucker2Params(_LowRankParams):
    ranks: tuple[StrictInt, StrictInt] | None = Field(default=None, strict=False,  # a YAML list is a pair
                                                       description="(R3 input-side, R4 output-side)")
    n_iter_max: int = Field(default=2, ge=0, description="HOOI sweeps after the HOSVD (0: HOSVD only)")


class CpParams(PassParams):
    rank: int | None = Field(default=None, ge=1)
    ratio: float | None = Field(default=None, gt=0.0, le=1.0, description="fraction of the layer's parameters")
    n_iter_max: int = Field(default=5, ge=0, description="ALS sweeps")
    seed: int = 0
    only_if_smaller: bool = True


class SeparableParams(_LowRankParams):
    rank: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class Plan:
    """How one layer is rewritten: its replacement nodes, their real weights (None: not decomposed),
    and what to report."""

    nodes: tuple[Node, ...]
    weights: dict[str, np.ndarray] | None
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


# --- linear algebra ------------------------------------------------------------------------------
_GRAM_BLOCK_BYTES = 16 << 20  # float64 columns of the matrix converted at a time


def _column_blocks(a: np.ndarray) -> list[slice]:
    step = max(1, _GRAM_BLOCK_BYTES // (8 * max(a.shape[0], 1)))
    return [slice(j, j + step) for j in range(0, a.shape[1], step)]


def thin_svd(m: np.ndarray, rank: int | Callable[[np.ndarray], int] | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u, s, vt of a matrix (descending s) from the eigendecomposition of its smaller Gram matrix.

    Several times faster than LAPACK's gesdd on the wide unfoldings of conv kernels, and accurate to
    ~1e-8 of s_max in float64, far below what any rank choice here resolves. Directions of singular
    values below 1e-12 s_max are returned as zeros (they carry no energy). With ``rank`` (a number, or a
    rule that picks it from the singular values) only the r leading singular values and vectors are
    formed and returned (s then has r entries: ||m||_F^2 is the whole energy).
    The float64 Gram matrix and those vectors are accumulated a block of columns at a time, so no
    float64 copy of the whole matrix exists (it was twice a float32 layer's size)."""
    m = np.asarray(m)
    wide = m.shape[0] <= m.shape[1]
    a = m if wide else m.T
    from scipy.linalg.blas import dsyrk

    blocks = _column_blocks(a)
    n = a.shape[0]
    gram = np.zeros((n, n), order="F")  # Fortran order: BLAS's syrk adds each block's product in place
    for blk in blocks:
        part = a[:, blk].astype(np.float64)
        gram = dsyrk(1.0, part.T, beta=1.0, c=gram, trans=1, lower=1, overwrite_c=1)  # lower triangle += part part^T
    if rank is None:
        lam, vec = np.linalg.eigh(gram)  # reads the lower triangle, the one syrk filled
        order = np.argsort(lam)[::-1]
        s = np.sqrt(np.clip(lam[order], 0.0, None))
        u = vec[:, order]
    else:  # only the r leading pairs (LAPACK's subset driver, in place of the Gram matrix)
        import scipy.linalg

        if callable(rank):  # the rule needs every singular value first
            lam = scipy.linalg.eigh(gram, lower=True, eigvals_only=True, check_finite=False)
            r = min(n, rank(np.sqrt(np.clip(lam[::-1], 0.0, None))))
        else:
            r = min(n, int(rank))
        lam, vec = scipy.linalg.eigh(gram, lower=True, subset_by_index=[n - max(r, 1), n - 1], driver="evr",
                                     overwrite_a=True, check_finite=False)
        s = np.sqrt(np.clip(lam[::-1][:r], 0.0, None))
        u = vec[:, ::-1][:, :r]
    del gram
    r = u.shape[1]
    keep = s[:r] > 1e-12 * (s[0] if s.size else 0.0)
    basis = u[:, keep].T / s[:r][keep, None]
    other = np.zeros((r, a.shape[1]))
    for blk in blocks:
        other[keep, blk] = basis @ a[:, blk].astype(np.float64)
    return (u, s, other) if wide else (other.T, s, u.T)


def leading_vectors(m: np.ndarray, r: int) -> np.ndarray:
    """The r leading left singular vectors of m (the HOSVD factor of an unfolding), via its Gram matrix."""
    lam, vec = np.linalg.eigh(np.asarray(m, np.float64) @ np.asarray(m, np.float64).T)
    return vec[:, np.argsort(lam)[::-1][:r]]


# --- rank rules ----------------------------------------------------------------------------------
def energy_rank(singular_values: np.ndarray, energy: float) -> int:
    """Smallest r such that the r leading singular values keep ``energy`` of sum s^2."""
    s2 = np.asarray(singular_values, np.float64) ** 2
    total = s2.sum()
    if total <= 0:
        return 1
    cum = np.cumsum(s2) / total
    return int(min(len(s2), np.searchsorted(cum, energy - 1e-12) + 1))


def ratio_rank(ratio: float, full: int) -> int:
    return max(1, min(full, math.ceil(ratio * full - 1e-9)))


def _check_rank(rank: int, full: int, pass_name: str, layer: str, what: str) -> None:
    if rank > full:
        raise CompressionError(f"pass {pass_name!r}: rank {rank} is larger than the {what} (max rank {full})",
                               where=f"layer {layer!r}")


def _rank_rule(p: _LowRankParams | CpParams) -> str:
    if getattr(p, "rank", None) is not None or getattr(p, "ranks", None) is not None:
        return "rank"
    if getattr(p, "energy", None) is not None:
        return "energy"
    return "ratio"


# --- node builders -------------------------------------------------------------------------------
def conv_node(name: str, src: str, out: str, out_channels: int, kernel: Sequence[int], *, stride=(1, 1),
          padding=(0, 0, 0, 0), dilation=(1, 1), groups: int = 1, bias: bool = False,
          params: dict[str, str] | None = None, algorithm: str = "direct") -> Node:
    attrs = {"out_channels": out_channels, "kernel": list(kernel), "stride": list(stride),
             "padding": list(padding), "dilation": list(dilation), "groups": groups, "bias": bias}
    if algorithm != "direct":
        attrs["algorithm"] = algorithm
    return Node(name, "conv2d", (src,), (out,), attrs, params or {})


def _last_params(node: Node, weight_name: str) -> dict[str, str]:
    """The last factor keeps the layer's bias tensor and gets a new weight tensor name."""
    out = {"weight": weight_name}
    if "bias" in node.params:
        out["bias"] = node.params["bias"]
    return out


def _names(graph: OpGraph, node: Node, suffixes: Sequence[str], taken: set[str]) -> list[str]:
    return [unique_name(graph, f"{node.name}.{s}", taken) for s in suffixes]


def _skip(reason: str, **details: Any) -> Plan:
    return Plan((), None, details, reason)


# --- svd -----------------------------------------------------------------------------------------
def _plan_svd(graph: OpGraph, node: Node, p: SvdParams, taken: set[str]) -> Plan:
    out_f, in_f = graph.tensor(node.params["weight"]).shape
    full = min(out_f, in_f)
    rule = _rank_rule(p)
    decompose = materialized(graph, node) or rule == "energy"
    u = s = vt = w = None
    if rule == "rank":
        assert p.rank is not None
        _check_rank(p.rank, full, "svd", node.name, f"weight matrix {out_f}x{in_f}")
        r = p.rank
    elif rule == "ratio":
        r = ratio_rank(p.ratio or DEFAULT_RATIO, full)
    if decompose:  # only the r vectors used are formed (energy: r picked from the singular values)
        energy = p.energy
        w = graph.dense_weight(node.params["weight"])  # as stored (float32): the helpers widen a block at a time
        u, s, vt = thin_svd(w, (lambda sv: energy_rank(sv, energy)) if rule == "energy" else r)
    if rule == "energy":  # thin_svd applied the rule: s holds the r leading singular values it picked
        assert s is not None
        r = s.size
    details = {"rank": r, "full_rank": full, "rank_rule": rule}
    if p.only_if_smaller and r * (out_f + in_f) >= out_f * in_f:
        return _skip(f"rank {r} would not store fewer parameters than {out_f}x{in_f}", **details)
    v_name, u_name = _names(graph, node, ["svd_v", "svd_u"], taken)
    w_u = f"{u_name}.weight"
    nodes = (Node(v_name, "linear", node.inputs, (v_name,), {"out_features": r, "bias": False}),
             Node(node.name, "linear", (v_name,), node.outputs, {"out_features": out_f, "bias": "bias" in node.params},
                  _last_params(node, w_u)))
    weights = None
    if decompose:
        assert u is not None and s is not None and vt is not None and w is not None
        root = np.sqrt(s[:r])
        vt[:r] *= root[:, None]  # in place: vt is thin_svd's own array, and a float64 product was the layer's size x2
        u[:, :r] *= root[None, :]
        wv, wu = vt[:r].astype(np.float32), u[:, :r].astype(np.float32)
        del u, vt
        weights = {f"{v_name}.weight": wv, w_u: wu}
        details["reconstruction_error"] = factored_rel_error(w, wu, wv)
        details["energy_kept"] = float((s[:r] ** 2).sum() / max(squared_norm(w), 1e-300))
    else:
        details["reconstruction_error"] = None
    return Plan(nodes, weights, details)


# --- tucker-2 ------------------------------------------------------------------------------------
def unfold(t: np.ndarray, mode: int) -> np.ndarray:
    return np.moveaxis(t, mode, 0).reshape(t.shape[mode], -1)


def kim_params(s: int, t: int, d2: int, r3: int, r4: int) -> int:
    """Weights of Kim et al.'s Tucker-2 block: S R3 + D^2 R3 R4 + T R4."""
    return s * r3 + d2 * r3 * r4 + t * r4


def _conv_eligible(node: Node, pass_name: str) -> str | None:
    a = node.attrs
    if a["groups"] != 1:
        return "grouped/depthwise convolution"
    if a["kernel"] == [1, 1]:
        return "1x1 kernel"
    return None


def _plan_tucker2(graph: OpGraph, node: Node, p: Tucker2Params, taken: set[str]) -> Plan:
    why = _conv_eligible(node, "tucker2")
    if why:
        return _skip(why)
    t_out, s_in, kh, kw = graph.tensor(node.params["weight"]).shape
    rule = _rank_rule(p)
    decompose = materialized(graph, node) or rule == "energy"
    w = dense(graph, node) if decompose else None
    if rule == "rank":
        assert p.ranks is not None
        r3, r4 = p.ranks
        _check_rank(r3, s_in, "tucker2", node.name, f"input mode of the {t_out}x{s_in}x{kh}x{kw} kernel (R3)")
        _check_rank(r4, t_out, "tucker2", node.name, f"output mode of the {t_out}x{s_in}x{kh}x{kw} kernel (R4)")
    elif rule == "energy":
        assert w is not None and p.energy is not None
        r4 = energy_rank(thin_svd(unfold(w, 0))[1], p.energy)
        r3 = energy_rank(thin_svd(unfold(w, 1))[1], p.energy)
    else:
        ratio = p.ratio or DEFAULT_RATIO
        r3, r4 = ratio_rank(ratio, s_in), ratio_rank(ratio, t_out)
    new_params = kim_params(s_in, t_out, kh * kw, r3, r4)
    details: dict[str, Any] = {"ranks": [r3, r4], "rank_rule": rule, "params_factorized": new_params,
                               "compression_kim": t_out * s_in * kh * kw / new_params}
    if p.only_if_smaller and new_params >= t_out * s_in * kh * kw:
        return _skip(f"ranks {[r3, r4]} would not store fewer parameters", **details)
    a = node.attrs
    first, core, last = _names(graph, node, ["tucker_in", "tucker_core", "tucker_out"], taken)
    w_last = f"{last}.weight"
    nodes = (conv_node(first, node.inputs[0], first, r3, (1, 1)),
             conv_node(core, first, core, r4, a["kernel"], stride=a["stride"], padding=a["padding"],
                   dilation=a["dilation"]),
             conv_node(node.name, core, node.outputs[0], t_out, (1, 1), bias=a["bias"], params=_last_params(node, w_last)))
    if w is None:
        details["reconstruction_error"] = None
        return Plan(nodes, None, details)
    from tensorly.decomposition import partial_tucker

    hosvd = [leading_vectors(unfold(w, 0), r4), leading_vectors(unfold(w, 1), r3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (core_t, (u_out, u_in)), _ = partial_tucker(w, rank=[r4, r3], modes=[0, 1], init=hosvd,
                                                    n_iter_max=p.n_iter_max)
    core_t, u_out, u_in = np.asarray(core_t), np.asarray(u_out), np.asarray(u_in)
    approx = np.einsum("abyx,ta,sb->tsyx", core_t, u_out, u_in, optimize=True)
    details["reconstruction_error"] = rel_error(w, approx)
    weights = {f"{first}.weight": u_in.T.reshape(r3, s_in, 1, 1).astype(np.float32),
               f"{core}.weight": core_t.astype(np.float32),
               w_last: u_out.reshape(t_out, r4, 1, 1).astype(np.float32)}
    return Plan(nodes, weights, details)


# --- cp ------------------------------------------------------------------------------------------
def _plan_cp(graph: OpGraph, node: Node, p: CpParams, taken: set[str]) -> Plan:
    why = _conv_eligible(node, "cp")
    if why:
        return _skip(why)
    t_out, s_in, kh, kw = graph.tensor(node.params["weight"]).shape
    per_rank = s_in + kh + kw + t_out
    full_params = t_out * s_in * kh * kw
    if p.rank is not None:
        r = p.rank
    else:
        r = max(1, math.floor((p.ratio or DEFAULT_RATIO) * full_params / per_rank))
    details: dict[str, Any] = {"rank": r, "rank_rule": "rank" if p.rank is not None else "ratio",
                               "params_factorized": r * per_rank}
    if p.only_if_smaller and r * per_rank >= full_params:
        return _skip(f"rank {r} would not store fewer parameters", **details)
    a = node.attrs
    (sh, sw), (dh, dw) = a["stride"], a["dilation"]
    pt, pl, pb, pr = a["padding"]
    n_in, n_v, n_h, n_out = _names(graph, node, ["cp_in", "cp_v", "cp_h", "cp_out"], taken)
    w_last = f"{n_out}.weight"
    nodes = (conv_node(n_in, node.inputs[0], n_in, r, (1, 1)),
             conv_node(n_v, n_in, n_v, r, (kh, 1), stride=(sh, 1), padding=(pt, 0, pb, 0), dilation=(dh, 1), groups=r),
             conv_node(n_h, n_v, n_h, r, (1, kw), stride=(1, sw), padding=(0, pl, 0, pr), dilation=(1, dw), groups=r),
             conv_node(node.name, n_h, node.outputs[0], t_out, (1, 1), bias=a["bias"], params=_last_params(node, w_last)))
    if not materialized(graph, node):
        details["reconstruction_error"] = None
        return Plan(nodes, None, details)
    w = dense(graph, node)
    a_t, a_s, a_y, a_x = cp_als(w, r, p.n_iter_max, p.seed)
    details["reconstruction_error"] = rel_error(w, cp_full(a_t, a_s, a_y, a_x))
    weights = {f"{n_in}.weight": a_s.T.reshape(r, s_in, 1, 1).astype(np.float32),
               f"{n_v}.weight": a_y.T.reshape(r, 1, kh, 1).astype(np.float32),
               f"{n_h}.weight": a_x.T.reshape(r, 1, 1, kw).astype(np.float32),
               w_last: a_t.reshape(t_out, r, 1, 1).astype(np.float32)}
    return Plan(nodes, weights, details)


def cp_full(a_t: np.ndarray, a_s: np.ndarray, a_y: np.ndarray, a_x: np.ndarray) -> np.ndarray:
    """The kernel W[t, s, y, x] = sum_r a_t[t, r] a_s[s, r] a_y[y, r] a_x[x, r]."""
    return (a_t @ _kr(a_s, a_y, a_x).T).reshape(a_t.shape[0], a_s.shape[0], a_y.shape[0], a_x.shape[0])


def _init_factor(unfolded: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """HOSVD initialization (as tensorly's ``init='svd'``): leading singular vectors, random columns
    beyond the mode's dimension."""
    lead = leading_vectors(unfolded, min(r, unfolded.shape[0]))
    if r <= lead.shape[1]:
        return lead
    return np.concatenate([lead, rng.standard_normal((unfolded.shape[0], r - lead.shape[1]))], axis=1)


def _kr(*factors: np.ndarray) -> np.ndarray:
    """Khatri-Rao product, rows ordered like a row-major reshape of the modes (first mode slowest)."""
    out = factors[0]
    for f in factors[1:]:
        out = (out[:, None, :] * f[None, :, :]).reshape(-1, out.shape[1])
    return out


def cp_als(w: np.ndarray, rank: int, n_iter: int, seed: int = 0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CP decomposition of a conv kernel W [T, S, kh, kw] by alternating least squares.

    The same algorithm as tensorly's ``parafac`` (HOSVD init, one least-squares update per mode per
    sweep), arranged for conv kernels: the products for the two channel modes are single GEMMs
    against a Khatri-Rao product of the other channel mode and the tiny spatial modes
    ([S kh kw, rank] numbers), and the two spatial modes share one GEMM, whereas tensorly forms the
    Khatri-Rao product of the three other modes for every mode (T S kh x rank numbers: 3.6 GB for a
    512x512x3x3 kernel at rank 572). The weights lambda are folded into a_t. Deterministic for a
    given ``seed``."""
    w = np.asarray(w, np.float64)
    t_out, s_in, kh, kw = w.shape
    rng = np.random.default_rng(seed)
    a_t = _init_factor(unfold(w, 0), rank, rng)
    a_s = _init_factor(unfold(w, 1), rank, rng)
    a_y = _init_factor(unfold(w, 2), rank, rng)
    a_x = _init_factor(unfold(w, 3), rank, rng)
    w0 = w.reshape(t_out, s_in * kh * kw)
    w1 = w.transpose(1, 0, 2, 3).reshape(s_in, t_out * kh * kw)
    for _ in range(n_iter):
        g_y, g_x = a_y.T @ a_y, a_x.T @ a_x
        a_t = (w0 @ _kr(a_s, a_y, a_x)) @ np.linalg.pinv((a_s.T @ a_s) * g_y * g_x)
        a_s = (w1 @ _kr(a_t, a_y, a_x)) @ np.linalg.pinv((a_t.T @ a_t) * g_y * g_x)
        # the spatial modes share P[r, y, x] = sum_{t,s} W[t, s, y, x] a_t[t, r] a_s[s, r]
        q = (a_t.T @ w0).reshape(rank, s_in, kh * kw)
        pmat = np.einsum("rsk,sr->rk", q, a_s, optimize=True).reshape(rank, kh, kw)
        g_ts = (a_t.T @ a_t) * (a_s.T @ a_s)
        a_y = np.einsum("ryx,xr->yr", pmat, a_x, optimize=True) @ np.linalg.pinv(g_ts * g_x)
        a_x = np.einsum("ryx,yr->xr", pmat, a_y, optimize=True) @ np.linalg.pinv(g_ts * (a_y.T @ a_y))
        # keep the scale in a_t (columns of the other factors unit-norm) for conditioning
        for f in (a_s, a_y, a_x):
            norms = np.linalg.norm(f, axis=0)
            norms[norms == 0] = 1.0
            f /= norms
            a_t = a_t * norms[None, :]
    return a_t, a_s, a_y, a_x


# --- spatially separable -------------------------------------------------------------------------
def _plan_separable(graph: OpGraph, node: Node, p: SeparableParams, taken: set[str]) -> Plan:
    if node.attrs["groups"] != 1:
        return _skip("grouped/depthwise convolution")
    t_out, s_in, kh, kw = graph.tensor(node.params["weight"]).shape
    if kh == 1 or kw == 1:
        return _skip(f"{kh}x{kw} kernel is already separable")
    full = min(s_in * kh, t_out * kw)
    rule = _rank_rule(p)
    decompose = materialized(graph, node) or rule == "energy"
    u = s = vt = None
    if decompose:
        w = dense(graph, node)
        m = w.transpose(1, 2, 0, 3).reshape(s_in * kh, t_out * kw)
        u, s, vt = thin_svd(m)
    if rule == "rank":
        assert p.rank is not None
        _check_rank(p.rank, full, "separable", node.name,
                    f"({s_in}*{kh})x({t_out}*{kw}) matrix of the {t_out}x{s_in}x{kh}x{kw} kernel")
        k = p.rank
    elif rule == "energy":
        assert s is not None and p.energy is not None
        k = energy_rank(s, p.energy)
    else:
        k = ratio_rank(p.ratio or DEFAULT_RATIO, full)
    new_params = k * (s_in * kh + t_out * kw)
    details: dict[str, Any] = {"rank": k, "full_rank": full, "rank_rule": rule, "params_factorized": new_params}
    if p.only_if_smaller and new_params >= t_out * s_in * kh * kw:
        return _skip(f"rank {k} would not store fewer parameters", **details)
    a = node.attrs
    (sh, sw), (dh, dw) = a["stride"], a["dilation"]
    pt, pl, pb, pr = a["padding"]
    n_v, n_h = _names(graph, node, ["sep_v", "sep_h"], taken)
    w_last = f"{n_h}.weight"
    nodes = (conv_node(n_v, node.inputs[0], n_v, k, (kh, 1), stride=(sh, 1), padding=(pt, 0, pb, 0), dilation=(dh, 1)),
             conv_node(node.name, n_v, node.outputs[0], t_out, (1, kw), stride=(1, sw), padding=(0, pl, 0, pr),
                   dilation=(1, dw), bias=a["bias"], params=_last_params(node, w_last)))
    if not decompose:
        details["reconstruction_error"] = None
        return Plan(nodes, None, details)
    assert u is not None and s is not None and vt is not None
    root = np.sqrt(s[:k])
    v = (u[:, :k] * root[None, :]).reshape(s_in, kh, k).transpose(2, 0, 1)  # [K, S, kh]
    h = (root[:, None] * vt[:k]).reshape(k, t_out, kw).transpose(1, 0, 2)  # [T, K, kw]
    approx = np.einsum("ksy,tkx->tsyx", v, h, optimize=True)
    details["reconstruction_error"] = rel_error(dense(graph, node), approx)
    weights = {f"{n_v}.weight": v.reshape(k, s_in, kh, 1).astype(np.float32),
               w_last: h.reshape(t_out, k, 1, kw).astype(np.float32)}
    return Plan(nodes, weights, details)


# --- the shared driver ---------------------------------------------------------------------------
PlanFn = Callable[[OpGraph, Node, Any, set[str]], Plan]


def apply_plans(graph: OpGraph, params: PassParams, ops: Sequence[str], pass_name: str, plan: PlanFn,
                action: str, notes: tuple[str, ...] = ()) -> PassResult:
    """Plan every selected layer, splice all replacements at once, and report bytes per layer."""
    taken: set[str] = set()
    plans: dict[str, Plan] = {}
    with one_blas_thread():
        for node in select_layers(graph, params, ops, pass_name):
            plans[node.name] = plan(graph, node, layer_params(params, node.name), taken)
    done = {k: v for k, v in plans.items() if v.skipped is None}
    changes: list[LayerChange] = []
    if not done:
        for name, pl in plans.items():
            before = node_weight_bytes(graph, [graph.node(name)])
            changes.append(LayerChange(name, "skipped", before, before, {**pl.details, "reason": pl.skipped}))
        reasons = sorted({str(pl.skipped) for pl in plans.values()})
        why = "; ".join(reasons[:4]) if plans else f"no {' or '.join(ops)} layer selected"
        return PassResult(graph, False, tuple(changes), (f"{pass_name}: no layer rewritten ({why})",))
    weights: dict[str, Any] = {}
    for pl in done.values():
        weights.update(pl.weights or {})
    new = splice(graph, {k: list(v.nodes) for k, v in done.items()}, weights=weights)
    for name, pl in plans.items():
        before = node_weight_bytes(graph, [graph.node(name)])
        if pl.skipped is not None:
            changes.append(LayerChange(name, "skipped", before, before, {**pl.details, "reason": pl.skipped}))
            continue
        after = node_weight_bytes(new, [new.node(n.name) for n in pl.nodes])
        details = {**pl.details, "into": [n.name for n in pl.nodes], "materialized": pl.weights is not None}
        changes.append(LayerChange(name, action, before, after, details))
    return PassResult(new, True, tuple(changes), notes)


_NOTE = ("low-rank factors are initialized from the decomposition; accuracy after fine-tuning is unknown "
         "(the tool does not train)",)


@register_pass("svd", SvdParams, family="lowrank")
def svd(graph: OpGraph, params: SvdParams) -> PassResult:
    """Truncated SVD of linear layers: W [out, in] -> linear(in -> r) then linear(r -> out)."""
    return apply_plans(graph, params, ("linear",), "svd", _plan_svd, "factorized", _NOTE)


@register_pass("tucker2", Tucker2Params, family="lowrank")
def tucker2(graph: OpGraph, params: Tucker2Params) -> PassResult:
    """Tucker-2 (Kim et al. 2016) of kxk convs: 1x1 (S -> R3), kxk core (R3 -> R4), 1x1 (R4 -> T)."""
    return apply_plans(graph, params, ("conv2d",), "tucker2", _plan_tucker2, "factorized", _NOTE)


@register_pass("cp", CpParams, family="lowrank")
def cp(graph: OpGraph, params: CpParams) -> PassResult:
    """CP decomposition (Lebedev et al. 2015) of kxk convs: 1x1, kx1 depthwise, 1xk depthwise, 1x1."""
    return apply_plans(graph, params, ("conv2d",), "cp", _plan_cp, "factorized", _NOTE)


@register_pass("separable", SeparableParams, family="lowrank")
def separable(graph: OpGraph, params: SeparableParams) -> PassResult:
    """Spatially separable filters (Jaderberg et al. 2014): kxk conv -> kx1 conv (S -> K) + 1xk conv (K -> T)."""
    return apply_plans(graph, params, ("conv2d",), "separable", _plan_separable, "factorized", _NOTE)
