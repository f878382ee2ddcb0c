"""The decoder graphs compute what a Llama-style decoder computes: an independent NumPy forward pass
(per head, no reshapes) agrees with the graph's kernels, and a decode step on the KV cache that prefill
left agrees with prefilling one token more (rope offsets, causal mask, grouped-query heads, cache
layout)."""

from __future__ import annotations

import numpy as np

from hwsim.frontends.llm_config import decode_graph, load_llm_config, prefill_graph
from hwsim.kernels import execute

from testutils import ROOT

CFG = load_llm_config(ROOT / "workloads" / "llm" / "tiny-random.yaml").model_copy(update={"dtype": "fp32"})


def _ids(n: int) -> np.ndarray:
    return np.random.default_rng(3).integers(0, CFG.vocab_size, size=(1, n)).astype(np.int64)


def _direct(graph, ids: np.ndarray) -> np.ndarray:
    """Last-token logits of a plain Llama forward pass with the graph's weights."""
    w = lambda t: np.asarray(graph.dense_weight(t), np.float64)  # noqa: E731
    c, n = CFG, ids.shape[1]
    d, hq, hkv = c.dim_per_head, c.num_heads, c.kv_heads
    pos = np.arange(n)
    inv = c.rope_theta ** (-np.arange(0, d, 2) / d)
    ang = np.concatenate([pos[:, None] * inv, pos[:, None] * inv], axis=1)

    def rope(x):  # [n, d]
        rot = np.concatenate([-x[:, d // 2:], x[:, :d // 2]], axis=1)
        return x * np.cos(ang) + rot * np.sin(ang)

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + c.norm_eps) * g

    x = w("embed.weight")[ids[0]]
    for i in range(c.num_layers):
        p = f"layers.{i}"
        h = rms(x, w(f"{p}.norm1.gamma"))
        q, k, v = (h @ w(f"{p}.attn.{s}.weight").T for s in "qkv")
        heads = []
        for j in range(hq):
            kv = j // (hq // hkv)
            qj = rope(q[:, j * d:(j + 1) * d])
            kj = rope(k[:, kv * d:(kv + 1) * d])
            s = qj @ kj.T
            s[np.triu_indices(n, 1)] = -np.inf
            pj = np.exp(s - s.max(axis=1, keepdims=True))
            pj /= pj.sum(axis=1, keepdims=True)
            heads.append(pj @ v[:, kv * d:(kv + 1) * d])
        x = x + np.concatenate(heads, axis=1) @ w(f"{p}.attn.o.weight").T
        h = rms(x, w(f"{p}.norm2.gamma"))
        gate = h @ w(f"{p}.mlp.gate.weight").T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ w(f"{p}.mlp.up.weight").T)) @ w(f"{p}.mlp.down.weight").T
    return (rms(x, w("norm_f.gamma"))[-1:] @ w("lm_head.weight").T)[None]


def test_prefill_graph_matches_an_independent_forward_pass():
    ids = _ids(7)
    g = prefill_graph(CFG, 7)
    out = execute(g, {"ids": ids}).outputs[g.outputs[0]]
    ref = _direct(g, ids)
    assert out.shape == (1, 1, CFG.vocab_size)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_decode_step_on_the_prefill_cache_equals_prefilling_one_more_token():
    ids = _ids(9)
    pre = prefill_graph(CFG, 8)
    res = execute(pre, {"ids": ids[:, :8]})
    dec = decode_graph(CFG, 8)
    feeds = {"ids": ids[:, 8:]}
    for i in range(CFG.num_layers):
        p = f"layers.{i}.attn"
        feeds[f"{p}.k_cache"] = res.outputs[f"{p}.k_cache_layout"]
        feeds[f"{p}.v_cache"] = res.outputs[f"{p}.v_t"]
    step = execute(dec, feeds).outputs[dec.outputs[0]]
    full = prefill_graph(CFG, 9)
    want = execute(full, {"ids": ids}).outputs[full.outputs[0]]
    np.testing.assert_allclose(step, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    # and the appended cache holds 9 tokens
    assert execute(dec, feeds).outputs["layers.0.attn.v_append"].shape == (1, CFG.kv_heads, 9, CFG.dim_per_head)


def test_a_wrong_cache_changes_the_step():
    """The check above can fail: a cache from a different prompt gives different logits."""
    ids = _ids(9)
    other = (ids + 1) % CFG.vocab_size
    res = execute(prefill_graph(CFG, 8), {"ids": other[:, :8]})
    dec = decode_graph(CFG, 8)
    feeds = {"ids": ids[:, 8:]}
    for i in range(CFG.num_layers):
        p = f"layers.{i}.attn"
        feeds[f"{p}.k_cache"] = res.outputs[f"{p}.k_cache_layout"]
        feeds[f"{p}.v_cache"] = res.outputs[f"{p}.v_t"]
    full = prefill_graph(CFG, 9)
    want = execute(full, {"ids": ids}).outputs[full.outputs[0]]
    assert not np.allclose(execute(dec, feeds).outputs[dec.outputs[0]], want, rtol=1e-3, atol=1e-3)
