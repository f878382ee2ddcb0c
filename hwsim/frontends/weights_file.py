"""Trained weights from a file, by tensor name: an ``.npz`` (one array per weight tensor) or a PyTorch
``state_dict`` saved with ``torch.save`` (``.pt`` / ``.pth``; needs the optional ``torch`` extra, and
torch is imported only here, only when such a file is given).

Names are hwsim's weight tensor names (``<node>.weight``, ``<node>.bias``; batchnorm ``gamma``,
``beta``, ``mean``, ``var``). PyTorch's batchnorm names (``weight``, ``bias``, ``running_mean``,
``running_var``) are mapped onto them; ``num_batches_tracked`` is ignored. Every weight of the model
must be in the file with its shape; a missing, misshapen or non-finite tensor is an error naming the
file and the tensor. Keys of the file the model does not use are listed in a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hwsim.errors import ModelFormatError
from hwsim.ir.graph import OpGraph

TORCH_BN = {"weight": "gamma", "bias": "beta", "running_mean": "mean", "running_var": "var"}


def read_weight_file(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ModelFormatError("weights file does not exist", source=source)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: np.asarray(f[k]) for k in f.files}
        except (OSError, ValueError, EOFError) as e:
            raise ModelFormatError(f"cannot read the weights file: {e}", source=source) from None
    if path.suffix in (".pt", ".pth"):
        return _read_state_dict(path)
    raise ModelFormatError("weights must be an .npz (arrays by tensor name) or a PyTorch state_dict (.pt / .pth)",
                           source=source)


def _read_state_dict(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise ModelFormatError("reading a PyTorch state_dict needs torch (pip install 'hwsim[torch]')",
                               source=str(path)) from None
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise ModelFormatError(f"cannot read the PyTorch file: {e}", source=str(path)) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelFormatError(f"expected a state_dict (a mapping of tensor names to tensors), got "
                               f"{type(obj).__name__}", source=str(path))
    return {str(k): v.detach().cpu().numpy() for k, v in obj.items()
            if hasattr(v, "detach") and not str(k).endswith("num_batches_tracked")}


def _hwsim_name(key: str, names: set[str]) -> str | None:
    if key in names:
        return key
    prefix, _, slot = key.rpartition(".")
    mapped = f"{prefix}.{TORCH_BN.get(slot, slot)}"
    return mapped if mapped in names else None


def attach_weights(graph: OpGraph, path: str | Path) -> tuple[OpGraph, tuple[str, ...]]:
    """``graph`` with every weight taken from the file; (graph, notes)."""
    source = str(path)
    arrays = read_weight_file(path)
    names = set(graph.weight_names())
    found: dict[str, np.ndarray] = {}
    unused = []
    for key, value in arrays.items():
        name = _hwsim_name(key, names)
        if name is None:
            unused.append(key)
        else:
            found[name] = value
    missing = sorted(names - set(found))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:6]) + (f" (+{len(missing) - 6} more)" if len(missing) > 6 else "")
        raise ModelFormatError(f"{len(missing)} weight tensor(s) of the model are not in the file: {shown}",
                               source=source)
    out = {}
    for name, value in found.items():
        want = tuple(graph.tensor(name).shape)
        if tuple(value.shape) != want:
            raise ModelFormatError(f"tensor {name!r} has shape {list(value.shape)}, the model needs {list(want)}",
                                   source=source)
        if not np.issubdtype(value.dtype, np.number) or not np.all(np.isfinite(value)):
            raise ModelFormatError(f"tensor {name!r} is not finite numbers", source=source)
        out[name] = value.astype(np.float32)
    notes = (f"{len(unused)} key(s) of {Path(path).name} not used by the model: {', '.join(unused[:5])}",) if unused else ()
    return graph.with_weights(out), notes
