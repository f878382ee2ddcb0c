"""Preprocessing of image data for a model's input: resize, centre crop, scale, mean/std, channel order.

Options come from the command line (``--preprocess KEY=VALUE,...``) or a small YAML file with the
same keys; pydantic validates them (unknown keys are refused, naming the file)::

    resize: 256          # shorter side to 256 px (aspect kept), or [h, w]
    crop: 224            # centre crop (square), or [h, w]; default: the model input's size
    scale: 0.00392156862 # multiply pixel values (0..255) first; default 1/255
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
    channels: rgb        # rgb | bgr | gray
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwsim.errors import DataError, UsageError

Size = int | tuple[int, int]


class Preprocess(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resize: Size | None = None
    crop: Size | None = None
    scale: float = Field(1.0 / 255.0, gt=0)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    channels: Literal["rgb", "bgr", "gray"] | None = None  # default: gray for 1-channel inputs, else rgb

    def normalize(self, x: np.ndarray, source: str) -> np.ndarray:
        """x [N, C, H, W] (already scaled) minus mean, over std, per channel."""
        c = x.shape[1]
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        for what, v in (("mean", mean), ("std", std)):
            if v.size not in (1, c):
                raise DataError(f"preprocess {what} has {v.size} values but the images have {c} channel(s)",
                                source=source)
        if np.any(std == 0):
            raise DataError("preprocess std may not be 0", source=source)
        return ((x - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)).astype(np.float32)


def _pair(v: Size) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def parse_preprocess(text: str | None) -> Preprocess:
    """``None``, a YAML file, or ``key=value,key=value`` (lists as ``mean=0.5/0.5/0.5``)."""
    if not text:
        return Preprocess()
    import yaml

    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        from hwsim.fileio import read_text

        try:
            doc = yaml.safe_load(read_text(text, DataError)) or {}
        except yaml.YAMLError as e:
            raise DataError(f"not valid YAML: {e}", source=text) from None
        source = text
    else:
        doc, source = {}, "--preprocess"
        for item in (i for i in text.split(",") if i.strip()):
            key, eq, value = item.partition("=")
            if not eq:
                raise UsageError(f"expected KEY=VALUE, got {item!r}", where="--preprocess")
            parts = [yaml.safe_load(p) for p in value.split("/")]
            doc[key.strip()] = parts if len(parts) > 1 or key.strip() in ("mean", "std") else parts[0]
    if not isinstance(doc, dict):
        raise DataError("expected a mapping of preprocessing options", source=source)
    try:
        return Preprocess.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise DataError(f"{err['msg']}", source=source, where=where) from None


def resize_and_crop(image: "object", target: tuple[int, int], p: Preprocess) -> "object":
    """A Pillow image resized (``resize``: shorter side or exact size) and centre-cropped to ``target``
    (``crop`` overrides the crop size; without ``resize`` the image is resized straight to the crop)."""
    from PIL import Image

    crop = _pair(p.crop) if p.crop is not None else target
    w, h = image.size  # type: ignore[attr-defined]
    if p.resize is None:
        return image.resize((crop[1], crop[0]), Image.BILINEAR)  # type: ignore[attr-defined]
    if isinstance(p.resize, int):
        k = p.resize / min(w, h)
        size = (max(1, round(w * k)), max(1, round(h * k)))
    else:
        size = (_pair(p.resize)[1], _pair(p.resize)[0])
    image = image.resize(size, Image.BILINEAR)  # type: ignore[attr-defined]
    w, h = size
    top, left = max(0, (h - crop[0]) // 2), max(0, (w - crop[1]) // 2)
    return image.crop((left, top, left + crop[1], top + crop[0]))  # type: ignore[attr-defined]
