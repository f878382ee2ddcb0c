"""What the run time does with a model before and while it runs: named kernel efficiency, fusion
flags, Huffman decoded at load, sparse weights expanded to dense when that is faster."""

from __future__ import annotations

import numpy as np
import pytest
from devicegraphs import conv_graph, linear_graph

from hwsim.cost.sparse import synthetic_linear
from hwsim.cost.work import prepare
from hwsim.errors import HwsimError
from hwsim.formats import encode, huffman_payload
from hwsim.formats.annotate import annotate, fixed_width_bits
from hwsim.hardware import load_device
from hwsim.ir import Node, OpGraph, TensorSpec
from hwsim.sim import op_costs


def test_efficiency_divides_the_compute_cycles_of_its_kernel_class_only() -> None:
    g = conv_graph(c=64, k=64, h=28)
    full = load_device("cpu-a72", {"cpu.efficiency.gemm": 1.0})
    half = load_device("cpu-a72", {"cpu.efficiency.gemm": 0.5})
    a, b = op_costs(g, full)[0], op_costs(g, half)[0]
    assert b.compute_cycles == pytest.approx(2 * a.compute_cycles, rel=1e-3)
    assert b.transfer_bytes == a.transfer_bytes and b.extra["efficiency"] == 0.5
    dw = conv_graph(c=64, k=64, h=28, groups=64)
    assert prepare(dw).ops[0].depthwise and not prepare(g).ops[0].depthwise
    d1 = op_costs(dw, load_device("cpu-a72", {"cpu.efficiency.gemm": 0.5, "cpu.efficiency.depthwise": 1.0}))[0]
    d2 = op_costs(dw, load_device("cpu-a72", {"cpu.efficiency.gemm": 0.5, "cpu.efficiency.depthwise": 0.25}))[0]
    assert d2.compute_cycles == pytest.approx(4 * d1.compute_cycles, rel=1e-3)


def test_efficiency_keys_and_values_are_validated() -> None:
    with pytest.raises(HwsimError, match="efficiency"):
        load_device("cpu-a72", {"cpu.efficiency.conv": 0.5})
    with pytest.raises(HwsimError):
        load_device("cpu-a72", {"cpu.efficiency.gemm": 1.5})
    with pytest.raises(HwsimError):
        load_device("gpu-jetson-nano", {"sparse.huffman_decode": "sometimes"})


def test_the_shipped_cpu_and_gpu_profiles_name_their_gemm_efficiency() -> None:
    for name in ("cpu-a53", "cpu-a72", "gpu-jetson-nano", "gpu-orin-nano"):
        d = load_device(name)
        assert 0 < d.spec.efficiency["gemm"] < 1, name
        assert d.spec.fusion.batchnorm and d.spec.fusion.activation


def test_fusion_flags_switch_batchnorm_folding_and_epilogue_activations() -> None:
    nodes = [Node("c", "conv2d", ("x",), ("a",), {"out_channels": 16, "kernel": 3, "padding": 1}),
             Node("bn", "batchnorm", ("a",), ("b",)), Node("r", "relu", ("b",), ("y",))]
    g = OpGraph.build("cbr", [TensorSpec("x", (1, 16, 32, 32))], nodes, ["y"])
    on = {c.node: c for c in op_costs(g, load_device("cpu-a53"))}
    off = {c.node: c for c in op_costs(g, load_device("cpu-a53", {"cpu.fusion.batchnorm": "false",
                                                                  "cpu.fusion.activation": "false"}))}
    for n in ("bn", "r"):
        assert sum(on[n].transfer_bytes.values()) == 0 and on[n].overhead_cycles == 0
        assert sum(off[n].transfer_bytes.values()) > 0 and off[n].overhead_cycles > 0
    assert on["bn"].ops == {"add": 16 * 32 * 32}  # the bias add left of a folded batchnorm
    assert on["c"] == off["c"]


def _huffman_linear():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(256, 256)).astype(np.float32)
    w = np.round(w * 4) / 4  # a handful of distinct values: a lossless 5-bit codebook
    w[np.abs(w) < 1.2] = 0.0  # ~23% dense
    ri = encode("relative_index", encode("codebook", w, bits=5), index_bits=5)
    coded = huffman_payload(ri)
    spec = TensorSpec("fc.weight", (256, 256), role="weight")
    return ri, coded, annotate(spec, coded)


def test_formats_record_the_fixed_width_size_of_huffman_coded_payloads() -> None:
    ri, coded, spec = _huffman_linear()
    assert fixed_width_bits(ri) is None  # nothing Huffman-coded yet
    fixed = spec.meta_dict()["fixed_width_bits"]
    assert fixed == ri.stored_bits  # the inner encoding, exactly
    assert coded.stored_bits < fixed


def test_huffman_weights_are_read_at_their_fixed_width_unless_decoded_on_the_fly() -> None:
    ri, coded, spec = _huffman_linear()
    g = linear_graph(m=1, k=256, n=256)
    g = g.with_specs({"fc.weight": spec})
    w = prepare(g).ops[0].weight
    assert w is not None and w.huffman_coded
    assert w.runtime_bytes == (ri.stored_bits + 7) // 8 and w.stored_bytes == spec.size_bytes
    keep_sparse = {"sparse.dense_fallback": "false"}
    load = op_costs(g, load_device("cpu-a72", keep_sparse))[0]
    live = op_costs(g, load_device("cpu-a72", {**keep_sparse, "sparse.huffman_decode": "on_the_fly"}))[0]
    assert not any("Huffman" in n for n in load.notes)
    assert any("Huffman decoding at run time" in n for n in live.notes)
    assert live.compute_cycles > load.compute_cycles
    assert live.transfer_bytes["dram"] < load.transfer_bytes["dram"]


def test_a_sparse_layer_slower_than_dense_is_expanded_at_load_time() -> None:
    w = synthetic_linear("csr", 0.5, m=64).weight
    assert w is not None
    g = linear_graph(m=64, encoding="csr", density=0.5, stored_bits=w.stored_bytes * 8)
    dense = op_costs(linear_graph(m=64), load_device("cpu-a53"))[0]
    fallback = op_costs(g, load_device("cpu-a53"))[0]
    sparse = op_costs(g, load_device("cpu-a53", {"sparse.dense_fallback": "false"}))[0]
    assert sparse.lower_bound_cycles > dense.lower_bound_cycles  # 50%-dense CSR loses on a CPU
    assert fallback.lower_bound_cycles == dense.lower_bound_cycles
    assert any("expanded to dense" in n for n in fallback.notes)
    # at 5% density the sparse kernel wins and is kept
    w5 = synthetic_linear("csr", 0.05, m=64).weight
    g5 = linear_graph(m=64, encoding="csr", density=0.05, stored_bits=w5.stored_bytes * 8)
    c5 = op_costs(g5, load_device("cpu-a53"))[0]
    assert c5.lower_bound_cycles < dense.lower_bound_cycles and not any("expanded" in n for n in c5.notes)
