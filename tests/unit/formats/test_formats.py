"""Storage formats: bit-exact round trips on real arrays, sizes from the encoded streams, formulas
held against real encodings, Huffman bounds, relative-index filler zeros."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.errors import CompressionError, UnknownNameError
from hwsim.formats import (
    FORMATS, CodebookPayload, FixedWidthInts, HuffmanInts, QuantizedIntPayload, RelativeIndexPayload, encode,
    expected_fillers, relative_entries,
)
from hwsim.formats.huffman import estimate_huffman_bits
from hwsim.formats.intstream import pack_bits, unpack_bits

LOSSLESS_STRUCTURES = ["dense", "csr", "csc", "coo", "bitmap", "relative_index"]


def sparse_weights(shape, density, seed=0):
    """Kaiming-like weights magnitude-pruned to ``density`` (positions uniformly random)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(np.float32)
    if density < 1:
        k = int(round(w.size * density))
        thr = np.sort(np.abs(w).ravel())[::-1][k - 1] if k else np.inf
        w = np.where(np.abs(w) >= thr, w, np.float32(0))
    return w


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(np.asarray(a, np.float32).view(np.uint32),
                                                 np.asarray(b, np.float32).view(np.uint32))


def test_registry_holds_every_format_and_rejects_unknown():
    for name in ["dense", "codebook", "quantized_int", "csr", "csc", "coo", "bitmap", "relative_index", "hashed",
                 "huffman"]:
        assert name in FORMATS
    with pytest.raises(UnknownNameError, match="known: .*relative_index"):
        FORMATS.get("ell")
    with pytest.raises(CompressionError, match="unknown option"):
        encode("csr", np.ones((2, 2), np.float32), index_bits=3)


@pytest.mark.parametrize("name", LOSSLESS_STRUCTURES)
@pytest.mark.parametrize("shape, density", [((300, 784), 0.08), ((50, 20, 5, 5), 0.12), ((10,), 0.5),
                                            ((20, 1, 5, 5), 0.66), ((7, 9), 1.0), ((4, 4), 0.0)])
def test_lossless_round_trip_bit_exact(name, shape, density):
    w = sparse_weights(shape, density, seed=len(shape))
    p = encode(name, w)
    assert p.format == name
    assert bits_equal(p.decode(), w)
    assert p.nnz == np.count_nonzero(w)


@pytest.mark.parametrize("name", LOSSLESS_STRUCTURES[1:])
def test_structures_carry_codebook_and_quantized_values_exactly(name):
    w = sparse_weights((64, 3, 3, 3), 0.3, seed=3)
    cb = encode("codebook", np.round(w * 4) / 4)
    q = encode("quantized_int", w, bits=6, per_channel=True)
    qa = encode("quantized_int", w, bits=4, symmetric=False)
    for src in (cb, q, qa):
        p = encode(name, src)
        assert bits_equal(p.decode(), src.decode())
        assert p.meta()["value_format"] == src.meta()["value_format"]


@pytest.mark.parametrize("name", LOSSLESS_STRUCTURES[1:])
def test_stored_bits_are_the_serialized_streams(name):
    w = sparse_weights((120, 200), 0.1, seed=5)
    p = encode("huffman", encode(name, encode("codebook", np.round(w * 8) / 8)))
    streams = p.int_streams()
    serialized = sum(len(s.to_bytes()) * 8 for s in streams.values())
    counted = sum(s.stored_bits for s in streams.values())
    assert counted <= serialized < counted + 32 * len(streams)  # each section pads to a byte
    # the payload's size is its streams plus the non-stream parts (bitmap mask, centroid table)
    other = p.stored_bits - counted
    expected_other = p.values.table_bits + (p.numel if name == "bitmap" else 0)
    assert other == expected_other


@pytest.mark.parametrize("name", ["csr", "csc", "coo", "bitmap", "relative_index"])
@pytest.mark.parametrize("density", [0.03, 0.08, 0.3, 0.7])
def test_formula_estimators_match_real_encodings(name, density):
    """Uniformly random sparsity: the formula (with expected fillers) is within 2% of the real size."""
    w = sparse_weights((400, 500), density, seed=11)
    real = encode(name, w).stored_bits
    est = FORMATS[name].estimate(w.shape, np.count_nonzero(w) / w.size, 32)
    assert abs(est - real) / real < 0.02, (name, density, est, real)


def test_dense_codebook_quantized_estimators_exact():
    w = sparse_weights((64, 32, 3, 3), 1.0)
    assert FORMATS["dense"].estimate(w.shape, 1.0, 32) == encode("dense", w).stored_bits
    q = encode("quantized_int", w, bits=8, per_channel=True)
    assert FORMATS["quantized_int"].estimate(w.shape, 1.0, 8, channels=64) == q.stored_bits
    cb = encode("codebook", np.clip(np.round(w * 2) / 2, -3.5, 3.5), bits=4)
    assert FORMATS["codebook"].estimate(w.shape, 1.0, 4, table_bits=cb.values.table_bits) == cb.stored_bits
    assert FORMATS["hashed"].estimate(w.shape, 1.0, 32, buckets=500) == encode("hashed", w, buckets=500).stored_bits
    huff = encode("huffman", cb)
    counts = np.bincount(cb.indices().ravel(), minlength=16)
    probs = counts[counts > 0] / counts.sum()
    entropy = float(-(probs * np.log2(probs)).sum())
    est = FORMATS["huffman"].estimate(w.shape, 1.0, 4, table_bits=cb.values.table_bits, entropy_bits=entropy)
    assert est <= huff.stored_bits <= est + w.size  # the real code is within one bit per symbol of the entropy


def test_relative_index_fillers_follow_the_paper_figure():
    """Fig. 2 of Deep Compression with a 3-bit index: a gap larger than 8 needs a filler zero."""
    x = np.zeros(30, np.float32)
    x[[1, 4, 15, 29]] = [1.0, 2.0, 3.0, 4.0]
    p = encode("relative_index", x, index_bits=3)
    # runs of zeros before each non-zero: 1, 2, 10 (> 7: one filler at position 4+8=12, then run 2), 13 (> 7: filler
    # at 15+8=23, then run 5)
    assert p.runs.values().tolist() == [1, 2, 7, 2, 7, 5]
    assert p.fillers == 2 and p.entries == 6 and p.nnz == 4
    assert p.entry_positions().tolist() == [1, 4, 12, 15, 23, 29]
    assert p.values.decode().tolist() == [1, 2, 0, 3, 0, 4]
    assert p.stored_bits == 6 * (3 + 32)
    assert bits_equal(p.decode(), x)


def test_relative_index_counts_fillers_from_real_gaps():
    """Structured sparsity (whole input columns pruned, as MNIST border pixels are) needs more fillers
    than uniform sparsity of the same density, and the encoding counts them."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 784)).astype(np.float32)
    dead = np.zeros(784, bool)
    dead[:300] = True  # 300 input columns entirely zero
    w[:, dead] = 0
    keep = np.abs(w) > 1.2
    w = np.where(keep, w, 0).astype(np.float32)
    density = np.count_nonzero(w) / w.size
    real = encode("relative_index", w, index_bits=5)
    assert real.fillers == sum(int(f) for f in [relative_entries(np.flatnonzero(w), 5)[2]])
    assert real.fillers > 1.3 * expected_fillers(np.count_nonzero(w), density, 5)
    assert bits_equal(real.decode(), w)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=0, max_size=300), st.integers(1, 8))
def test_relative_index_property(gaps, bits):
    pos = np.cumsum(np.asarray(gaps, np.int64) + 1) - 1 if gaps else np.zeros(0, np.int64)
    x = np.zeros(int(pos[-1]) + 3 if pos.size else 5, np.float32)
    x[pos] = np.arange(1, pos.size + 1, dtype=np.float32)
    p = encode("relative_index", x, index_bits=bits)
    assert bits_equal(p.decode(), x)
    assert p.fillers == int(sum(g >> bits for g in gaps))
    assert int(p.runs.values().max(initial=0)) < 2**bits


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2000), st.integers(0, 2**31))
def test_fixed_width_pack_round_trip(bits, n, seed):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 2**bits, n, dtype=np.uint64) if bits < 64 else rng.integers(0, 2**62, n)
    buf = pack_bits(v, bits)
    assert len(buf) == (n * bits + 7) // 8
    assert np.array_equal(unpack_bits(buf, n, bits), v.astype(np.int64))
    s = FixedWidthInts.of(v, bits)
    assert s.stored_bits == n * bits
    assert np.array_equal(FixedWidthInts.from_bytes(s.to_bytes(), n, bits).values(), s.values())


@pytest.mark.parametrize("n, p", [(1, 0.5), (7, 0.5), (5000, 0.3), (100_000, 0.08), (20_000, 0.9)])
def test_huffman_round_trip_through_bytes_and_entropy_bounds(n, p):
    rng = np.random.default_rng(n)
    v = np.minimum(rng.geometric(p, n) - 1, 31)
    h = HuffmanInts.encode(v, block_symbols=1000)
    back = HuffmanInts.from_bytes(h.to_bytes())
    assert np.array_equal(back.values(), v)
    assert h.stored_bits <= len(h.to_bytes()) * 8 < h.stored_bits + 8 * 4
    counts = np.bincount(v)
    probs = counts[counts > 0] / n
    entropy = float(-(probs * np.log2(probs)).sum())
    assert n * entropy - 1e-6 <= h.payload_bits <= n * max(entropy, 0) + n  # H <= L < H + 1
    est = estimate_huffman_bits(counts, block_symbols=1000)
    assert abs(est - h.stored_bits) <= n + 64


def test_huffman_limits_code_length_and_handles_single_symbol():
    fib = [1, 1]
    while len(fib) < 40:
        fib.append(fib[-1] + fib[-2])
    v = np.repeat(np.arange(40), np.minimum(fib, 10**6)[::-1][:40] // 100 + 1)
    h = HuffmanInts.encode(v)
    assert int(h.lengths.max()) <= 20
    assert np.array_equal(HuffmanInts.from_bytes(h.to_bytes()).values(), v)
    one = HuffmanInts.encode(np.full(9, 4))
    assert one.payload_bits == 9 and np.array_equal(one.values(), np.full(9, 4))


def test_huffman_payload_codes_named_streams_only_when_smaller():
    w = sparse_weights((200, 300), 0.08, seed=2)
    cb = encode("codebook", np.round(w * 3) / 3)
    ri = encode("relative_index", cb, index_bits=5)
    h = encode("huffman", ri)
    assert set(h.int_streams()) == {"runs", "values.codes"}
    assert all(s.coding == "huffman" for s in h.int_streams().values())
    assert h.stored_bits < ri.stored_bits and bits_equal(h.decode(), ri.decode())
    only = encode("huffman", ri, streams=["runs"])
    assert only.int_streams()["values.codes"].coding == "fixed"
    with pytest.raises(CompressionError, match="no integer stream"):
        encode("huffman", ri, streams=["indptr"])
    uniform = encode("codebook", np.arange(256, dtype=np.float32) - 128)
    assert encode("huffman", uniform) is uniform  # no gain on a uniform histogram: stays fixed width
    with pytest.raises(CompressionError, match="not float"):
        encode("huffman", w)


def test_codebook_lossless_for_few_values_and_zero_code():
    rng = np.random.default_rng(1)
    vals = np.array([-0.5, -0.25, 0.125, 0.75], np.float32)
    x = rng.choice(vals, size=(30, 40))
    x[rng.random(x.shape) < 0.5] = 0
    cb = encode("codebook", x, bits=3)
    assert isinstance(cb, CodebookPayload)
    assert cb.values.zero_code == 0 and cb.centroids[0] == 0
    assert bits_equal(cb.decode(), x)
    assert cb.stored_bits == x.size * 3 + 5 * 32
    with pytest.raises(CompressionError, match="distinct values"):
        encode("codebook", x, bits=2)


@pytest.mark.parametrize("bits, symmetric, per_channel", [(8, True, False), (8, True, True), (4, False, True),
                                                          (3, False, False), (2, True, True), (1, False, False)])
def test_quantized_int_error_bound_zero_exact_and_sizes(bits, symmetric, per_channel):
    w = sparse_weights((16, 8, 3, 3), 0.5, seed=bits)
    q = encode("quantized_int", w, bits=bits, symmetric=symmetric, per_channel=per_channel)
    assert isinstance(q, QuantizedIntPayload)
    d = q.decode()
    scale = q.scale.reshape(-1, *([1] * (w.ndim - 1))) if per_channel else q.scale[0]
    assert np.all(np.abs(d - w) <= scale / 2 + 1e-6)
    assert np.all(d[w == 0] == 0)  # zero is exact (pruned weights stay pruned)
    qv = q.q()
    lo, hi = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if symmetric else (0, 2**bits - 1)
    assert qv.min() >= lo and qv.max() <= hi and qv.shape == w.shape
    channels = 16 if per_channel else 1
    assert q.stored_bits == w.size * bits + channels * (32 + (0 if q.values.symmetric else bits))
    # re-encoding with the same scales is exact (the grid is a fixed point)
    again = encode("quantized_int", d, bits=bits, symmetric=symmetric, per_channel=per_channel, scale=q.scale,
                   zero_point=q.zero_point)
    assert bits_equal(again.decode(), d)


def test_stochastic_rounding_is_seeded_and_unbiased():
    x = np.full(20000, 0.3, np.float32)
    scale = np.array([1.0], np.float32)
    a = encode("quantized_int", x, bits=4, rounding="stochastic", seed=7, scale=scale)
    b = encode("quantized_int", x, bits=4, rounding="stochastic", seed=7, scale=scale)
    assert np.array_equal(a.q(), b.q())
    assert abs(a.decode().mean() - 0.3) < 0.02  # nearest rounding would give exactly 0
    assert encode("quantized_int", x, bits=4, scale=scale).decode().max() == 0
    with pytest.raises(CompressionError, match="bits >= 2"):
        encode("quantized_int", x, bits=1)


def test_fp16_and_bf16_dense_storage():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(1000) * 10).astype(np.float32)
    h = encode("dense", x, kind="fp16")
    assert np.array_equal(h.decode(), x.astype(np.float16).astype(np.float32)) and h.stored_bits == 16000
    b = encode("dense", x, kind="bf16")
    d = b.decode()
    assert b.stored_bits == 16000
    assert np.all(d.view(np.uint32) & 0xFFFF == 0)  # only the top 16 bits survive
    assert np.all(np.abs(d - x) <= np.abs(x) * 2.0**-8)  # 8 significant bits, round to nearest
    assert bits_equal(encode("dense", d, kind="bf16").decode(), d)


def test_hashed_storage_least_squares_and_determinism():
    w = sparse_weights((50, 40), 1.0, seed=9)
    p = encode("hashed", w, buckets=100, seed=3)
    assert p.stored_bits == 100 * 32 + 64
    assert bits_equal(p.decode(), encode("hashed", w, buckets=100, seed=3).decode())
    idx, sign = p.bucket_index().ravel(), p.signs().ravel()
    for k in (0, 17, 99):
        sel = idx == k
        assert np.isclose(p.buckets.decode()[k], np.mean(w.ravel()[sel] * sign[sel]), atol=1e-6)
    with pytest.raises(CompressionError, match="buckets"):
        encode("hashed", w, buckets=0)


def test_relative_index_rejects_bad_width():
    with pytest.raises(CompressionError, match="1..32"):
        encode("relative_index", np.ones(4, np.float32), index_bits=0)
    assert isinstance(encode("relative_index", np.ones(4, np.float32), index_bits=1), RelativeIndexPayload)
