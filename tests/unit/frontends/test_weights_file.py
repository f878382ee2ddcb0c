"""Trained weights by tensor name: .npz, and a PyTorch state_dict (torch is an optional extra)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.analysis.accuracy import weights_origin
from hwsim.errors import ModelFormatError
from hwsim.frontends import load_model
from hwsim.frontends.weights_file import attach_weights

from testutils import WORKLOADS


def _arrays(graph):
    rng = np.random.default_rng(3)
    return {t: rng.standard_normal(graph.tensor(t).shape).astype(np.float32) for t in graph.weight_names()}


def test_npz_by_tensor_name(tmp_path):
    g = load_model(WORKLOADS / "lenet5.json")
    assert weights_origin(g) == "random"
    arrays = _arrays(g)
    np.savez(tmp_path / "w.npz", **arrays, extra=np.zeros(3))
    g2, notes = attach_weights(g, tmp_path / "w.npz")
    assert weights_origin(g2) == "trained" and "extra" in notes[0]
    assert np.array_equal(g2.dense_weight("ip1.weight"), arrays["ip1.weight"])


@pytest.mark.parametrize("change, message", [("drop", "not in the file"), ("shape", "has shape"),
                                              ("nan", "not finite")])
def test_bad_weight_files_name_the_file_and_tensor(tmp_path, change, message):
    g = load_model(WORKLOADS / "lenet5.json")
    arrays = _arrays(g)
    if change == "drop":
        del arrays["conv2.weight"]
    elif change == "shape":
        arrays["conv2.weight"] = arrays["conv2.weight"][:1]
    else:
        arrays["conv2.weight"][0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFormatError) as e:
        attach_weights(g, tmp_path / "bad.npz")
    assert "bad.npz" in str(e.value) and message in str(e.value) and "conv2.weight" in str(e.value)


def test_unknown_suffix_and_missing_file(tmp_path):
    g = load_model(WORKLOADS / "lenet5.json")
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ModelFormatError, match="state_dict"):
        attach_weights(g, tmp_path / "w.bin")
    with pytest.raises(ModelFormatError, match="does not exist"):
        attach_weights(g, tmp_path / "nope.npz")


def test_torch_state_dict_with_batchnorm_names(tmp_path):
    torch = pytest.importorskip("torch")
    g = load_model(WORKLOADS / "resnet18.json")
    arrays = _arrays(g)
    state = {}
    for name, value in arrays.items():
        prefix, _, slot = name.rpartition(".")
        torch_slot = {"gamma": "weight", "beta": "bias", "mean": "running_mean", "var": "running_var"}.get(slot, slot)
        state[f"{prefix}.{torch_slot}"] = torch.from_numpy(value)
    state["bn1.num_batches_tracked"] = torch.tensor(1)
    torch.save(state, tmp_path / "sd.pt")
    g2, notes = attach_weights(g, tmp_path / "sd.pt")
    assert weights_origin(g2) == "trained" and notes == ()
    assert np.array_equal(g2.dense_weight("bn1.var"), arrays["bn1.var"])
