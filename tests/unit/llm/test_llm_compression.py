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


def test_group_quantization_keeps_rows_that_are_not_whole_groups_and_says_so():
    g = prefill_graph(TINY, 4)  # hidden 64: no row is a whole number of groups of 128
    res = apply_method(g, "w4-g128")
    assert res.graph.tensor("layers.0.attn.q.weight").dtype == g.tensor("layers.0.attn.q.weight").dtype
    assert any("not whole groups of 128" in n for r in res.results for n in r.notes)


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


def _kv_dequantized(cache: np.ndarray, bits: int, group_axis: int) -> np.ndarray:
    """Symmetric per-(token, head) quantization with the formats' quantizer, fp16 scales (independent of
    the executor's snapping code)."""
    from hwsim.formats import quantize_array

    moved = np.moveaxis(cache, group_axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    q = quantize_array(rows, bits, True, True)
    scale = np.where(q.scale > 0, q.scale.astype(np.float16).astype(np.float32), np.float32(1))
    deq = quantize_array(rows, bits, True, True, scale=scale).decode().reshape(moved.shape)
    return np.moveaxis(deq, -1, group_axis)


def test_kv_int8_graph_quantizes_its_cache_per_token_and_head():
    ids = np.random.default_rng(1).integers(0, TINY.vocab_size, size=(1, 9))
    res = execute(prefill_graph(TINY, 8).materialize(), {"ids": ids[:, :8]})
    plain = decode_graph(TINY, 8).materialize()
    kv8 = apply_method(plain, "kv-int8").graph
    exact, snapped = {"ids": ids[:, 8:]}, {"ids": ids[:, 8:]}
    for i in range(TINY.num_layers):
        p = f"layers.{i}.attn"
        k, v = res.outputs[f"{p}.k_cache_layout"], res.outputs[f"{p}.v_t"]
        exact[f"{p}.k_cache"], exact[f"{p}.v_cache"] = k, v
        snapped[f"{p}.k_cache"], snapped[f"{p}.v_cache"] = _kv_dequantized(k, 8, 2), _kv_dequantized(v, 8, 3)
    got = execute(kv8, exact).outputs[kv8.outputs[0]]
    # the int8 graph quantizes its cache inputs per (token, head): a cache quantized by hand that way is
    # already on the grid, so the result is the same (with a wrong grouping axis it would not be)
    want = execute(kv8, snapped).outputs[kv8.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    ref = execute(plain, exact).outputs[plain.outputs[0]]
    assert not np.allclose(got, ref, rtol=0, atol=1e-7)  # the cache really is quantized


def test_kv_fidelity_falls_with_bits_on_random_weights():
    from hwsim.analysis.verify import verify_method

    g = decode_graph(TINY, 12).materialize()
    f8 = verify_method(g, "kv-int8", inputs=2, seed=0)
    f4 = verify_method(g, "kv-int4", inputs=2, seed=0)
    assert f8.fidelity.cosine > 0.999 and f4.fidelity.cosine < f8.fidelity.cosine
