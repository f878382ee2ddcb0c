"""The pydantic schema of model.json: the authority on what a valid document is, the source of its JSON
schema (``model.schema.json``) and of every error message (key path + what was expected).

``hwsim.frontends.model_json`` imports this module only when a document is not in the plain form its
fast reader accepts (``model_json_plain``), and for the JSON schema: pydantic's import and model
building are a large share of a ``hwsim stats`` call, and a valid file needs neither.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hwsim.errors import HwsimError, ModelFormatError, quoted_value_hint
from hwsim.ir.dtypes import dtype

FORMAT_NAME = "hwsim-model"
FORMAT_VERSION = 1

#: Node and tensor names: printable text (a NUL or another control character would corrupt the saved
#: weights' .npz keys and every report that prints the name). ``model_json_plain`` checks the same.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
NAME_MAX_LENGTH = 1024
SEED_MAX = 2**64 - 1


class _Strict(BaseModel):
    # strict: a quoted number or a string boolean is an error naming the key, not coerced
    model_config = ConfigDict(extra="forbid", strict=True)


Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]


class InputSpec(_Strict):
    name: Name
    shape: list[Annotated[int, Field(strict=True)]] = Field(
        min_length=1, description="with the batch dimension, NCHW for images")
    dtype: str = "fp32"

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str) -> str:
        try:
            dtype(v)
        except HwsimError as e:
            raise ValueError(e.message) from None
        return v


class NodeSpec(_Strict):
    name: Name
    op: str = Field(min_length=1)
    inputs: list[Name] | None = Field(default=None, description="default: the previous node's first output")
    outputs: list[Name] | None = Field(default=None, min_length=1, description="default: [name]")
    attrs: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Name] = Field(default_factory=dict, description="slot -> tensor name; default <node>.<slot>")


class TensorAnnotation(_Strict):
    dtype: str = "fp32"
    encoding: str = "dense"
    density: float = Field(default=1.0, ge=0.0, le=1.0)
    stored_bits: int | None = Field(default=None, ge=0)
    meta: dict[str, Any] = Field(default_factory=dict)


class ModelFile(_Strict):
    format: Literal["hwsim-model"] = FORMAT_NAME
    version: Literal[1] = FORMAT_VERSION
    name: str = Field(min_length=1)
    seed: int = Field(default=0, ge=0, le=SEED_MAX)
    weights: str | None = Field(default=None, min_length=1,
                                description=".npz file relative to this file, inside its folder")
    inputs: list[InputSpec] = Field(min_length=1)
    nodes: list[NodeSpec] = Field(min_length=1)
    outputs: list[Name] | None = Field(default=None, min_length=1, description="default: the last node's outputs")
    tensors: dict[Name, TensorAnnotation] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


def json_schema() -> dict[str, Any]:
    schema = ModelFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hwsim model.json"
    return schema


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_message(err: ValidationError, limit: int = 5) -> tuple[str, str]:
    errors = err.errors()
    first = errors[0]
    msgs = [f"{_loc(e['loc'])}: {e['msg']}{quoted_value_hint(e)}" for e in errors[:limit]]
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return _loc(first["loc"]), "; ".join(msgs) + more


def validated_document(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` validated by the schema, every default filled in (the form ``model_json`` builds from);
    raises ModelFormatError naming the key paths of the first errors."""
    try:
        return ModelFile.model_validate(data).model_dump()
    except RecursionError:
        raise ModelFormatError("model document nested too deeply", source=source) from None
    except ValidationError as e:
        _, msg = validation_message(e)
        raise ModelFormatError(msg, source=source) from None
