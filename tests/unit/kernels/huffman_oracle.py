"""An independent Huffman decoder, the test oracle for ``hwsim.formats.huffman.HuffmanInts``'s own decode
(which walks its blocks in lockstep): a tentative (symbol, length) at every bit position from one table
lookup of the next L bits, then the chain of code words followed by pointer doubling (jump tables for 1, 2,
4, ... words), O(T log n) for a T-bit stream of n symbols. Tests hold the two decoders equal; kernels read
the stream's own decode, so this one lives with the tests."""

from __future__ import annotations

import numpy as np


def canonical_table(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Lookup tables (symbol, length) indexed by the next L bits, for canonical codes of ``lengths``."""
    lengths = np.asarray(lengths, np.int64)
    present = np.flatnonzero(lengths)
    width = int(lengths.max()) if present.size else 1
    # canonical order: by (length, symbol); code of entry i = (code of i-1 + 1) << (len_i - len_{i-1})
    order = present[np.lexsort((present, lengths[present]))]
    lens = lengths[order]
    codes = np.zeros(order.size, np.int64)
    code = 0
    for i in range(1, order.size):  # over distinct symbols of the alphabet, not over the stream
        code = (code + 1) << int(lens[i] - lens[i - 1])
        codes[i] = code
    span = np.left_shift(1, width - lens)
    starts = codes << (width - lens)
    sym = np.repeat(order, span)
    ln = np.repeat(lens, span)
    table_sym = np.zeros(1 << width, np.int64)
    table_len = np.ones(1 << width, np.int64)  # unused windows (never reached) advance by one bit
    idx = np.repeat(starts, span) + (np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span))
    table_sym[idx] = sym
    table_len[idx] = ln
    return table_sym, table_len, width


def decode_huffman(n: int, lengths: np.ndarray, bitstream: bytes, payload_bits: int) -> np.ndarray:
    """The n symbols of a canonical-Huffman bitstream (codes MSB first), as int64."""
    if n == 0:
        return np.zeros(0, np.int64)
    table_sym, table_len, width = canonical_table(lengths)
    bits = np.unpackbits(np.frombuffer(bitstream, np.uint8))[:payload_bits].astype(np.int64)
    bits = np.concatenate([bits, np.zeros(width, np.int64)])
    total = payload_bits
    window = np.zeros(total, np.int64)
    for i in range(width):  # over code-word bits (<= 20), each step over the whole stream
        window = (window << 1) | bits[i: i + total]
    sym = table_sym[window]
    nxt = np.minimum(np.arange(total) + table_len[window], total)
    jump = np.concatenate([nxt, [total]])  # position after one word; the end is absorbing
    positions = np.zeros(1, np.int64)
    while positions.size < n:
        positions = np.concatenate([positions, jump[positions]])
        jump = jump[jump]
    positions = positions[:n]
    if positions[-1] >= total:
        raise ValueError("Huffman stream ends before all symbols are decoded")
    return sym[positions]
