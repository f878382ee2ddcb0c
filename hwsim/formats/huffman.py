"""Canonical Huffman coding of an integer stream (Deep Compression's third stage).

Stored form (what ``stored_bits`` counts, exactly what ``to_bytes`` writes before byte padding):

- header: symbol count n, alphabet size A, block size B and bitstream length T (32 bits each),
- the code table: one 5-bit code length per alphabet symbol (canonical codes are rebuilt from the
  lengths alone, as DEFLATE does),
- block offsets: the bit position where each block of B symbols starts (blocks 2..), each
  ``ceil(log2(T+1))`` bits wide. They let a decoder (or a hardware engine with several lanes) start
  every block independently; hwsim's decoder walks all blocks in lockstep with NumPy,
- the bitstream: T bits, codes written most-significant bit first.

Code lengths are limited to ``MAX_CODE_BITS`` (by flattening the histogram until the longest code
fits) so the decoder's lookup table stays small.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from hwsim.errors import CompressionError
from hwsim.formats.base import FormatDef, check_options, register_format
from hwsim.formats.intstream import IntStream, min_bits, pack_bits, stored_ints, unpack_bits

MAX_CODE_BITS = 20
LENGTH_FIELD_BITS = 5  # code lengths 0..20 (0 = symbol absent)
HEADER_BITS = 4 * 32
DEFAULT_BLOCK_SYMBOLS = 4096
_CHUNK = 1 << 20


def code_lengths(counts: np.ndarray, max_bits: int = MAX_CODE_BITS) -> np.ndarray:
    """Huffman code length per symbol (0 for absent symbols), limited to ``max_bits``."""
    counts = np.asarray(counts, np.int64)
    present = np.flatnonzero(counts)
    lengths = np.zeros(counts.size, np.int64)
    if present.size == 0:
        return lengths
    if present.size == 1:
        lengths[present[0]] = 1
        return lengths
    work = counts.copy()
    while True:
        heap = [(int(work[s]), i, [int(s)]) for i, s in enumerate(present)]
        heapq.heapify(heap)
        depth = {int(s): 0 for s in present}
        tie = len(heap)
        while len(heap) > 1:
            c1, _, s1 = heapq.heappop(heap)
            c2, _, s2 = heapq.heappop(heap)
            for s in s1:
                depth[s] += 1
            for s in s2:
                depth[s] += 1
            heapq.heappush(heap, (c1 + c2, tie, s1 + s2))
            tie += 1
        for s, d in depth.items():
            lengths[s] = d
        if lengths.max() <= max_bits:
            return lengths
        work[present] = np.maximum(1, work[present] >> 1)  # flatten the histogram and retry


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical code words (as integers, MSB first) for the given lengths; 0 where length is 0."""
    lengths = np.asarray(lengths, np.int64)
    codes = np.zeros(lengths.size, np.int64)
    order = sorted((int(lengths[s]), s) for s in np.flatnonzero(lengths))
    code, prev_len = 0, 0
    for i, (length, s) in enumerate(order):
        if i:
            code = (code + 1) << (length - prev_len)
        else:
            code = 0
        codes[s] = code
        prev_len = length
    return codes


def _encode_bits(symbols: np.ndarray, codes: np.ndarray, ln_all: np.ndarray) -> tuple[bytes, int]:
    """The concatenated code words (MSB first, big-endian bit order) and their total bit count.

    Each code (at most ``MAX_CODE_BITS`` bits) starting at bit offset o within its first byte fits in a
    32-bit window of 4 bytes; code words never share a bit, so the windows' bytes can simply be *added*
    into the output (``np.bincount`` with weights), with no per-bit expansion."""
    total = int(ln_all.sum(dtype=np.int64))
    out = np.zeros((total + 7) // 8 + 4, np.float64)
    offset = 0
    for start in range(0, symbols.size, _CHUNK):
        ln = ln_all[start:start + _CHUNK].astype(np.int64)  # the symbols' code lengths, one chunk widened
        cw = codes[symbols[start:start + _CHUNK]]
        first = offset + np.cumsum(ln) - ln
        offset = int(first[-1] + ln[-1]) if ln.size else offset
        byte = first >> 3
        window = cw << (32 - (first & 7) - ln)
        lo = int(byte[0]) if byte.size else 0
        span = int(byte[-1]) - lo + 4 if byte.size else 0
        rel = byte - lo
        for k in range(4):
            part = ((window >> (24 - 8 * k)) & 0xFF).astype(np.float64)
            out[lo:lo + span] += np.bincount(rel + k, weights=part, minlength=span)[:span]
    return out[:(total + 7) // 8].astype(np.uint8).tobytes(), total


@dataclass(frozen=True, eq=False)
class HuffmanInts:
    """A Huffman-coded integer stream (see the module docstring for the stored layout)."""

    n: int
    lengths: np.ndarray  # code length per alphabet symbol, uint8
    bitstream: bytes
    payload_bits: int  # T
    block_symbols: int
    block_offsets: np.ndarray  # bit offset of blocks 1.. (block 0 starts at 0), int64
    fixed_bits: int = 0  # width of the fixed-width stream this one replaced (0 = unknown)

    @classmethod
    def encode(cls, values: np.ndarray, block_symbols: int = DEFAULT_BLOCK_SYMBOLS,
               alphabet: int | None = None) -> "HuffmanInts":
        v = np.asarray(values).ravel()  # kept in its own (usually small unsigned) dtype: no int64 copy
        if v.dtype.kind not in "iu":
            v = v.astype(np.int64)
        if v.size and v.min() < 0:
            raise CompressionError("Huffman coding takes non-negative integers")
        if block_symbols < 1:
            raise CompressionError(f"Huffman block size must be >= 1 symbols, got {block_symbols}")
        size = max(int(v.max()) + 1 if v.size else 1, alphabet or 0)
        counts = np.bincount(v, minlength=size)
        lengths = code_lengths(counts)
        codes = canonical_codes(lengths)
        lengths = lengths.astype(np.uint8)  # code lengths are at most MAX_CODE_BITS
        ln = lengths[v]  # one byte per symbol
        stream, total = _encode_bits(v, codes, ln)
        # bit offset of every block_symbols-th symbol: the running sum of whole blocks' lengths
        whole = (v.size - 1) // block_symbols if v.size else 0
        block_bits = ln[: whole * block_symbols].reshape(whole, block_symbols).sum(1, dtype=np.int64)
        offsets = np.cumsum(block_bits, dtype=np.int64)
        return cls(int(v.size), lengths, stream, total, block_symbols, offsets)

    @property
    def coding(self) -> str:
        return "huffman"

    @property
    def bits(self) -> int:
        """Nominal width: the fixed width this stream had before Huffman coding (for annotations)."""
        return self.fixed_bits or min_bits(self.alphabet - 1)

    @property
    def alphabet(self) -> int:
        return int(self.lengths.size)

    @property
    def offset_bits(self) -> int:
        return min_bits(self.payload_bits)

    @property
    def table_bits(self) -> int:
        """Header plus code table: what a decoder needs besides the bitstream."""
        return HEADER_BITS + LENGTH_FIELD_BITS * self.alphabet

    @property
    def stored_bits(self) -> int:
        return self.table_bits + self.block_offsets.size * self.offset_bits + self.payload_bits

    @property
    def mean_code_bits(self) -> float:
        """Average bits per symbol of the bitstream alone (the papers' 'bits per weight/index')."""
        return self.payload_bits / self.n if self.n else 0.0

    def values(self) -> np.ndarray:
        return self._decoded

    @cached_property
    def _decoded(self) -> np.ndarray:
        """Table decode, blocks in lockstep: the (symbol, length) of the code word that would start at
        every bit position comes from one vectorized lookup of the next ``width`` bits; then every block
        follows its chain of code words one step per NumPy gather (``block_symbols`` steps in all).
        Decoded once per stream and kept (the kernels and the reference read the same values)."""
        if self.n == 0:
            return np.zeros(0, np.int64)
        lengths = self.lengths.astype(np.int64)
        width = int(lengths.max())
        codes = canonical_codes(lengths)
        lut_sym = np.zeros(1 << width, np.int64)
        lut_len = np.ones(1 << width, np.int64)  # windows no code word starts with: never on a valid chain
        for s in np.flatnonzero(lengths):
            lo = int(codes[s]) << (width - int(lengths[s]))
            hi = (int(codes[s]) + 1) << (width - int(lengths[s]))
            lut_sym[lo:hi] = s
            lut_len[lo:hi] = lengths[s]
        total = self.payload_bits
        raw = np.frombuffer(self.bitstream + b"\0\0\0\0", np.uint8).astype(np.uint32)
        words = (raw[:-3] << 24) | (raw[1:-2] << 16) | (raw[2:-1] << 8) | raw[3:]  # 32 bits from each byte
        at = np.arange(total, dtype=np.uint32)
        window = (words[at >> 3] << (at & 7)) >> np.uint32(32 - width)  # uint32: the shift drops passed bits
        sym_at = np.append(lut_sym[window], 0)
        next_at = np.append(np.minimum(at + lut_len[window], total), total)  # the end absorbs
        del at, window
        starts = np.concatenate([[0], self.block_offsets]).astype(np.int64)
        steps = min(self.block_symbols, self.n)
        visited = np.empty((steps, starts.size), np.int64)
        pos = starts
        for step in range(steps):
            visited[step] = pos
            pos = next_at[pos]
        return sym_at[visited.T.ravel()[:self.n]]

    # --- serialization -----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        header = np.array([self.n, self.alphabet, self.block_symbols, self.payload_bits], "<u4").tobytes()
        table = pack_bits(self.lengths, LENGTH_FIELD_BITS)
        offsets = pack_bits(self.block_offsets, self.offset_bits)
        return header + table + offsets + self.bitstream

    @classmethod
    def from_bytes(cls, buf: bytes) -> "HuffmanInts":
        n, alphabet, block, total = (int(x) for x in np.frombuffer(buf[:16], "<u4"))
        at = 16
        tlen = (alphabet * LENGTH_FIELD_BITS + 7) // 8
        lengths = unpack_bits(buf[at:at + tlen], alphabet, LENGTH_FIELD_BITS).astype(np.uint8)
        at += tlen
        nblocks = math.ceil(n / block) if n else 0
        width = min_bits(total)
        olen = (max(nblocks - 1, 0) * width + 7) // 8
        offsets = unpack_bits(buf[at:at + olen], max(nblocks - 1, 0), width)
        at += olen
        return cls(n, lengths, bytes(buf[at:at + (total + 7) // 8]), total, block, offsets)


def huffman_stream(stream: IntStream, block_symbols: int = DEFAULT_BLOCK_SYMBOLS) -> HuffmanInts:
    """Huffman-code any integer stream (already-coded streams are decoded first)."""
    h = HuffmanInts.encode(stored_ints(stream), block_symbols)
    return replace(h, fixed_bits=int(getattr(stream, "bits", 0) or 0))


def estimate_huffman_bits(counts: np.ndarray, block_symbols: int = DEFAULT_BLOCK_SYMBOLS) -> int:
    """Formula estimate from a symbol histogram alone: n x entropy (the lower bound the real code
    exceeds by less than one bit per symbol) plus table and offsets, for cost-only runs."""
    counts = np.asarray(counts, np.float64)
    n = counts.sum()
    if n == 0:
        return HEADER_BITS + LENGTH_FIELD_BITS * counts.size
    p = counts[counts > 0] / n
    payload = float(-(counts[counts > 0] * np.log2(p)).sum()) if p.size > 1 else n
    blocks = max(math.ceil(n / block_symbols) - 1, 0)
    return int(round(HEADER_BITS + LENGTH_FIELD_BITS * counts.size + blocks * min_bits(int(payload) + 1) + payload))



def huffman_payload(source: Any, streams: list[str] | None = None, only_if_smaller: bool = True,
                    block_symbols: int = DEFAULT_BLOCK_SYMBOLS) -> Any:
    """Huffman-code the integer streams of a payload (all, or the named ones). An integer array gives
    a ``HuffmanInts`` stream. With ``only_if_smaller`` a stream whose Huffman form (table included)
    is not smaller keeps its fixed width."""
    if not hasattr(source, "int_streams"):
        arr = np.asarray(source)
        if arr.dtype.kind not in "iub":
            raise CompressionError("Huffman coding takes integer streams (codes, indices), not float values; "
                                   "share or quantize the weights first")
        return HuffmanInts.encode(arr.ravel())
    available = source.int_streams()
    if streams is not None:
        unknown = [s for s in streams if s not in available]
        if unknown:
            raise CompressionError(f"payload {source.format!r} has no integer stream(s) {unknown}; it has "
                                   f"{sorted(available) or 'none'}")
    coded: dict[str, IntStream] = {}
    for name, stream in available.items():
        if streams is not None and name not in streams:
            continue
        h = huffman_stream(stream, block_symbols)
        if not only_if_smaller or h.stored_bits < stream.stored_bits:
            coded[name] = h
    return source.with_streams(coded) if coded else source


def estimate_huffman(shape: tuple[int, ...], density: float = 1.0, value_bits: int = 8, table_bits: int = 0,
                     entropy_bits: float | None = None) -> int:
    """Formula for cost-only runs: n symbols at ``entropy_bits`` each (default: the fixed width, i.e.
    no gain assumed, since the histogram is unknown without the tensor) plus the code table."""
    n = int(np.prod(shape, dtype=np.int64) * density)
    per = value_bits if entropy_bits is None else entropy_bits
    return int(round(n * per)) + HEADER_BITS + LENGTH_FIELD_BITS * 2**value_bits + table_bits


def _encoder(source: Any, **options: Any) -> Any:
    check_options("huffman", options, {"streams", "only_if_smaller", "block_symbols"})
    return huffman_payload(source, **options)


register_format(FormatDef("huffman", _encoder, estimate_huffman, lossless=True, structure=False,
                          doc="canonical Huffman coding of a payload's integer streams (codes, indices, runs)"))

__all__ = ["HuffmanInts", "huffman_stream", "estimate_huffman_bits", "code_lengths", "canonical_codes",
           "MAX_CODE_BITS", "huffman_payload", "estimate_huffman"]
