"""Parameter counts of the LLM configs equal the published totals (Hugging Face Hub safetensors
metadata; sources in each workloads/llm/*.yaml), tied embeddings counted once."""

from __future__ import annotations

import pytest

from hwsim.analysis.llm_params import parameter_count
from hwsim.frontends.llm_config import decode_graph, load_llm_config, prefill_graph

from testutils import ROOT

LLM_DIR = ROOT / "workloads" / "llm"
PUBLISHED = {  # copied from the model pages (exact totals); the yaml files carry the same with sources
    "gpt2-small": 124_439_808,
    "tinyllama-1.1b": 1_100_048_384,
    "qwen2.5-0.5b": 494_032_768,
    "llama-3.2-1b": 1_235_814_400,
    "llama-3.2-3b": 3_212_749_824,
    "phi-2": 2_779_683_840,
    "llama-3.1-8b": 8_030_261_248,  # the two below stand for validation records (docs/llm.md)
    "qwen2.5-7b": 7_615_616_512,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_equals_published_total(name):
    cfg = load_llm_config(LLM_DIR / f"{name}.yaml")
    assert cfg.published_params == PUBLISHED[name]
    assert cfg.published_params_source and cfg.source.startswith("https://huggingface.co/")
    decode = decode_graph(cfg, 8)
    assert parameter_count(decode) == PUBLISHED[name]
    assert parameter_count(prefill_graph(cfg, 4)) == PUBLISHED[name]  # both phases hold the same weights


def test_tied_models_would_be_off_by_the_table_if_counted_twice():
    cfg = load_llm_config(LLM_DIR / "llama-3.2-1b.yaml")
    g = decode_graph(cfg, 8)
    raw = sum(g.tensor(t).numel for t in g.weight_names())
    assert raw - parameter_count(g) == cfg.vocab_size * cfg.hidden_size
