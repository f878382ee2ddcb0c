"""Read a FINN build's folding: the ``folding_config.json`` FINN's ``step_apply_folding_config`` takes.

FINN names its matrix-vector engines ``<Op>_<i>`` in graph order (``StreamingFCLayer_Batch_<i>`` before
FINN v0.8, ``MatrixVectorActivation_<i>`` after, ``MVAU_hls_<i>`` / ``MVAU_rtl_<i>`` since v0.10), one per
conv / linear layer, and gives each its ``PE`` and ``SIMD``. hwsim numbers the MAC layers of its graph in
the same order, so engine ``i`` folds hwsim's ``i``-th MAC layer. The other entries (sliding-window
generators, thresholds, pools, label select) are read past: hwsim sizes its stream engines for the MAC
engines' interval itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from hwsim.errors import DeviceProfileError

#: FINN's names of its matrix-vector unit across versions, with the engine's index
_MVAU = re.compile(r"^(?:StreamingFCLayer_Batch|MatrixVectorActivation|MVAU_hls|MVAU_rtl|MVAU)_(\d+)$")
WHERE = "fpga.model_params.folding_config"


def read_finn_folding(path: Path, mac_layers: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(PE, SIMD) of each MAC layer named in ``mac_layers`` (graph order) from FINN's folding JSON, which
    must fold every one of them (one engine per layer, as FINN builds)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise DeviceProfileError(f"cannot read the FINN folding config: {e.strerror}", source=str(path),
                                 where=WHERE) from None
    except json.JSONDecodeError as e:
        raise DeviceProfileError(f"not JSON: {e.msg} (line {e.lineno}, column {e.colno})", source=str(path),
                                 where=WHERE) from None
    if not isinstance(doc, Mapping):
        raise DeviceProfileError("a FINN folding config is a JSON object of node name -> attributes",
                                 source=str(path), where=WHERE)
    out: dict[str, tuple[int, int]] = {}
    for name, attrs in doc.items():
        m = _MVAU.match(name)
        if m is None:
            continue
        i = int(m.group(1))
        if i >= len(mac_layers):
            raise DeviceProfileError(f"{name}: the model has {len(mac_layers)} conv / linear layers, so FINN "
                                     f"engines 0..{len(mac_layers) - 1}; this folding is for another network",
                                     source=str(path), where=WHERE)
        out[mac_layers[i]] = (_lanes(attrs, "PE", name, path), _lanes(attrs, "SIMD", name, path))
    if not out:
        raise DeviceProfileError("no matrix-vector engine (StreamingFCLayer_Batch_<i>, MatrixVectorActivation_<i> "
                                 "or MVAU_hls_<i>) in the file", source=str(path), where=WHERE)
    if len(out) != len(mac_layers):
        # a method that adds or removes layers (low-rank splits, students) shifts FINN's engine numbering:
        # a partial file would fold the wrong layers without a word
        raise DeviceProfileError(f"the file folds {len(out)} matrix-vector engines, the model has {len(mac_layers)} "
                                 "conv / linear layers: this folding is for another network (or a method changed "
                                 "the model's layers)", source=str(path), where=WHERE)
    return out


def _lanes(attrs: object, key: str, name: str, path: Path) -> int:
    value = attrs.get(key, 1) if isinstance(attrs, Mapping) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DeviceProfileError(f"{name}.{key}: expected a whole number >= 1, got {value!r}", source=str(path),
                                 where=WHERE)
    return value
