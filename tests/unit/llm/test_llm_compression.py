"""LLM compression methods: group-wise weight-only integers (storage bits per weight as the formats
define them, kernels against their reference, fidelity measured on random weights), KV-cache
quantization (cache bytes, summed decode steps still exact), on a small random-weight decoder and the
real configs (cost only)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.analysis.llm import generate
from hwsim.compress import apply_method
from hwsim.compress.catalogue import get_method
from hwsim.frontends.llm_config import decode_graph, load_llm_config, prefill_graph
from hwsim.kernels import execute
from hwsim.sim import simulate

from testutils import ROOT

LLM = ROOT / "workloads" / "llm"
TINY = load_llm_config(LLM / "tiny-random.yaml").model_copy(update={"dtype": "fp32"})
ONE_B = load_llm_config(LLM / "llama-3.2-1b.yaml")


@pytest.mark.parametrize("method, bits_per_weight", [
    ("q8_0", 8 + 16 / 32), ("q4_0", 4 + 16 / 32), ("w4-g128", 4 + (16 + 4) / 128), ("w3-g128", 3 + (16 + 3) / 128),
])
def test_group_formats_store_the_published_bits_per_weight(method, bits_per_weight):
    g = apply_method(decode_graph(ONE_B, 16), method).graph
    w = g.tensor("layers.3.mlp.down.weight")
    assert w.size_bits / w.numel == pytest.approx(bits_per_weight)


@pytest.mark.parametrize("bits, group, symmetric", [(8, 32, True), (4, 32, True), (4, 64, False), (3, 64, False)])
def test_group_kernels_match_their_reference_and_lose_more_with_fewer_bits(bits, group, symmetric):
    from hwsim.compress.catalogue import Method
    from hwsim.analysis.verify import verify_method

    graph = prefill_graph(TINY, 6).materialize()
    m = Method("g", "", (("quantize", {"bits": bits, "granularity": "group", "group_size": group,
                                       "scale_bits": 16, "symmetric": symmetric}),), False)
    v = verify_method(graph, m, inputs=1, seed=0)
    assert v.kernels_passed, v.kernel_status


def test_fidelity_falls_with_bits_on_random_weights():
    graph = prefill_graph(TINY, 6).materialize()
    ids = np.random.default_rng(0).integers(0, TINY.vocab_size, size=(1, 6))
    ref = execute(graph, {"ids": ids}).outputs[graph.outputs[0]].ravel()
    cos = {}
    for m in ("q8_0", "q4_0"):
        g = apply_method(graph, m).graph
        out = execute(g, {"ids": ids}).outputs[g.outputs[0]].ravel()
        cos[m] = float(out @ ref / np.linalg.norm(out) / np.linalg.norm(ref))
    assert cos["q8_0"] > 0.99 and cos["q4_0"] < cos["q8_0"]


def test_group_quantization_refuses_rows_that_are_not_whole_groups():
    from hwsim.errors import CompressionError

    with pytest.raises(CompressionError, match="whole number of groups of 128"):
        apply_method(prefill_graph(TINY, 4), "w4-g128")


def test_weight_only_int4_speeds_up_decode_by_its_bytes():
    base = generate(ONE_B, "gpu-orin-nano", prefill_tokens=16, new_tokens=1)
    q4 = generate(ONE_B, "gpu-orin-nano", prefill_tokens=16, new_tokens=1, method="q4_0",
                  compress=lambda g: apply_method(g, "q4_0").graph)
    ratio = base.memory.weight_bytes / q4.memory.weight_bytes
    assert 3.0 < ratio < 16 / 4.5 + 0.01
    assert 2.0 < q4.decode_tokens_per_s / base.decode_tokens_per_s <= ratio * 1.01


@pytest.mark.parametrize("method, bits, extra", [("kv-int8", 8, 16), ("kv-int4", 4, 16 + 4)])
def test_kv_quantization_shrinks_the_cache_and_sums_exactly(method, bits, extra):
    f = lambda g: apply_method(g, method).graph  # noqa: E731
    base = generate(ONE_B, "gpu-orin-nano", prefill_tokens=16, new_tokens=3, context=4096)
    r = generate(ONE_B, "gpu-orin-nano", prefill_tokens=16, new_tokens=3, context=4096, method=method, compress=f)
    d = ONE_B.dim_per_head
    want = base.memory.kv_cache_bytes * (bits + extra / d) / 16
    assert r.memory.kv_cache_bytes == pytest.approx(want, rel=1e-6)
    assert r.decode_tokens_per_s > base.decode_tokens_per_s
    for L, s in r.per_context:  # steps at other lengths re-costed with the quantized cache: still exact
        if L != 4096:
            assert s == pytest.approx(simulate(f(decode_graph(ONE_B, L)), "gpu-orin-nano").seconds, rel=1e-12)


def test_kv_quantize_without_a_cache_changes_nothing_and_says_why():
    from hwsim.frontends import load_model

    g = load_model(ROOT / "workloads" / "lenet5.json")
    res = apply_method(g, get_method("kv-int8"))
    assert res.graph.tensors == g.tensors
    assert any("no KV cache" in n for r in res.results for n in r.notes)


def test_two_four_sparsity_format_and_kernel():
    from hwsim.analysis.verify import verify_method

    g = apply_method(decode_graph(ONE_B, 16), "sparse-2:4").graph
    w = g.tensor("layers.0.mlp.up.weight")
    assert w.size_bits / w.numel == pytest.approx((16 + 2) / 2)  # fp16 values of half, 2-bit positions
    tiny = prefill_graph(TINY, 6).materialize()
    dec = apply_method(tiny, "sparse-2:4").graph.dense_weight("layers.0.mlp.down.weight")
    assert (np.count_nonzero(dec.reshape(dec.shape[0], -1, 4), axis=-1) <= 2).all()
    v = verify_method(tiny, "sparse-2:4", inputs=1, seed=0)
    assert v.kernels_passed, v.kernel_status


@pytest.mark.parametrize("device, accelerated", [("gpu-orin-nano", True), ("gpu-jetson-nano", False),
                                                 ("cpu-a72", False), ("systolic-32x32", False)])
def test_two_four_is_accelerated_only_where_tensor_cores_run_it(device, accelerated):
    small = load_llm_config(LLM / "gpt2-small.yaml")
    f = lambda g: apply_method(g, "sparse-2:4").graph  # noqa: E731
    base = generate(small, device, prefill_tokens=64, new_tokens=1)
    sp = generate(small, device, prefill_tokens=64, new_tokens=1, method="sparse-2:4", compress=f)
    if accelerated:
        assert sp.ttft_s < base.ttft_s and sp.decode_step_s < base.decode_step_s
        assert sp.memory.weight_bytes < base.memory.weight_bytes
    else:  # no sparse unit: zeros expanded at load, the same dense work
        assert sp.ttft_s == pytest.approx(base.ttft_s) and sp.decode_step_s == pytest.approx(base.decode_step_s)
        assert sp.memory.weight_bytes == base.memory.weight_bytes
