"""A FINN build as the FPGA design: its folding_config.json (``fpga.model_params.folding_config``) or its
target_fps (``fpga.model_params.target_fps``), and the FINN-style networks and methods that go with them
(workloads cnv / kws_mlp, methods finn-w1a1 / w3a3)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.compress import apply_method
from hwsim.compress.binary import BinarizeParams, binarize
from hwsim.compress.catalogue import get_method
from hwsim.cost.finn_folding import read_finn_folding
from hwsim.cost.fpga import plan
from hwsim.cost.fpga_dataflow import finn_set_folding
from hwsim.cost.work import prepare
from hwsim.errors import DeviceProfileError
from hwsim.frontends import load_model
from hwsim.hardware import load_device
from hwsim.ir.dtypes import BINARY

from testutils import ROOT, WORKLOADS

#: MLPerf Tiny v0.7 hls4ml-finn, ic/CNV-W1A1/inference/pynq-z2/folding_config (copied as validation data)
CNV_CONFIG = ROOT / "hwsim" / "analysis" / "data" / "finn" / "cnv-w1a1_pynq-z2_folding_config.json"
CNV_MACS = ["conv.0", "conv.1", "conv.2", "conv.3", "conv.4", "conv.5", "fc.0", "fc.1", "fc.2"]


def _graph(model: str, method: str):  # type: ignore[no-untyped-def]
    return apply_method(load_model(WORKLOADS / f"{model}.json"), get_method(method)).graph


def test_engines_fold_the_mac_layers_in_graph_order_whatever_finn_version_named_them(tmp_path: Path) -> None:
    cfg = {"Defaults": {}, "Thresholding_Batch_0": {"PE": 1}, "ConvolutionInputGenerator_0": {"SIMD": 3},
           "StreamingFCLayer_Batch_0": {"PE": 16, "SIMD": 3}, "MatrixVectorActivation_1": {"PE": 32, "SIMD": 32},
           "MVAU_hls_2": {"PE": 8}}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(cfg))
    assert read_finn_folding(path, ["a", "b", "c"]) == {"a": (16, 3), "b": (32, 32), "c": (8, 1)}
    # a model with another number of MAC layers (a method split or removed some) is refused, not mis-folded
    with pytest.raises(DeviceProfileError, match="folds 3 matrix-vector engines, the model has 4"):
        read_finn_folding(path, ["a", "b", "c", "d"])


@pytest.mark.parametrize("text, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"ConvolutionInputGenerator_0": {"SIMD": 3}}', "no matrix-vector engine"),
    ('{"StreamingFCLayer_Batch_9": {"PE": 1, "SIMD": 1}}', "for another network"),
    ('{"StreamingFCLayer_Batch_0": {"PE": 0, "SIMD": 1}}', "StreamingFCLayer_Batch_0.PE"),
    ('{"StreamingFCLayer_Batch_0": {"PE": 2, "SIMD": "4"}}', "StreamingFCLayer_Batch_0.SIMD"),
])
def test_a_bad_folding_config_names_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "folding.json"
    path.write_text(text)
    with pytest.raises(DeviceProfileError) as e:
        read_finn_folding(path, CNV_MACS)
    assert message in str(e.value) and "folding.json" in str(e.value)


def test_the_published_folding_sets_every_engine_and_its_cycles() -> None:
    """Each MAC engine takes the file's PE x SIMD; its cycles per frame are FINN's
    output pixels x ceil(MW / SIMD) x ceil(MH / PE) (MW = kernel x kernel x input channels, MH = outputs)."""
    dev = load_device("pynq-z2", {"fpga.model_params.folding_config": str(CNV_CONFIG)})
    design = plan(prepare(_graph("cnv", "finn-w1a1")), dev)
    assert design.architecture == "dataflow"
    doc = json.loads(CNV_CONFIG.read_text())
    geometry = {"conv.0": (30 * 30, 27, 64), "conv.1": (28 * 28, 576, 64), "conv.2": (12 * 12, 576, 128),
                "conv.3": (10 * 10, 1152, 128), "conv.4": (3 * 3, 1152, 256), "conv.5": (1, 2304, 256),
                "fc.0": (1, 256, 512), "fc.1": (1, 512, 512), "fc.2": (1, 512, 10)}
    for i, node in enumerate(CNV_MACS):
        ly = design.layer(node)
        entry = doc[f"StreamingFCLayer_Batch_{i}"]
        assert (ly.pe, ly.simd) == (entry["PE"], entry["SIMD"]), node
        pixels, mw, mh = geometry[node]
        assert ly.cycles == pixels * math.ceil(mw / ly.simd) * math.ceil(mh / ly.pe), node
    assert design.layer("conv.3").cycles == 28_800 and design.layer("fc.1").cycles == 32_768


def test_target_fps_folds_as_finn_set_folding_does() -> None:
    """KWS-W3A3 at target_fps 200,000 and 100 MHz: 500 cycles per frame. FINN's SetFolding
    (finn/transformation/fpgadataflow/set_folding.py) raises SIMD through the divisors of MW while 3-bit
    weights x SIMD stay <= 36 (so SIMD <= 12: 10 for MW 490, 8 for MW 256) unless the target is met first,
    then PE through the divisors of MH until cycles < 500. By hand:
    fc.0 490 -> 256: SIMD 10, 49 x 256 / PE < 500 -> PE 32, 392 cycles; fc.1, fc.2 256 -> 256: SIMD 8,
    32 x 256 / PE < 500 -> PE 32, 256 cycles; fc.3 256 -> 12: SIMD 8, 32 x 12 = 384 < 500 -> PE 1."""
    dev = load_device("pynq-z2", {"fpga.model_params.target_fps": "200000"})
    design = plan(prepare(_graph("kws_mlp", "w3a3")), dev)
    folds = {ly.node: (ly.pe, ly.simd, ly.cycles) for ly in design.layers if ly.kind == "mvau"}
    assert folds == {"fc.0": (32, 10, 392), "fc.1": (32, 8, 256), "fc.2": (32, 8, 256), "fc.3": (1, 8, 384)}
    assert design.architecture == "dataflow" and design.target_cycles == 392
    # batchnorm + the 3-bit ReLU after each hidden layer are that engine's thresholds (FINN streamlining):
    # 2^3 - 1 per channel, no stream engine of their own
    assert {ly.node: ly.fused_into for ly in design.layers if ly.kind == "fused"} == {
        f"fc.{i}.{k}": f"fc.{i}" for i in range(3) for k in ("bn", "act")}
    assert design.layer("fc.0").thresholds == 7 and design.layer("fc.3").thresholds == 0
    # without a target the search takes the fastest design that fits: a shorter interval
    assert plan(prepare(_graph("kws_mlp", "w3a3")), load_device("pynq-z2")).target_cycles < 392


def test_set_folding_rule_and_its_second_pass() -> None:
    # SIMD stops at the weight-stream cap: 8-bit weights, cap 36 -> SIMD 4 of MW 64; then PE
    assert finn_set_folding(mh=16, mw=64, pixels=1, w_bits=8, target=40, wwidth_max=36) == (8, 4)
    # a target met by SIMD alone leaves PE at 1
    assert finn_set_folding(mh=16, mw=64, pixels=1, w_bits=1, target=40, wwidth_max=36) == (1, 32)
    # an unreachable target unfolds fully; the design then refolds for the interval that engine sets
    assert finn_set_folding(mh=16, mw=64, pixels=100, w_bits=1, target=10, wwidth_max=36) == (16, 32)
    dev = load_device("pynq-z2", {"fpga.model_params.target_fps": str(100e6 / 50)})  # 50 cycles: too few
    design = plan(prepare(_graph("cnv", "finn-w1a1")), dev)
    slowest = max(ly.cycles for ly in design.layers if ly.kind == "mvau")
    assert design.target_cycles == slowest > 50
    assert any("second pass" in n for n in design.notes)


def test_the_overlay_keeps_batchnorm_and_activation_as_layers() -> None:
    """Only the dataflow design streamlines a quantized activation into thresholds; the overlay's per-layer
    overhead (fitted on the DPU tables) counts them as layers, so it keeps them."""
    dev = load_device("pynq-z2", {"fpga.model_params.architecture": "overlay"})
    design = plan(prepare(_graph("kws_mlp", "w3a3")), dev)
    assert not [ly for ly in design.layers if ly.kind == "fused"]


@pytest.mark.parametrize("overrides", [
    {"fpga.model_params.target_fps": "1000", "fpga.model_params.architecture": "overlay"},
    {"fpga.model_params.target_fps": "-5"},
])
def test_a_finn_build_setting_on_an_overlay_or_negative_is_refused(overrides: dict[str, str]) -> None:
    dev = load_device("pynq-z2", overrides)
    with pytest.raises(DeviceProfileError):
        plan(prepare(_graph("kws_mlp", "w3a3")), dev)


def test_a_missing_folding_file_is_one_clear_line_and_exit_2(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(SystemExit) as e:
        main(["simulate", str(WORKLOADS / "cnv.json"), "-d", "pynq-z2", "-m", "finn-w1a1",
              "--set", f"fpga.model_params.folding_config={missing}"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "nowhere.json" in err and "Traceback" not in err


def test_finn_w1a1_binarizes_every_layer_but_leaves_the_image_unbinarized() -> None:
    g = _graph("cnv", "finn-w1a1")
    macs = [n for n in g.nodes if n.op in ("conv2d", "linear")]
    assert [n.name for n in macs] == CNV_MACS
    assert all(g.tensor(n.params["weight"]).dtype == BINARY for n in macs)
    assert macs[0].inputs[0] in g.inputs  # the image, as read
    assert all(g.tensor(n.inputs[0]).dtype == BINARY for n in macs[1:])
    # plain bnn with keep_first_last: false still binarizes the image (the new rule is opt-in)
    plain = binarize(load_model(WORKLOADS / "cnv.json"), BinarizeParams(mode="bnn", keep_first_last=False)).graph
    first = next(n for n in plain.nodes if n.op == "conv2d")
    assert first.inputs[0] not in plain.inputs and plain.tensor(first.inputs[0]).dtype == BINARY


def test_w3a3_quantizes_every_layer_to_three_bits() -> None:
    g = _graph("kws_mlp", "w3a3")
    layers = [n for n in g.nodes if n.op == "linear"]
    assert len(layers) == 4
    for n in layers:
        assert g.tensor(n.params["weight"]).dtype.bits == 3, n.name
        assert g.tensor(n.inputs[0]).dtype.bits == 3, n.name
