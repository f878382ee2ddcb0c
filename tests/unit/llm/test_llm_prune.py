"""Head and MLP-channel pruning of decoder LLMs (``prune_heads``, ``prune_mlp``): exact MAC / parameter
arithmetic, the pruned graph equal to the graph a config with fewer heads / channels builds, the KV
cache shrinking only when KV heads go, the pruned graph computing what the original computes with the
removed units' output columns zeroed, the L2 criterion choosing the weakest unit, summed decode steps
still exact, and verification on the small random-weight decoder."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.analysis.llm import generate, kv_cache_bytes
from hwsim.analysis.llm_params import parameter_count
from hwsim.analysis.verify import seeded_inputs, verify_method
from hwsim.compress import apply_method, run_passes
from hwsim.compress.method import Method
from hwsim.compress.llm_prune import narrow_feeds
from hwsim.errors import CompressionError
from hwsim.frontends.llm_config import decode_graph, load_llm_config, phase_graph, prefill_graph
from hwsim.ir.counting import count_graph
from hwsim.kernels import execute
from hwsim.sim import simulate

from testutils import ROOT

LLM = ROOT / "workloads" / "llm"
TINY = load_llm_config(LLM / "tiny-random.yaml").model_copy(update={"dtype": "fp32"})  # 4 q heads, 2 KV, d 16


def _prune(graph, steps):
    return run_passes(graph, steps)[-1]


def test_query_head_pruning_removes_exactly_the_heads_macs_and_params():
    L, d, hidden = 16, 16, 64
    g = decode_graph(TINY, L)
    r = _prune(g, [("prune_heads", {"ratio": 0.5, "unit": "query"})])  # 1 of the 2 query heads of each group
    before, after = count_graph(g), count_graph(r.graph)
    # per layer: 2 heads x d rows of W_q (64 inputs) and d columns of W_o (64 outputs), one token;
    # Q x K^T and P x V: 2 heads x d x (L + 1) MACs each
    per_layer_macs = 2 * d * hidden + hidden * 2 * d + 2 * (2 * d * (L + 1))
    assert before.macs - after.macs == TINY.num_layers * per_layer_macs
    assert before.params - after.params == TINY.num_layers * (2 * d * hidden + hidden * 2 * d)
    assert kv_cache_bytes(r.graph) == kv_cache_bytes(g)  # K / V heads kept
    assert [c.details["query_heads_after"] for c in r.changes] == [2, 2]


@pytest.mark.parametrize("model, steps, update", [
    ("llama-3.2-1b.yaml", [("prune_heads", {"ratio": 0.25, "unit": "query"})], {"num_heads": 24}),
    ("llama-3.2-1b.yaml", [("prune_heads", {"ratio": 0.25, "unit": "kv"})], {"num_heads": 24, "num_kv_heads": 6}),
    ("gpt2-small.yaml", [("prune_heads", {"ratio": 0.25, "unit": "query"})], {"num_heads": 9}),
    ("llama-3.2-3b.yaml", [("prune_heads", {"ratio": 0.25, "unit": "query"})], {"num_heads": 16}),  # 1 of 3 per group
    ("llama-3.2-1b.yaml", [("prune_mlp", {"ratio": 0.3})], {"intermediate_size": 8192 - 2458}),
    ("gpt2-small.yaml", [("prune_heads", {"ratio": 0.5, "unit": "kv"}), ("prune_mlp", {"ratio": 0.25})],
     {"num_heads": 6, "intermediate_size": 3072 - 768}),
])
@pytest.mark.parametrize("tokens, past", [(1, 64), (8, 0)])
def test_pruned_graph_counts_like_a_config_with_fewer_heads_or_channels(model, steps, update, tokens, past):
    cfg = load_llm_config(LLM / model)
    smaller = cfg.model_copy(update={"head_dim": cfg.dim_per_head, **update})  # the residual width stays
    if "num_heads" in update and cfg.num_kv_heads is None and "num_kv_heads" not in update:
        smaller = smaller.model_copy(update={"num_kv_heads": update["num_heads"]})  # MHA: heads are KV heads
    pruned = _prune(phase_graph(cfg, tokens, past), steps).graph
    ref = phase_graph(smaller, tokens, past)
    a, b = count_graph(pruned), count_graph(ref)
    assert (a.macs, a.params, a.weight_bytes, a.arith) == (b.macs, b.params, b.weight_bytes, b.arith)
    assert kv_cache_bytes(pruned) == kv_cache_bytes(ref)
    assert parameter_count(pruned) == parameter_count(ref)


def test_kv_cache_shrinks_only_with_kv_head_pruning():
    cfg = load_llm_config(LLM / "llama-3.2-1b.yaml")
    g = decode_graph(cfg, 256)
    base = kv_cache_bytes(g)
    assert kv_cache_bytes(apply_method(g, "llm-head-prune-25").graph) == base
    assert kv_cache_bytes(apply_method(g, "llm-mlp-prune-30").graph) == base
    assert kv_cache_bytes(apply_method(g, "llm-kv-head-prune-25").graph) == base * 6 // 8


def _zeroed(graph, kept_q, kept_channels, d):
    """The original graph with the removed heads' W_o columns and removed channels' W_down columns zeroed."""
    arrays = {}
    for i, (q, ch) in enumerate(zip(kept_q, kept_channels)):
        o = np.array(graph.weight(f"layers.{i}.attn.o.weight"))
        mask = np.zeros(o.shape[1], bool)
        for h in q:
            mask[h * d:(h + 1) * d] = True
        o[:, ~mask] = 0
        arrays[f"layers.{i}.attn.o.weight"] = o
        down = np.array(graph.weight(f"layers.{i}.mlp.down.weight"))
        keep = np.zeros(down.shape[1], bool)
        keep[ch] = True
        down[:, ~keep] = 0
        arrays[f"layers.{i}.mlp.down.weight"] = down
    return graph.with_weights(arrays)


@pytest.mark.parametrize("unit", ["query", "kv"])
def test_pruned_decoder_computes_the_original_with_removed_units_silenced(unit):
    g = decode_graph(TINY, 12).materialize()
    heads, mlp = run_passes(g, [("prune_heads", {"ratio": 0.5, "unit": unit}), ("prune_mlp", {"ratio": 0.25})])
    pruned = mlp.graph
    kept_q = [c.details["query_heads_kept"] for c in heads.changes]
    assert len(kept_q) == TINY.num_layers and all(len(q) == 2 for q in kept_q)
    kept_ch = []
    for i in range(TINY.num_layers):  # which channels prune_mlp kept: recover them from the sliced weights
        full = np.asarray(g.weight(f"layers.{i}.mlp.gate.weight"))
        part = np.asarray(pruned.weight(f"layers.{i}.mlp.gate.weight"))
        kept_ch.append([int(np.flatnonzero((full == row).all(axis=1))[0]) for row in part])
    assert all(len(k) == 96 for k in kept_ch)
    feeds = seeded_inputs(g, 2, 0)
    want = execute(_zeroed(g, kept_q, kept_ch, 16), feeds).output
    got = execute(pruned, narrow_feeds(pruned, feeds)).output
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    assert np.abs(got - execute(g, feeds).output).max() > 1e-3  # and pruning did change the output


def test_the_l2_criterion_removes_the_weakest_heads_and_channels():
    g = decode_graph(TINY, 8).materialize()
    q = np.array(g.weight("layers.0.attn.q.weight"))
    q[1 * 16:2 * 16] *= 1e-3  # head 1 (KV group 0) nearly silent
    gate = np.array(g.weight("layers.1.mlp.gate.weight"))
    up = np.array(g.weight("layers.1.mlp.up.weight"))
    down = np.array(g.weight("layers.1.mlp.down.weight"))
    weak = [5, 77]
    for arr, axis in ((gate, 0), (up, 0), (down, 1)):
        idx = [slice(None)] * 2
        idx[axis] = weak
        arr[tuple(idx)] *= 1e-3
    g = g.with_weights({"layers.0.attn.q.weight": q, "layers.1.mlp.gate.weight": gate,
                        "layers.1.mlp.up.weight": up, "layers.1.mlp.down.weight": down})
    heads = _prune(g, [("prune_heads", {"ratio": 0.5, "unit": "query"})])
    assert 1 not in heads.changes[0].details["query_heads_kept"]
    assert "l2" in heads.changes[0].details["criterion"]
    mlp = _prune(g, [("prune_mlp", {"ratio": 2 / 128})])  # two channels per layer
    part = np.asarray(mlp.graph.weight("layers.1.mlp.gate.weight"))
    assert part.shape == (126, 64)
    for j in weak:
        assert not (np.abs(part - gate[j]).sum(axis=1) == 0).any()


@pytest.mark.parametrize("method", ["llm-head-prune-25", "llm-kv-head-prune-25", "llm-mlp-prune-30"])
def test_summed_decode_steps_stay_exact_after_pruning(method):
    cfg = load_llm_config(LLM / "llama-3.2-1b.yaml").model_copy(update={"num_layers": 2})  # GQA 32 / 8
    apply = lambda graph: apply_method(graph, method).graph  # noqa: E731
    r = generate(cfg, "cpu-a53", prefill_tokens=8, new_tokens=4, context=8, method=method, compress=apply)
    for L, s in r.per_context:
        assert s == pytest.approx(simulate(apply(decode_graph(cfg, L)), "cpu-a53").seconds, rel=1e-12)
    base = generate(cfg, "cpu-a53", prefill_tokens=8, new_tokens=4, context=8)
    assert r.decode_step_s < base.decode_step_s and r.memory.weight_bytes < base.memory.weight_bytes


def test_verified_on_the_random_weight_decoder():
    m = Method("heads+mlp", "", (("prune_heads", {"ratio": 0.5, "unit": "kv"}), ("prune_mlp", {"ratio": 0.3})), True)
    v = verify_method(decode_graph(TINY, 16), m, inputs=2, seed=0)
    assert v.fidelity is not None and v.kernels_passed
    assert -20 < v.fidelity.sqnr_db < 60 and v.weight_bytes_after < v.weight_bytes_before


def test_prune_before_quantizing_and_nothing_to_prune_in_a_cnn():
    g = prefill_graph(TINY, 4)
    quantized = apply_method(g, "q8_0").graph
    with pytest.raises(CompressionError, match="before quantizing"):
        _prune(quantized, [("prune_heads", {"ratio": 0.5})])
    for graph in (g, decode_graph(TINY, 6)):  # a quantized cache: its new rows (prefill) or its state (decode)
        with pytest.raises(CompressionError, match="before kv_quantize"):
            _prune(apply_method(graph, "kv-int8").graph, [("prune_heads", {"ratio": 0.5, "unit": "kv"})])
    assert _prune(apply_method(g, "kv-int8").graph, [("prune_heads", {"ratio": 0.5})]).changed  # query heads: fine
    from hwsim.frontends import load_model

    for model in ("lenet5.json", "transformer_tiny.json"):  # the encoder's names are close, its layout is not
        other = load_model(str(ROOT / "workloads" / model))
        for method in ("llm-head-prune-25", "llm-mlp-prune-30"):
            res = apply_method(other, method)
            assert count_graph(res.graph).params == count_graph(other).params
            assert any("no decoder" in n for n in res.notes)


def test_layers_pruned_differently_are_each_recosted_with_their_own_heads():
    cfg = load_llm_config(LLM / "llama-3.2-1b.yaml").model_copy(update={"num_layers": 3})
    m = Method("uneven", "", (("prune_heads", {"unit": "kv", "ratio": 0.25,
                                               "overrides": {"layers.0.attn.q": {"ratio": 0.5}},
                                               "exclude": ["layers.2.attn.q"]}),), True)
    apply = lambda graph: apply_method(graph, m).graph  # noqa: E731
    g = apply(decode_graph(cfg, 32))
    assert [g.tensor(f"layers.{i}.attn.k_cache").shape[1] for i in range(3)] == [4, 6, 8]
    r = generate(cfg, "gpu-orin-nano", prefill_tokens=8, new_tokens=5, context=32, method="uneven", compress=apply)
    for L, s in r.per_context:
        assert s == pytest.approx(simulate(apply(decode_graph(cfg, L)), "gpu-orin-nano").seconds, rel=1e-12)
