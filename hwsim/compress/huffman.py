"""``huffman``: Huffman-code the integer streams of encoded weights (Deep Compression's third stage).

Which streams exist depends on what earlier passes stored: codebook codes or quantized integers
(``values``), relative-index zero runs, CSR / CSC / COO indices and pointers (``indices``). Each
stream gets its own canonical code; sizes include the code tables and block offsets
(``hwsim.formats.huffman``). A stream whose Huffman form is not smaller keeps its fixed width. The
pass is lossless: decoded weights are bit-identical.

Float values have no integer stream to code: share or quantize first. Without materialized weights
the symbol histograms are unknown, so sizes stay as they were and the notes say so.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hwsim.compress._encoded import WEIGHTED_OPS, carry_meta, change, is_materialized, real_spec
from hwsim.compress.base import PassParams, PassResult, layer_params, register_pass, select_layers
from hwsim.formats import huffman_payload
from hwsim.formats.huffman import DEFAULT_BLOCK_SYMBOLS
from hwsim.ir.graph import OpGraph
from hwsim.ir.tensor import TensorSpec


class HuffmanParams(PassParams):
    streams: Literal["all", "values", "indices"] = "all"
    only_if_smaller: bool = True
    block_symbols: int = Field(default=DEFAULT_BLOCK_SYMBOLS, ge=1, description="symbols per independently "
                               "decodable block (each block costs one bit offset)")


def _pick(available: dict[str, Any], which: str) -> list[str]:
    if which == "all":
        return list(available)
    if which == "values":
        return [k for k in available if k.startswith("values.") or k == "codes"]
    return [k for k in available if not (k.startswith("values.") or k == "codes")]


@register_pass("huffman", HuffmanParams, family="huffman", lossless=True)
def huffman(graph: OpGraph, params: HuffmanParams) -> PassResult:
    """Huffman coding of quantized weight codes and sparse index streams (sizes include code tables)."""
    nodes = select_layers(graph, params, WEIGHTED_OPS, "huffman")
    specs: dict[str, TensorSpec] = {}
    weights: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    unknown: list[str] = []
    plain: list[str] = []
    for node in nodes:
        p = layer_params(params, node.name)
        t = node.params["weight"]
        if not is_materialized(graph, [t]):
            unknown.append(node.name)
            details[node.name] = {"materialized": False, "coded_streams": []}
            continue
        value = graph.weight(t)
        if not hasattr(value, "int_streams") or not value.int_streams():
            plain.append(node.name)
            details[node.name] = {"coded_streams": []}
            continue
        names = _pick(value.int_streams(), p.streams)
        coded = huffman_payload(value, names, p.only_if_smaller, p.block_symbols) if names else value
        streams = coded.int_streams()
        done = [k for k, s in streams.items() if s.coding == "huffman"]
        d: dict[str, Any] = {"coded_streams": done,
                             "format": f"{coded.format}+huffman" if done else coded.format}
        for k in done:
            s = streams[k]
            d[f"{k}_bits_per_symbol"] = round(s.mean_code_bits, 3)
            d[f"{k}_fixed_bits"] = s.bits
        if coded is not value:
            weights[t] = coded
            specs[t] = real_spec(graph.tensor(t), coded, carry_meta(graph.tensor(t)))
        details[node.name] = d
    out = graph.with_specs(specs, weights)
    changes = tuple(change(graph, out, n, "huffman", **details[n.name]) for n in nodes)
    notes = []
    if unknown:
        notes.append(f"weights not materialized for {len(unknown)} layer(s): Huffman gain unknown, sizes left as "
                     "they were")
    if plain:
        notes.append(f"{len(plain)} layer(s) store float values and no index stream: nothing to Huffman-code "
                     "(share or quantize first)")
    return PassResult(out, bool(specs), changes, tuple(notes))


__all__ = ["HuffmanParams", "huffman"]
