"""Whole-generation cost: the summed decode steps equal full simulations; the KV cache is appended
in place (the append moves nothing, the step reads the cache once); decode is memory-bound on every
device kind that can hold a 1B model; memory adds weights (tied table once), cache and activations;
the CLI runs a generation from a config file and refuses bad input with exit code 2."""

from __future__ import annotations

import json

import pytest

from hwsim.analysis.llm import generate, kv_cache_bytes
from hwsim.cli import main
from hwsim.cost.work import prepare
from hwsim.frontends.llm_config import decode_graph, load_llm_config, prefill_graph
from hwsim.hardware import load_device
from hwsim.sim import simulate

from testutils import ROOT

LLM = ROOT / "workloads" / "llm"
TINY = load_llm_config(LLM / "tiny-random.yaml")


@pytest.mark.parametrize("device", ["cpu-a53", "gpu-orin-nano", "systolic-32x32"])
def test_summed_decode_steps_equal_full_simulations(device):
    r = generate(TINY, device, prefill_tokens=8, new_tokens=7, context=8)
    pre = simulate(prefill_graph(TINY, 8), device)
    steps = [simulate(decode_graph(TINY, L), device) for L in range(8, 14)]
    assert [L for L, _ in r.per_context] == list(range(8, 14))
    for (L, s), full in zip(r.per_context, steps):
        assert s == pytest.approx(full.seconds, rel=1e-12)
    assert r.ttft_s == pytest.approx(pre.seconds, rel=1e-12)
    assert r.generation_s == pytest.approx(pre.seconds + sum(s.seconds for s in steps), rel=1e-12)
    assert r.generation_energy_j == pytest.approx(
        (pre.energy_total_pj + sum(s.energy_total_pj for s in steps)) * 1e-12, rel=1e-9)


def test_the_event_engine_simulates_every_step():
    r = generate(TINY, "cpu-a53", prefill_tokens=4, new_tokens=3, engine="event")
    assert [L for L, _ in r.per_context] == [4, 5]
    assert any("every decode step simulated" in n for n in r.notes)


def test_cache_append_is_in_place():
    g = decode_graph(TINY, 64)
    wl = prepare(g)
    dev = load_device("gpu-orin-nano")
    from hwsim.cost.registry import cost_model

    costs = {c.node: c for c in cost_model(dev.kind).cost_graph(wl, dev)}
    appends = [n.name for n in g.nodes if n.op == "kv_append"]
    assert len(appends) == 2 * TINY.num_layers
    for a in appends:  # nothing copied: the new row was written by its producer
        assert sum(costs[a].transfer_bytes.values()) == 0 and costs[a].lower_bound_cycles == 0
    # the cache is read once per step by Q x K^T and P x V: DRAM traffic of those ops covers it
    cache = kv_cache_bytes(g)
    read = sum(costs[f"layers.{i}.attn.{op}"].transfer_bytes["dram"] for i in range(TINY.num_layers)
               for op in ("scores", "context"))
    assert read >= cache * 0.99


@pytest.mark.parametrize("device", ["cpu-a72", "gpu-orin-nano", "gpu-jetson-nano"])
def test_decode_is_memory_bound_and_prefill_is_faster_per_token(device):
    cfg = load_llm_config(LLM / "llama-3.2-1b.yaml")
    r = generate(cfg, device, prefill_tokens=64, new_tokens=2)
    assert r.decode_bound == "memory" and r.decode_memory_bound_share > 0.8
    assert r.prefill_tokens_per_s > 3 * r.decode_tokens_per_s
    # a memory-bound step cannot beat reading the weights once over the DRAM bandwidth
    dev = load_device(device)
    assert r.decode_step_s >= r.memory.weight_bytes / dev.dram.bandwidth_bytes_per_s * 0.95


def test_longer_context_is_slower_and_needs_more_cache():
    cfg = load_llm_config(LLM / "llama-3.2-1b.yaml")
    short = generate(cfg, "gpu-orin-nano", prefill_tokens=16, new_tokens=2, context=256)
    long = generate(cfg, "gpu-orin-nano", prefill_tokens=16, new_tokens=2, context=8192)
    assert long.decode_step_s > short.decode_step_s
    per_token = cfg.kv_bytes_per_token()
    assert long.memory.kv_cache_bytes == per_token * 8193 and short.memory.kv_cache_bytes == per_token * 257


def test_memory_counts_a_tied_table_once():
    cfg = load_llm_config(LLM / "qwen2.5-0.5b.yaml")
    r = generate(cfg, "gpu-orin-nano", prefill_tokens=8, new_tokens=1)
    assert r.memory.weight_bytes == cfg.published_params * 2  # fp16


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_cli_generation_json(capsys):
    code, out, _ = _run(["simulate", str(LLM / "tiny-random.yaml"), "-d", "cpu-a53", "--prefill", "8",
                         "--context", "16", "--new-tokens", "4", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["context"] == 16 and doc["new_tokens"] == 4 and doc["ttft_s"] > 0
    assert doc["memory"]["kv_tokens"] == 17


@pytest.mark.parametrize("argv, needle", [
    (["--prefill", "8"], "need an LLM config"),  # a model.json is not an LLM config
    (["--prefill", "300", "--new-tokens", "1"], "exceeds"),
])
def test_cli_bad_generation_input(capsys, argv, needle):
    model = str(ROOT / "workloads" / "lenet5.json") if needle.startswith("need") else str(LLM / "tiny-random.yaml")
    code, _, err = _run(["simulate", model, "-d", "cpu-a53", *argv], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


def test_bad_config_names_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((LLM / "tiny-random.yaml").read_text().replace("num_kv_heads: 2", "num_kv_heads: 3"))
    code, _, err = _run(["stats", str(bad)], capsys)
    assert code == 2 and "bad.yaml" in err and "num_kv_heads" in err
    bad.write_text((LLM / "tiny-random.yaml").read_text() + "unknown_key: 1\n")
    code, _, err = _run(["stats", str(bad)], capsys)
    assert code == 2 and "unknown_key" in err
