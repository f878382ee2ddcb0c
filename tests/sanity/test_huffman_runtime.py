"""Huffman coding is a storage stage: decoded once at model load, never on every inference.

Deep Compression (Han et al., ICLR 2016, Section 4) Huffman-codes the quantized weights and sparse
indices "for storage"; EIE (Han et al., ISCA 2016) executes on the 4-bit codebook indices and relative
indices, not on Huffman bits. So by default (``sparse.huffman_decode: load_time``):

- the model size a report shows is the Huffman-coded size (``RunResult.weight_bytes``),
- every inference reads the inner fixed-width encoding (the formats' ``fixed_width_bits``) and pays no
  entropy decoding: its latency and traffic equal those of the same method without the Huffman stage,
- a device that declares an on-the-fly decoder (``sparse.huffman_decode: on_the_fly``) reads the
  Huffman bits instead and pays the decoding cycles.

Real trained weights (the committed digits CNN) so that the Huffman codes are real.
"""

from __future__ import annotations

import pytest
from sanity_cases import CPU_GPU, compressed, dram, model, run

from hwsim.compress.catalogue import get_method
from hwsim.compress.method import Method, apply_method
from hwsim.cost.work import prepare

MODEL = "digits_cnn"
#: sparse kernels kept sparse (no expansion to dense at load, which would decode Huffman at load anyway)
SPARSE = (("sparse.dense_fallback", "false"),)
ON_THE_FLY = SPARSE + (("sparse.huffman_decode", "on_the_fly"),)


def _without_huffman() -> Method:
    dc = get_method("deep-compression")
    return Method("dc-no-huffman", "", tuple(s for s in dc.steps if s[0] != "huffman"))


def test_the_deep_compression_model_really_carries_huffman_codes() -> None:
    work = prepare(compressed(MODEL, "deep-compression"))
    coded = [w for w in work.ops if w.weight is not None and w.weight.huffman_coded]
    assert coded, "no Huffman-coded weight: the test would prove nothing"
    for w in coded:
        assert w.weight.stored_bytes < w.weight.runtime_bytes  # Huffman is smaller at rest
    assert work.weight_bytes < work.runtime_weight_bytes


@pytest.mark.parametrize("dev", CPU_GPU)
def test_huffman_is_decoded_at_load_time_by_default(dev: str) -> None:
    dc = run(MODEL, "deep-compression", dev)
    plain = apply_method(model(MODEL), _without_huffman()).graph
    from hwsim.sim import simulate

    ref = simulate(plain, dev)
    assert not any("Huffman" in n for n in dc.notes)
    assert dc.total_cycles == ref.total_cycles  # the Huffman stage changes nothing at run time
    assert dc.transfer_bytes == ref.transfer_bytes
    assert dc.weight_bytes < ref.weight_bytes  # ... but the model is smaller at rest
    assert dc.weight_bytes == prepare(compressed(MODEL, "deep-compression")).weight_bytes


@pytest.mark.parametrize("dev", CPU_GPU)
def test_an_on_the_fly_decoder_reads_huffman_bits_and_pays_for_decoding(dev: str) -> None:
    load, live = run(MODEL, "deep-compression", dev, SPARSE), run(MODEL, "deep-compression", dev, ON_THE_FLY)
    assert any("Huffman decoding at run time" in n for n in live.notes)
    assert sum(t.compute_cycles for t in live.ops) > sum(t.compute_cycles for t in load.ops)
    # DRAM carries the (smaller) Huffman bits instead of the fixed-width codes
    assert live.transfer_bytes[dram(dev)] < load.transfer_bytes[dram(dev)]
    assert live.footprint_bytes < load.footprint_bytes


@pytest.mark.parametrize("dev", CPU_GPU)
@pytest.mark.parametrize("name", ("resnet18", "mobilenet_v2", MODEL))
def test_deep_compression_is_not_slower_than_the_dense_baseline_on_cpus_and_gpus(name: str, dev: str) -> None:
    """Where a sparse layer would be slower than dense (65%-dense convs), the engine expands it at load
    time (``sparse.dense_fallback``) to dense codebook codes: never slower than fp32 dense beyond the
    per-weight codebook lookup, and fewer DRAM bytes."""
    base, dc = run(name, "baseline", dev), run(name, "deep-compression", dev)
    lookups = sum(w.weight.numel for w in prepare(compressed(name, "deep-compression")).ops if w.weight is not None)
    assert dc.total_cycles <= base.total_cycles + lookups
    assert dc.transfer_bytes[dram(dev)] < base.transfer_bytes[dram(dev)]
