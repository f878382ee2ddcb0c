"""Model readers and writers, chosen by file suffix: FRONTENDS[".json"], FRONTENDS[".onnx"], FRONTENDS[".yaml"]
(decoder-LM configs, ``hwsim.frontends.llm_config``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hwsim.errors import ModelFormatError
from hwsim.frontends.model_json import load_model_json, save_model_json
from hwsim.ir.graph import OpGraph
from hwsim.registry import Registry

FRONTENDS: Registry[str, Callable[[Path], OpGraph]] = Registry("model file type")
FRONTENDS.register(".json", load_model_json)


def _load_onnx(path: Path) -> OpGraph:
    from hwsim.frontends.onnx_reader import load_onnx  # onnx is imported only when needed

    return load_onnx(path)


FRONTENDS.register(".onnx", _load_onnx)


def _load_llm(path: Path) -> OpGraph:
    from hwsim.frontends.llm_config import load_llm  # decoder-LM configs (workloads/llm/*.yaml)

    return load_llm(path)


FRONTENDS.register(".yaml", _load_llm)
FRONTENDS.register(".yml", _load_llm)


def load_model(path: str | Path) -> OpGraph:
    """Read a model file (.json, .onnx or an LLM config .yaml) into a validated, shape-inferred OpGraph."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FRONTENDS:
        raise ModelFormatError(f"unknown model file type {suffix or '(none)'!r}; known: "
                               f"{', '.join(FRONTENDS.keys())}", source=str(path))
    return FRONTENDS.get(suffix)(path)


__all__ = ["FRONTENDS", "load_model", "load_model_json", "save_model_json"]
