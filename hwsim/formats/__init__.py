"""Storage formats: how a weight tensor is really stored, and how many bits that takes.

Every format encodes and decodes for real; a tensor's ``stored_bits`` is the bit length of its
encoded streams (integer streams, value streams, tables), never a density formula. A formula
estimator sits beside each format (``FORMATS[name].estimate``) for cost-only runs on unmaterialized
weights, and a test holds the two together.

``FORMATS`` (keyed by the name a ``TensorSpec.encoding`` carries):

============== ============================================================ ==========
name           stored form                                                  lossless
============== ============================================================ ==========
dense          one fp32 / fp16 / bf16 value per element                     yes (fp32)
codebook       a code per element + k fp32 centroids (weight sharing)       no
quantized_int  b-bit ints + fp32 scale (+ b-bit zero point) per tensor/chan no
csr / csc      row (col) pointers + col (row) indices + values, 2-D view    yes
coo            row + col index + value per non-zero                         yes
bitmap         1 presence bit per element + non-zero values                 yes
relative_index zero-run index of b bits per entry, filler zeros (Deep Comp) yes
hashed         K shared weights addressed by a seeded hash (HashedNets)     no
huffman        not a tensor encoding: Huffman-codes a payload's int streams yes
============== ============================================================ ==========

Structure formats (csr, csc, coo, bitmap, relative_index) carry a *value stream* of any kind:
float, codebook codes or quantized integers (``hwsim.formats.values``), so Deep Compression is
relative_index + codebook values, with both the run stream and the code stream Huffman-coded.

Payload objects (what the WeightStore holds for an encoded tensor) all have ``format``, ``shape``,
``decode() -> float32 array``, ``stored_bits``, ``nnz``, ``meta()``, ``int_streams()`` and
``with_streams()``; see ``hwsim.formats.base``. Fields kernels execute directly:

- ``DensePayload.values.data`` (float32 / float16 / uint16 bf16 bits),
- ``CodebookPayload.indices()`` (int, tensor-shaped), ``.centroids`` (float32 [k]),
- ``QuantizedIntPayload.q()`` (int32, tensor-shaped), ``.scale`` (float32 [C]), ``.zero_point``
  (int32 [C]), ``.axis`` (0 per output channel, None per tensor), ``.bits``, ``.signed``,
- ``CSRPayload.matrix()`` / ``CSCPayload.matrix()`` / ``COOPayload.matrix()`` (scipy.sparse over the
  [shape[0], rest] view, decoded float32 values) and raw ``indptr`` / ``indices`` / ``values``,
- ``BitmapPayload.presence()``, ``RelativeIndexPayload.runs`` / ``.entry_positions()``,
- ``HashedPayload.bucket_index()`` / ``.signs()`` / ``.buckets``.

Annotation ``meta`` keys (``TensorSpec.meta``; what cost models read besides encoding, density,
dtype and stored_bits):

- all formats: ``structure`` (dense | csr | csc | coo | bitmap | relative_index | hashed),
  ``value_format`` (float | codebook | quantized_int), ``value_bits`` (bits of one stored value or
  code before entropy coding), ``value_coding`` (fixed | huffman, for integer values);
- float values: ``value_dtype`` (fp32 | fp16 | bf16);
- codebook values: ``codebook_size`` (k), ``codebook_bits`` (bits per centroid, 32);
- quantized values: ``signed``, ``symmetric``, ``scale_granularity`` (tensor | channel),
  ``scale_count``, ``scale_bits`` (32);
- sparse structures: ``nnz``, ``index_bits`` (position bits per stored value before entropy coding:
  the column (csr) / row (csc) index width, row + column widths (coo), 1 per element (bitmap), the run
  width (relative_index)), ``index_coding`` (fixed | huffman), ``index_stored_bits`` (all index and
  pointer streams, as stored); csr/csc add ``pointer_bits``;
- relative_index: ``filler_zeros``, ``entries`` (non-zeros + fillers);
- any payload with a Huffman-coded stream: ``fixed_width_bits`` (the stored bits with every Huffman
  stream back at its fixed width, without code tables: the inner encoding kernels execute when the
  Huffman stage is decoded at load time, as Deep Compression and EIE do);
- hashed: ``buckets``, ``seed_bits``, ``signed``;
- passes may add their own (``pruned_density``, ``rank``, ...) beside these.
"""

from hwsim.formats import dense, hashed, huffman, relative_index, sparse  # noqa: F401  (register formats)
from hwsim.formats.annotate import annotate, encode, is_payload, payload_meta
from hwsim.formats.base import FORMATS, FormatDef, Payload, expected_fillers, matrix_shape, register_format
from hwsim.formats.dense import (
    DENSE_FAMILY, CodebookPayload, DensePayload, QuantizedIntPayload, encode_codebook, encode_dense, encode_quantized,
    nearest_codes, quantize_array,
)
from hwsim.formats.hashed import HashedPayload, encode_hashed
from hwsim.formats.huffman import HuffmanInts, huffman_payload, huffman_stream
from hwsim.formats.intstream import FixedWidthInts, IntStream, min_bits
from hwsim.formats.relative_index import RelativeIndexPayload, encode_relative_index, relative_entries
from hwsim.formats.sparse import BitmapPayload, COOPayload, CSCPayload, CSRPayload, densify, source_values
from hwsim.formats.values import CodebookValues, FloatValues, QuantizedValues, ValueStream

STRUCTURE_FORMATS = tuple(name for name, f in FORMATS.items() if f.structure)

__all__ = [
    "FORMATS", "FormatDef", "Payload", "register_format", "encode", "annotate", "is_payload", "payload_meta",
    "expected_fillers", "matrix_shape", "DENSE_FAMILY", "DensePayload", "CodebookPayload", "QuantizedIntPayload",
    "encode_dense", "encode_codebook", "encode_quantized", "quantize_array", "nearest_codes", "HashedPayload",
    "encode_hashed", "HuffmanInts", "huffman_payload", "huffman_stream", "FixedWidthInts", "IntStream", "min_bits",
    "RelativeIndexPayload", "encode_relative_index", "relative_entries", "CSRPayload", "CSCPayload", "COOPayload",
    "BitmapPayload", "densify", "source_values", "CodebookValues", "FloatValues", "QuantizedValues", "ValueStream",
    "STRUCTURE_FORMATS",
]
