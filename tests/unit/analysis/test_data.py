"""Every data loader on small shipped or generated data; bad data exits with the file named."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hwsim.analysis.data import load_for_model, parse_preprocess
from hwsim.analysis.data.traintest import load_digits_split
from hwsim.errors import DataError, HwsimError
from hwsim.frontends import load_model

from testutils import WORKLOADS


@pytest.fixture(scope="module")
def cnn():
    return load_model(WORKLOADS / "digits" / "cnn.json")


def test_digits_split_keeps_the_trained_models_test_set(cnn):
    d = load_for_model("digits", cnn)
    old = load_digits_split()
    assert d.size("test") == 540 and d.size("train") + d.size("validation") == 1257
    key = lambda a: sorted(map(bytes, a.reshape(len(a), -1)))  # noqa: E731
    assert key(d.x("test")) == key(old.x_test)
    assert set(d.indices["calibration"]) <= set(d.indices["train"])
    assert not set(d.indices["validation"]) & set(d.indices["test"])


def test_mnist_subset_shapes_and_split():
    g = load_model(WORKLOADS / "lenet5.json")
    d = load_for_model("mnist", g)
    assert d.x("test").shape == (1000, 1, 28, 28) and d.size("validation") == 500 and d.size("train") == 3500
    assert np.bincount(d.y("test")).tolist() == [100] * 10  # stratified
    again = load_for_model("mnist", g)
    assert all((again.indices[k] == d.indices[k]).all() for k in d.indices)


def test_npz_roundtrip_and_errors(tmp_path, cnn):
    rng = np.random.default_rng(0)
    ok = tmp_path / "ok.npz"
    np.savez(ok, x=rng.random((40, 64)).astype(np.float32), y=np.arange(40) % 10)
    d = load_for_model(str(ok), cnn)
    assert d.x("test").shape == (8, 1, 8, 8) and d.data.classes == 10
    cases = {
        "noy.npz": dict(x=np.zeros((4, 64))),
        "shape.npz": dict(x=np.zeros((10, 65)), y=np.arange(10) % 10),
        "labels.npz": dict(x=np.zeros((10, 64)), y=np.arange(10) - 1),
        "count.npz": dict(x=np.zeros((10, 64)), y=np.arange(10), class_names=np.array([str(i) for i in range(12)])),
        "len.npz": dict(x=np.zeros((10, 64)), y=np.arange(9)),
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(DataError) as e:
            load_for_model(str(tmp_path / name), cnn)
        assert name in str(e.value), str(e.value)


def _folder(root, classes=3, per_class=4, size=(10, 12), mode="L"):
    rng = np.random.default_rng(1)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            shape = size if mode == "L" else size + (3,)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / f"class{c}" / f"{i}.png")


def test_image_folder_is_resized_normalized_and_labelled(tmp_path, cnn):
    _folder(tmp_path / "imgs")
    d = load_for_model(str(tmp_path / "imgs"), cnn, preprocess="mean=0.5,std=0.25")
    assert d.data.x.shape == (12, 1, 8, 8) and d.data.class_names == ("class0", "class1", "class2")
    assert np.bincount(d.data.y).tolist() == [4, 4, 4]
    assert -2.0 - 1e-6 <= d.data.x.min() and d.data.x.max() <= 2.0 + 1e-6


def test_image_folder_errors_name_the_file(tmp_path, cnn):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_for_model(str(tmp_path / "empty"), cnn)
    _folder(tmp_path / "bad", classes=2)
    (tmp_path / "bad" / "class1" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError) as e:
        load_for_model(str(tmp_path / "bad"), cnn)
    assert "broken.png" in str(e.value)
    _folder(tmp_path / "rgb", classes=2, mode="RGB")
    with pytest.raises(DataError, match="channel"):
        load_for_model(str(tmp_path / "rgb"), cnn, preprocess="channels=rgb")
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        load_for_model(str(tmp_path / "noimg"), cnn)


def test_preprocess_yaml_is_validated(tmp_path):
    f = tmp_path / "pre.yaml"
    f.write_text("resize: 32\ncrop: 28\nmean: [0.1]\nstd: [0.3]\n")
    p = parse_preprocess(str(f))
    assert p.resize == 32 and p.crop == 28 and p.mean == (0.1,)
    f.write_text("rezise: 32\n")
    with pytest.raises(HwsimError) as e:
        parse_preprocess(str(f))
    assert "pre.yaml" in str(e.value) and "rezise" in str(e.value)


def test_unknown_data_spec(cnn):
    with pytest.raises(DataError, match="not a bundled data set"):
        load_for_model("nosuch", cnn)
