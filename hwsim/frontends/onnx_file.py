"""Read an ONNX file without reading its weights: a protobuf wire-format walk that copies every field
except the ``raw_data`` payloads of large initializers, whose place in the file it records instead.

``onnx.load`` reads the whole file into memory and parses it into a second copy (peak ~2x the file);
counting and costing need only the graph, the initializers' dims and types, and small constants. Here
the model is parsed from the bytes that remain (kilobytes to a few megabytes), and each large weight
is read from the file (``numpy.fromfile`` at its offset) only when a functional run asks for it.

Field numbers are ONNX's (onnx/onnx.proto3): ModelProto.graph = 7; GraphProto.initializer = 5;
TensorProto.dims = 1, data_type = 2, raw_data = 9.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx

#: payloads at least this large stay in the file (smaller ones are copied like every other field)
MIN_LAZY_BYTES = 16 * 1024
#: element types whose raw bytes are a plain little-endian NumPy array
_PLAIN = {onnx.TensorProto.FLOAT: "<f4", onnx.TensorProto.FLOAT16: "<f2", onnx.TensorProto.DOUBLE: "<f8",
          onnx.TensorProto.INT8: "i1", onnx.TensorProto.UINT8: "u1", onnx.TensorProto.INT16: "<i2",
          onnx.TensorProto.UINT16: "<u2", onnx.TensorProto.INT32: "<i4", onnx.TensorProto.INT64: "<i8",
          onnx.TensorProto.UINT32: "<u4", onnx.TensorProto.UINT64: "<u8", onnx.TensorProto.BOOL: "?"}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class ExternalDataError(ValueError):
    """An initializer's external data file is missing, outside the model's folder or too short."""


@dataclass(frozen=True)
class RawLocation:
    """Where an initializer's raw little-endian values sit in the file."""

    path: Path
    offset: int
    length: int
    dtype: str

    def read(self, dims: tuple[int, ...]) -> np.ndarray:
        n = math.prod(dims)
        if n * np.dtype(self.dtype).itemsize != self.length:
            raise WireError(f"dims {list(dims)} declare {n} values but {self.length} bytes are stored")
        return np.fromfile(self.path, dtype=np.dtype(self.dtype), count=n, offset=self.offset).reshape(dims)


def _varint(f: BinaryIO) -> int:
    shift = result = 0
    while True:
        b = f.read(1)
        if not b:
            raise WireError("truncated varint")
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def _encode_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(f: BinaryIO, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start of the field's tag, start of its payload) up to ``end``; the
    file is left at the payload (length-delimited fields: after the length; the caller moves on)."""
    while f.tell() < end:
        tag_at = f.tell()
        key = _varint(f)
        yield key >> 3, key & 7, tag_at, f.tell()


def _skip(f: BinaryIO, wire: int) -> None:
    if wire == 0:
        _varint(f)
    elif wire == 1:
        f.seek(8, io.SEEK_CUR)
    elif wire == 2:
        n = _varint(f)
        f.seek(n, io.SEEK_CUR)
    elif wire == 5:
        f.seek(4, io.SEEK_CUR)
    else:
        raise WireError(f"unsupported wire type {wire}")


def _copy(f: BinaryIO, tag_at: int, wire: int) -> bytes:
    """The whole field (tag and payload) starting at ``tag_at``."""
    f.seek(tag_at)
    _varint(f)
    _skip(f, wire)
    end = f.tell()
    f.seek(tag_at)
    return f.read(end - tag_at)


def _tensor(f: BinaryIO, end: int, path: Path) -> tuple[bytes, RawLocation | None]:
    """A TensorProto's bytes without a large raw_data payload, and where that payload is."""
    out = bytearray()
    dtype = 0
    location = None
    for num, wire, tag_at, _ in _fields(f, end):
        if num == 2 and wire == 0:
            dtype = _varint(f)
            f.seek(tag_at)
        if num == 9 and wire == 2:
            n = _varint(f)
            at = f.tell()
            if n >= MIN_LAZY_BYTES and dtype in _PLAIN:
                location = RawLocation(path, at, n, _PLAIN[dtype])
                f.seek(n, io.SEEK_CUR)
                continue
            f.seek(tag_at)
        out += _copy(f, tag_at, wire)
    if f.tell() != end:
        raise WireError("a tensor's fields overrun its length")
    return bytes(out), location


def _graph(f: BinaryIO, end: int, path: Path, lazy: dict[str, RawLocation]) -> bytes:
    out = bytearray()
    for num, wire, tag_at, _ in _fields(f, end):
        if num == 5 and wire == 2:
            n = _varint(f)
            body, location = _tensor(f, f.tell() + n, path)
            if location is not None:
                t = onnx.TensorProto()
                t.ParseFromString(body)
                lazy[t.name] = location
            out += _encode_varint((5 << 3) | 2) + _encode_varint(len(body)) + body
            continue
        out += _copy(f, tag_at, wire)
    if f.tell() != end:
        raise WireError("the graph's fields overrun its length")
    return bytes(out)


def external_location(t: onnx.TensorProto, model_path: Path) -> RawLocation:
    """Where an initializer saved with ONNX's external data (``location`` / ``offset`` / ``length`` keys;
    models over protobuf's 2 GB limit are saved so) keeps its values. The file must sit inside the model's
    folder, like a model.json's weights: a path leading elsewhere is refused."""
    info = {e.key: e.value for e in t.external_data}
    if "location" not in info:
        raise ExternalDataError(f"initializer {t.name!r} is external but names no location")
    if t.data_type not in _PLAIN:
        raise ExternalDataError(f"initializer {t.name!r}: external data of element type {t.data_type} is not read")
    folder = model_path.resolve().parent
    target = (folder / info["location"]).resolve()
    if not target.is_relative_to(folder):
        raise ExternalDataError(f"initializer {t.name!r}: external data {info['location']!r} leads outside the model's "
                        f"folder {folder}")
    if not target.is_file():
        raise ExternalDataError(f"initializer {t.name!r}: external data file {info['location']!r} is missing")
    try:
        offset = int(info.get("offset", 0))
        itemsize = np.dtype(_PLAIN[t.data_type]).itemsize
        length = int(info["length"]) if "length" in info else math.prod(t.dims) * itemsize
    except ValueError:
        raise ExternalDataError(f"initializer {t.name!r}: external data offset/length are not integers") from None
    if offset < 0 or length < 0 or offset + length > target.stat().st_size:
        raise ExternalDataError(f"initializer {t.name!r}: external data [{offset}, {offset + length}) lies outside "
                        f"{info['location']!r} ({target.stat().st_size} bytes)")
    return RawLocation(target, offset, length, _PLAIN[t.data_type])


def read_model(path: Path) -> tuple[onnx.ModelProto, dict[str, RawLocation]]:
    """The model without its large initializer payloads, and where each of those is in the file.
    Raises WireError (or onnx's DecodeError) for bytes that are not a protobuf message."""
    lazy: dict[str, RawLocation] = {}
    out = bytearray()
    size = path.stat().st_size
    with open(path, "rb", buffering=1 << 16) as f:
        for num, wire, tag_at, _ in _fields(f, size):
            if num == 7 and wire == 2:
                n = _varint(f)
                start = f.tell()
                if start + n > size:
                    raise WireError("the graph extends past the end of the file")
                body = _graph(f, start + n, path, lazy)
                out += _encode_varint((7 << 3) | 2) + _encode_varint(len(body)) + body
                continue
            out += _copy(f, tag_at, wire)
        if f.tell() != size:
            raise WireError("the last field overruns the file")
    model = onnx.ModelProto()
    model.ParseFromString(bytes(out))
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            lazy[t.name] = external_location(t, path)
    return model, lazy
