"""Load -> validate -> build (after ZigZag): YAML text to a validated model to a frozen DeviceProfile.
A device file that validated before is read back from ``device_cache`` (its validated values, keyed by
the file's bytes and the validation rules), so such a call imports neither YAML nor pydantic.

Also the device catalogue (file stems of ``*.yaml`` in the device directories: ``$HWSIM_DEVICES_DIR``, the
user's own profiles, the profiles shipped inside the package) and ``--set`` overrides with dotted key
paths, the same mechanism sweeps use: ``apply_overrides(raw, {"memory.dram.bandwidth": "12.8 GB/s"})``.
"""

from __future__ import annotations

import copy
import os
from importlib import resources
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, get_args, get_origin

from hwsim.errors import DeviceProfileError, UnknownNameError, quoted_value_hint
from hwsim.fileio import read_text
from hwsim.hardware import device_cache
from hwsim.hardware import energy_tables as et
from hwsim.hardware.profile import (
    CpuSpec, DeviceProfile, EnergyTable, FpgaSpec, Fusion, GpuSpec, MemoryLevel, SparseTraits, SystolicSpec,
    kernel_efficiency, runtime_efficiency, thread_scaling_factor,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

    from hwsim.hardware.schema import _DeviceBase

# yaml, pydantic, the schema and the software models are imported where a file is parsed or validated: a
# device file found in ``device_cache`` needs none of them (they are about a third of a ``hwsim simulate``
# call's start-up).

ENV_DIR = "HWSIM_DEVICES_DIR"
_adapter: Any = None


def _device_adapter() -> Any:
    """The pydantic validator of the discriminated union of device kinds, built on first use."""
    global _adapter
    if _adapter is None:
        from pydantic import TypeAdapter

        from hwsim.hardware.schema import DeviceModel

        _adapter = TypeAdapter(DeviceModel)
    return _adapter


# --- the catalogue ------------------------------------------------------------------------------------
def user_devices_dir() -> Path:
    """The user's own profiles (where ``hwsim calibrate`` writes): ``$XDG_CONFIG_HOME/hwsim/devices``,
    by default ``~/.config/hwsim/devices``. It need not exist."""
    config = os.environ.get("XDG_CONFIG_HOME") or ""
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "hwsim" / "devices"


def packaged_devices_dir() -> Path:
    """The profiles shipped inside the package (``hwsim/hardware/devices/``), found through
    importlib.resources so a wheel install finds them as an editable one does."""
    return Path(str(resources.files("hwsim.hardware").joinpath("devices")))


def devices_dirs() -> list[Path]:
    """Where device files are looked up, first match wins: $HWSIM_DEVICES_DIR (os.pathsep-separated),
    the user's own profiles (``user_devices_dir()``), then the profiles shipped in the package."""
    dirs: list[Path] = []
    env = os.environ.get(ENV_DIR)
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(user_devices_dir())
    dirs.append(packaged_devices_dir())
    return [d for d in dirs if d.is_dir()]


def list_devices() -> list[str]:
    """Names of all known devices (file stems), sorted."""
    names: set[str] = set()
    for d in devices_dirs():
        names |= {p.stem for p in d.glob("*.yaml")}
    return sorted(names)


def device_path(name: str) -> Path:
    for d in devices_dirs():
        p = d / f"{name}.yaml"
        if p.is_file():
            return p
    known = ", ".join(list_devices()) or "(none found)"
    raise UnknownNameError(f"unknown device {name!r}; known: {known}")


def load_device(name_or_path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None) -> DeviceProfile:
    """A device by catalogue name (``cpu-a53``) or by path to a YAML file, with optional overrides."""
    text = str(name_or_path)
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or os.sep in text or path.is_file():
        if not path.is_file():
            raise DeviceProfileError("no such device file", source=text)
    else:
        path = device_path(text)
    file_text = read_text(path, DeviceProfileError, "device file")
    if overrides:
        return apply_overrides(_parse_raw(file_text, path), overrides, name=path.stem, source=str(path))
    hit = device_cache.lookup(file_text)
    if hit is not None:
        raw, values = hit
        return build(device_cache.Validated(values), name=path.stem, source=str(path), raw=raw)  # type: ignore[arg-type]
    raw = _parse_raw(file_text, path)
    model = validate(_with_software_model(raw, str(path)), str(path))
    profile = build(model, name=path.stem, source=str(path), raw=raw)
    device_cache.store(file_text, raw, model.model_dump())  # only what validated and built
    return profile


def read_raw(path: Path) -> dict[str, Any]:
    return _parse_raw(read_text(path, DeviceProfileError, "device file"), path)


def _parse_raw(text: str, path: Path) -> dict[str, Any]:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DeviceProfileError(f"not valid YAML: {e}", source=str(path)) from None
    except RecursionError:
        raise DeviceProfileError("YAML nested too deeply", source=str(path)) from None
    if not isinstance(doc, dict):
        raise DeviceProfileError("a device file must be a mapping (kind, clock, memory, ...)", source=str(path))
    return doc


def _with_software_model(doc: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A copy of ``doc`` (as written: file plus ``--set``) with its software-model class's keys filled in.

    The class is applied after the overrides, so ``--set software_model=NAME`` fills NAME's keys, not the
    ones of the class the file named. A document of unknown kind is left to the schema, which names that first."""
    from hwsim.hardware.schema import KIND_MODEL
    from hwsim.hardware.software_model import apply_software_model

    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in KIND_MODEL:
        return copy.deepcopy(dict(doc))
    return copy.deepcopy(apply_software_model(dict(doc), source))


# --- overrides ----------------------------------------------------------------------------------------
def parse_set_option(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` strings (``--set``) to a dict; a malformed item raises naming it."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DeviceProfileError(f"expected KEY=VALUE, got {item!r}", source="--set")
        out[key.strip()] = value.strip()
    return out


def _scalar(value: Any) -> Any:
    """A command-line value as YAML would read it: '4' -> 4, 'true' -> True, '25.6 GB/s' stays text."""
    if not isinstance(value, str):
        return value
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (int, float, bool, str, list)) else value


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any], *, name: str = "device",
                    source: str | None = None) -> DeviceProfile:
    """Validate ``raw`` with each dotted ``key=value`` set, and build the profile.

    Unknown keys raise naming the valid keys at that place; values are validated like the file's.
    """
    doc = copy.deepcopy(dict(raw))
    for key, value in overrides.items():
        _set_path(doc, key, _scalar(value))
    label = source or name
    if overrides:
        label += " (with --set " + ", ".join(f"{k}={v}" for k, v in overrides.items()) + ")"
    model = validate(_with_software_model(doc, label), label)
    return build(model, name=name, source=source or "", raw=doc,
                 overrides=tuple((k, str(v)) for k, v in overrides.items()))


def _set_path(doc: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if not all(parts):
        raise DeviceProfileError(f"bad key path {key!r}", source="--set")
    from hwsim.hardware.schema import KIND_MODEL

    kind = doc.get("kind")
    model_cls: Any = KIND_MODEL.get(kind) if isinstance(kind, str) else None
    node: Any = doc
    for i, part in enumerate(parts):
        here = ".".join(parts[:i]) or "(top level)"
        valid = _valid_keys(model_cls, node)
        if valid is not None and part not in valid:
            raise DeviceProfileError(f"unknown key {part!r} at {here}; valid keys there: {', '.join(sorted(valid))}",
                                     source="--set", where=key)
        model_cls = _child_type(model_cls, part)
        if i == len(parts) - 1:
            if not isinstance(node, dict):
                raise DeviceProfileError(f"{here} is not a mapping", source="--set", where=key)
            node[part] = value
            return
        nxt = node.get(part) if isinstance(node, dict) else None
        if nxt is None:
            nxt = {}
            node[part] = nxt
        if not isinstance(nxt, dict):
            raise DeviceProfileError(f"{'.'.join(parts[:i + 1])} is a value, not a section", source="--set", where=key)
        node = nxt


def _valid_keys(model_cls: Any, node: Any) -> set[str] | None:
    """Keys allowed at this place: a model's fields, or a mapping's existing keys (memory levels)."""
    from pydantic import BaseModel

    if isinstance(model_cls, type) and issubclass(model_cls, BaseModel):
        return set(model_cls.model_fields)
    if _is_dict_type(model_cls):
        _, value_t = get_args(model_cls)
        if isinstance(value_t, type) and issubclass(value_t, BaseModel):
            return set(node) if isinstance(node, dict) else set()  # named sections: only existing ones
        return None  # open tables (rates by dtype) are checked by the model itself
    return None


def _is_dict_type(t: Any) -> bool:
    return get_origin(t) is dict


def _child_type(model_cls: Any, part: str) -> Any:
    from pydantic import BaseModel

    if isinstance(model_cls, type) and issubclass(model_cls, BaseModel):
        field = model_cls.model_fields.get(part)
        if field is None:
            return None
        t = field.annotation
        args = get_args(t)
        if get_origin(t) is not dict and args:  # Optional[...] / Annotated[...]
            for a in args:
                if (isinstance(a, type) and issubclass(a, BaseModel)) or _is_dict_type(a):
                    return a
        return t
    if _is_dict_type(model_cls):
        return get_args(model_cls)[1]
    return None


# --- validate -----------------------------------------------------------------------------------------
def validate(doc: Mapping[str, Any], source: str) -> _DeviceBase:
    from pydantic import ValidationError

    from hwsim.hardware.schema import KIND_MODEL

    if "kind" not in doc:
        raise DeviceProfileError("missing 'kind' (one of: cpu, gpu, fpga, systolic)", source=source, where="kind")
    if not isinstance(doc["kind"], str) or doc["kind"] not in KIND_MODEL:
        raise DeviceProfileError(f"unknown kind {doc['kind']!r}; known: {', '.join(KIND_MODEL)}",
                                 source=source, where="kind")
    try:
        return _device_adapter().validate_python(doc)
    except RecursionError:
        raise DeviceProfileError("device document nested too deeply", source=source) from None
    except ValidationError as e:
        raise DeviceProfileError(_format_errors(e, doc), source=source) from None


def _format_errors(e: ValidationError, doc: Mapping[str, Any]) -> str:
    from hwsim.hardware.schema import KIND_MODEL

    msgs = []
    for err in e.errors():
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] == doc.get("kind"):  # the discriminator tag pydantic prepends
            loc = loc[1:]
        where = ".".join(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parent = _model_at(KIND_MODEL[doc["kind"]], loc[:-1])
            valid = sorted(parent.model_fields) if parent is not None else []
            msg = "unknown key" + (f"; valid keys there: {', '.join(valid)}" if valid else "")
        elif err["type"] == "missing":
            msg = "required key missing"
        msgs.append(f"{where}: {msg}{quoted_value_hint(err)}")
    return "; ".join(msgs)


def _model_at(model_cls: Any, loc: list[str]) -> Any:
    """The pydantic model class at ``loc`` below ``model_cls``, or None."""
    from pydantic import BaseModel

    t: Any = model_cls
    for part in loc:
        t = _child_type(t, part)
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


# --- build --------------------------------------------------------------------------------------------
def _cpu_efficiency(c: Any, source: str) -> dict[str, float]:
    """The CPU's kernel efficiencies under its runtime (``cpu.runtime``: every kernel class's base
    efficiency times the runtime's factor; none named: the profile's own table) and on its core count
    (``thread_scaling_factor`` from ``efficiency_threads``, capped at the peak: one thread cannot
    exceed what its core issues)."""
    out = dict(c.efficiency)
    measured = c.efficiency_threads or c.cores
    if c.runtime is None and measured == c.cores:
        return out
    from hwsim.hardware.schema import EFFICIENCY_KEYS  # a plain tuple; the schema is imported only here

    if c.runtime is not None:
        try:
            out = runtime_efficiency(c.efficiency, c.runtimes[c.runtime], EFFICIENCY_KEYS)
        except ValueError as e:
            raise DeviceProfileError(str(e), source=source or None, where=f"cpu.runtimes.{c.runtime}") from None
    if measured != c.cores:
        f = thread_scaling_factor(c.cores, measured, c.thread_scaling)
        out = {k: min(1.0, kernel_efficiency(out, k) * f) for k in EFFICIENCY_KEYS}
    return out


def _gpu_runtime(g: Any, source: str) -> tuple[dict[str, float], float]:
    """The GPU's kernel efficiencies and per-kernel time floor under its runtime (``gpu.runtime``: every
    kernel class's base efficiency times the runtime's factor, the runtime's floor where it names one;
    none named: the profile's own)."""
    if g.runtime is None:
        return dict(g.efficiency), g.min_kernel_time
    from hwsim.hardware.schema import EFFICIENCY_KEYS  # a plain tuple; the schema is imported only here

    rt = g.runtimes[g.runtime]
    try:
        eff = runtime_efficiency(g.efficiency, rt.efficiency, EFFICIENCY_KEYS)
    except ValueError as e:
        raise DeviceProfileError(str(e), source=source or None, where=f"gpu.runtimes.{g.runtime}") from None
    return eff, g.min_kernel_time if rt.min_kernel_time is None else rt.min_kernel_time


def build(model: _DeviceBase, *, name: str, source: str = "", raw: Mapping[str, Any] | None = None,
          overrides: tuple[tuple[str, str], ...] = ()) -> DeviceProfile:
    """Typed, frozen profile from validated data (defaults filled from the energy tables)."""
    clock = model.clock
    node = model.process_node
    scale = et.node_scale(node) if model.energy.scale_with_node else 1.0
    memory = []
    for lname, lv in model.memory.items():
        lat_value, lat_unit = lv.latency
        epb = lv.energy_per_byte
        if epb is None:
            epb = et.default_level_pj_per_byte(lv.size, lv.on_chip, node if model.energy.scale_with_node else 45.0,
                                               lv.type)
        memory.append(MemoryLevel(
            name=lname, size_bytes=lv.size, bandwidth_bytes_per_s=lv.bandwidth * lv.sustained_fraction,
            latency_s=lat_value / clock if lat_unit == "cycles" else lat_value,
            energy_pj_per_byte=epb, on_chip=lv.on_chip, usable_fraction=lv.usable_fraction,
            instances=lv.instances,
        ))
    mac = {k: v * scale for k, v in et.MAC_PJ_45NM.items()} | dict(model.energy.mac)
    ops = {k: v * scale for k, v in et.OP_PJ_45NM.items()} | dict(model.energy.op)
    energy = EnergyTable(mac_pj=MappingProxyType(mac), op_pj=MappingProxyType(ops), process_scale=scale,
                         instruction_pj=model.energy.instruction)
    sp = model.sparse
    sparse = SparseTraits(sp.index_decode_cycles, sp.gather_efficiency, sp.codebook_lookup_cycles,
                          sp.huffman_decode_cycles_per_symbol, sp.huffman_decode, sp.dense_fallback)
    kw: dict[str, Any] = {}
    kind = model.kind  # type: ignore[attr-defined]
    if kind == "cpu":
        c = model.cpu  # type: ignore[attr-defined]
        kw["cpu"] = CpuSpec(
            cores=c.cores, simd_width_bits=c.simd_width_bits,
            macs_per_cycle_per_core=MappingProxyType(dict(c.macs_per_cycle_per_core)),
            vector_ops_per_cycle_per_core=MappingProxyType(dict(c.vector_ops_per_cycle_per_core)),
            popcount_word_bits=c.popcount.word_bits, popcount_cycles_per_word=c.popcount.cycles_per_word,
            register_file_bytes=c.register_file, op_overhead_s=c.op_overhead,
            efficiency=MappingProxyType(_cpu_efficiency(c, source)), fusion=Fusion(c.fusion.batchnorm, c.fusion.activation),
            runtime=c.runtime,
        )
    elif kind == "gpu":
        g = model.gpu  # type: ignore[attr-defined]
        efficiency, min_kernel_time = _gpu_runtime(g, source)
        kw["gpu"] = GpuSpec(
            sms=g.sms, cuda_cores=g.cuda_cores, tensor_cores=g.tensor_cores,
            cuda_core_macs_per_cycle=MappingProxyType(dict(g.cuda_core_macs_per_cycle)),
            tensor_core_macs_per_cycle=MappingProxyType(dict(g.tensor_core_macs_per_cycle)),
            vector_ops_per_cycle_per_sm=MappingProxyType(dict(g.vector_ops_per_cycle_per_sm)),
            popcount_per_cycle_per_sm=g.popcount_per_cycle_per_sm,
            register_file_bytes_per_sm=g.register_file_per_sm, launch_overhead_s=g.launch_overhead,
            cta_tile=g.cta_tile, efficiency=MappingProxyType(efficiency),
            fusion=Fusion(g.fusion.batchnorm, g.fusion.activation),
            structured_sparsity=tuple(g.structured_sparsity), min_kernel_time_s=min_kernel_time,
        )
    elif kind == "fpga":
        f = model.fpga  # type: ignore[attr-defined]
        kw["fpga"] = FpgaSpec(lut=f.lut, ff=f.ff, dsp=f.dsp, bram36=f.bram36, uram=f.uram,
                              dsp_mult_bits=tuple(f.dsp_mult_bits),  # type: ignore[arg-type]
                              model_params=MappingProxyType(dict(f.model_params)),
                              family=f.family, speed_grade=f.speed_grade)
    else:
        a = model.array  # type: ignore[attr-defined]
        kw["systolic"] = SystolicSpec(
            rows=a.rows, cols=a.cols, dataflow=a.dataflow, ifmap_sram_bytes=a.ifmap_sram,
            filter_sram_bytes=a.filter_sram, ofmap_sram_bytes=a.ofmap_sram, param_cache_bytes=float(a.param_cache),
            busy_power_w=a.busy_power,
            macs_per_cycle_per_pe=MappingProxyType(dict(a.macs_per_cycle_per_pe)),
            model_params=MappingProxyType(dict(a.model_params)),
        )
    return DeviceProfile(
        name=name, kind=kind, description=model.description, clock_hz=clock, process_nm=node,
        static_power_w=model.static_power, memory=tuple(memory), energy=energy, sparse=sparse,
        source=source, power_scope=model.power_scope, board_idle_power_w=model.board_idle_power,
        host_power_w=model.host_power, soc_active_power_w=model.soc_active_power,
        raw=MappingProxyType(copy.deepcopy(dict(raw or {}))), overrides=overrides, **kw,
    )
