"""The shared software model: parameters of the inference software a device runs (thread-pool overhead,
tiling, sparse/entropy-decoding kernels, exp/erf routines), kept once per software class in
``software_models.yaml`` instead of once per board profile (docs/devices.md, "Software model").

A profile names its class with ``software_model: NAME``; :func:`apply_software_model` fills the keys the
profile leaves out from that class (the profile's own values win; memory-level keys only fill levels the
profile has, so the class never adds a level).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hwsim.errors import DeviceProfileError

KEY = "software_model"


def software_models_path() -> Path:
    return Path(str(resources.files("hwsim.hardware").joinpath("software_models.yaml")))


@lru_cache(maxsize=1)
def _classes() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(software_models_path().read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not all(isinstance(v, dict) and "kind" in v for v in doc.values()):
        raise DeviceProfileError("each software model must be a mapping with a 'kind'", source=str(software_models_path()))
    return doc


def software_model_names() -> list[str]:
    return sorted(_classes())


def apply_software_model(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """``doc`` with the keys of its ``software_model`` class filled in (a new dict; ``doc`` untouched)."""
    name = doc.get(KEY)
    if name is None:
        return doc
    classes = _classes()
    if not isinstance(name, str) or name not in classes:
        raise DeviceProfileError(f"unknown software model {name!r}; known: {', '.join(sorted(classes))}",
                                 source=source, where=KEY)
    overlay = classes[name]
    if overlay["kind"] != doc.get("kind"):
        raise DeviceProfileError(f"software model {name!r} is for kind {overlay['kind']!r}, "
                                 f"this profile is {doc.get('kind')!r}", source=source, where=KEY)
    out = copy.deepcopy(doc)
    for section, values in overlay.items():
        if section == "kind":
            continue
        if section == "memory":
            levels = out.get("memory")
            if isinstance(levels, dict):
                for level, keys in values.items():
                    if isinstance(levels.get(level), dict):
                        _fill(levels[level], keys)
            continue
        target = out.setdefault(section, {})
        if isinstance(target, dict):
            _fill(target, values)
    return out


def _fill(target: dict[str, Any], values: dict[str, Any]) -> None:
    """Set the keys of ``values`` that ``target`` lacks, recursing into sub-mappings."""
    for key, value in values.items():
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(target[key], dict):
            _fill(target[key], value)
