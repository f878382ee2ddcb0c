"""Methods files: custom pipelines in YAML, validated strictly (unknown keys, passes and parameters
are errors naming the file and the key path).

```yaml
version: 1
methods:
  my-deep-compression:
    description: prune harder in the classifier, 4-bit relative index
    needs_training: true            # optional: true / false / null (unknown)
    notes: ["fine-tuned elsewhere"] # optional
    steps:
      - pass: prune
        params: {sparsity: 0.6, linear_sparsity: 0.92}
        overrides:                  # per-layer parameter values, by layer name or glob
          "fc*": {sparsity: 0.95}
      - pass: share_kmeans
      - pass: sparse_format
        params: {format: relative_index, index_bits: 4}
      - pass: huffman
  int8-but-first:
    extends: int8                   # start from a catalogue method (its steps come first)
    steps:
      - pass: quantize
        params: {bits: 8}
        layers: [conv1]             # which layers the step touches (names or globs)
```

An override or ``layers`` pattern that names no layer of the model is reported when the method is
applied to a model (the file alone cannot know the model's layer names).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwsim.compress.base import PASSES
from hwsim.compress.method import Method
from hwsim.errors import CompressionError, HwsimError, quoted_value_hint
from hwsim.fileio import read_text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class StepSpec(_Strict):
    pass_: str = Field(alias="pass", min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    layers: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)


class MethodSpec(_Strict):
    description: str = ""
    extends: str | None = None
    steps: list[StepSpec] = Field(default_factory=list)
    needs_training: bool | None = None
    notes: list[str] = Field(default_factory=list)


class MethodsFile(_Strict):
    version: int = Field(default=1, ge=1, le=1)
    methods: dict[str, MethodSpec] = Field(min_length=1)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_methods(data: Any, source: str) -> dict[str, Method]:
    """Validate a decoded methods document into Methods (every pass and parameter checked)."""
    if not isinstance(data, dict):
        raise CompressionError("a methods file must hold a mapping with a 'methods' key", source=source)
    try:
        doc = MethodsFile.model_validate(data)
    except RecursionError:
        raise CompressionError("methods document nested too deeply", source=source) from None
    except ValidationError as e:
        first = e.errors()[0]
        raise CompressionError(first["msg"] + quoted_value_hint(first), source=source,
                               where=_loc(first["loc"])) from None
    from hwsim.compress.catalogue import METHODS

    out: dict[str, Method] = {}
    for name, spec in doc.methods.items():
        base_steps: list[tuple[str, dict[str, Any]]] = []
        base_training: bool | None = None
        base_notes: tuple[str, ...] = ()
        if spec.extends is not None:
            if spec.extends in out:
                base = out[spec.extends]
            elif spec.extends in METHODS:
                base = METHODS.get(spec.extends)
            else:
                raise CompressionError(f"'extends' names no method {spec.extends!r} (catalogue: "
                                       f"{', '.join(METHODS.keys())}, or one defined earlier in this file)",
                                       source=source, where=f"methods.{name}.extends")
            base_steps = [(n, dict(p)) for n, p in base.steps]
            base_training, base_notes = base.needs_training, base.notes
        steps = list(base_steps)
        for i, step in enumerate(spec.steps):
            where = f"methods.{name}.steps[{i}]"
            if step.pass_ not in PASSES:
                raise CompressionError(f"unknown pass {step.pass_!r}; known: {', '.join(sorted(PASSES.keys()))}",
                                       source=source, where=f"{where}.pass")
            params = dict(step.params)
            for key, value in (("overrides", step.overrides), ("layers", step.layers), ("exclude", step.exclude)):
                if value:
                    if key in params:
                        raise CompressionError(f"{key!r} given both in the step and in its params", source=source,
                                               where=f"{where}.{key}")
                    params[key] = value
            try:
                PASSES.get(step.pass_).parse_params(params)
            except HwsimError as e:
                raise CompressionError(e.message, source=source, where=f"{where}.params") from None
            steps.append((step.pass_, params))
        if not steps and spec.extends is None and name != "baseline":
            raise CompressionError("a method needs at least one step (or 'extends')", source=source,
                                   where=f"methods.{name}.steps")
        out[name] = Method(name=name, description=spec.description or (f"{spec.extends} + custom steps"
                                                                       if spec.extends else name),
                           steps=tuple(steps),
                           needs_training=spec.needs_training if spec.needs_training is not None else base_training,
                           notes=tuple(base_notes) + tuple(spec.notes), family="custom", source=source)
    return out


def packaged_methods_dir() -> Path:
    """The methods files shipped inside the package (``hwsim/compress/methods/``), found through
    importlib.resources so a wheel install finds them."""
    return Path(str(resources.files("hwsim.compress").joinpath("methods")))


def packaged_methods_files() -> list[str]:
    """File names of the shipped methods files (``early_exit.yaml``), sorted."""
    d = packaged_methods_dir()
    return sorted(p.name for p in d.glob("*.yaml")) if d.is_dir() else []


def resolve_methods_path(path: str | Path) -> Path:
    """A methods file as given, or, for a bare file name that is not a file here
    (``early_exit.yaml``), the shipped file of that name."""
    p = Path(path)
    if not p.is_file() and os.sep not in str(path) and "/" not in str(path):
        shipped = packaged_methods_dir() / p.name
        if shipped.is_file():
            return shipped
    return p


def load_methods_file(path: str | Path) -> dict[str, Method]:
    """Read and validate a YAML methods file (a path, or the name of a shipped one); returns its methods by
    name, in file order."""
    p = resolve_methods_path(path)
    text = read_text(p, CompressionError, "methods file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else None
        raise CompressionError(f"malformed YAML: {getattr(e, 'problem', None) or e}", source=str(p),
                               where=where) from None
    except RecursionError:
        raise CompressionError("YAML nested too deeply", source=str(p)) from None
    return parse_methods(data, str(p))


__all__ = ["MethodsFile", "MethodSpec", "StepSpec", "parse_methods", "load_methods_file", "packaged_methods_dir",
           "packaged_methods_files", "resolve_methods_path"]
