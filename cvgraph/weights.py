"""Weights in safetensors: atomic saves, strict loads, fingerprints and key maps.

A file written by :func:`save_weights` carries, in its metadata, the
fingerprint of the spec the model was built from; :func:`load_weights`
rejects a file made for another spec unless ``check_fingerprint=False``. Tensors that
share storage (tied weights) are written once and restored as aliases.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .errors import Location, WeightsError

__all__ = ["save_weights", "load_weights", "read_tensors", "LoadReport", "atomic_write"]

logger = logging.getLogger(__name__)

FINGERPRINT_KEY = "cvgraph.fingerprint"
SPEC_KEY = "cvgraph.spec"
ALIASES_KEY = "cvgraph.aliases"


@dataclass
class LoadReport:
    """The outcome of :func:`load_weights`: keys loaded and keys that did not fit."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    """``key: file shape/dtype vs model shape/dtype`` for tensors that do not fit."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 10) -> str:
        parts = []
        for title, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("mis-shaped", self.mismatched)):
            if keys:
                shown = ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
                parts.append(f"{len(keys)} {title}: {shown}")
        return "; ".join(parts) or "all keys match"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through a temporary file in the same folder, then rename it into place.

    A crash or kill during ``write`` leaves any previous file at ``path`` intact.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps the real suffix, since some writers check it (torch.export.save).
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=folder)
    os.close(handle)
    try:
        write(Path(temporary))
        # mkstemp creates the file readable by its owner alone; give it the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def _split_shared(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Keep one tensor per shared storage view; map the other names to it."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, tensor in state.items():
        if tensor.device.type == "meta":
            raise WeightsError(f"tensor '{name}' is on the meta device and has no data to save")
        key = (
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
            tensor.dtype,
        )
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = tensor.detach().to("cpu").contiguous().clone()
    return tensors, aliases


def save_weights(model: nn.Module | Mapping[str, torch.Tensor], path: str | Path, *, metadata: Mapping[str, str] | None = None) -> Path:
    """Save a model's state_dict as safetensors, atomically.

    The spec's fingerprint (for models built by cvgraph) goes into the
    metadata. Channels-last tensors are saved in standard layout and come back
    in the layout of the model they are loaded into.

    Returns:
        The path written.
    """
    path = Path(path)
    state = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    tensors, aliases = _split_shared(state)

    meta = {"format": "pt", **dict(metadata or {})}
    info = getattr(model, "cvgraph", None)
    if info is not None:
        meta[FINGERPRINT_KEY] = info.fingerprint
        meta[SPEC_KEY] = info.name
    if aliases:
        meta[ALIASES_KEY] = json.dumps(aliases, sort_keys=True)

    try:
        atomic_write(path, lambda temporary: save_file(tensors, str(temporary), metadata=meta))
    except OSError as error:
        raise WeightsError(f"cannot write the weights file: {error.strerror or error}", location=Location(str(path))) from None
    logger.info("saved %d tensors to %s", len(tensors), path)
    return path


def read_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read every tensor and the metadata of a safetensors file.

    Raises:
        WeightsError: naming the file (and the tensor) when the file is missing,
            truncated or corrupt.
    """
    path = Path(path)
    where = Location(str(path))
    if not path.is_file():
        raise WeightsError("weights file not found", location=where, hint="check the path")
    tensors: dict[str, torch.Tensor] = {}
    current = None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as reader:
            metadata = dict(reader.metadata() or {})
            for current in reader.keys():
                tensors[current] = reader.get_tensor(current)
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        what = f" at tensor '{current}'" if current else _diagnose_header(path)
        raise WeightsError(
            f"cannot read the weights file{what}: {error}",
            location=where,
            hint="the file is truncated or not a safetensors file; save it again",
        ) from None
    try:
        aliases = json.loads(metadata.get(ALIASES_KEY, "{}") or "{}")
    except ValueError:
        aliases = None
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise WeightsError(
            f"invalid '{ALIASES_KEY}' metadata",
            location=where,
            expected="a JSON object of tensor name to tensor name",
            found=metadata.get(ALIASES_KEY, "")[:60],
        )
    for alias, target in aliases.items():
        if target not in tensors:
            raise WeightsError(f"alias '{alias}' points to a missing tensor '{target}'", location=where)
        tensors[alias] = tensors[target]
    return tensors, metadata


_HEADER_LIMIT = 100 * 2**20
"""The largest header safetensors itself reads (100 MB)."""


def _diagnose_header(path: Path) -> str:
    """Find the first tensor that a broken safetensors file cannot contain, from its header.

    Returns:
        Text such as `` at tensor 'fc.weight' (bytes 0 to 4000 of its data, but
        the file holds 1200)``, or an empty string when the header itself is
        unreadable.
    """
    try:
        with path.open("rb") as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                return " (the file is shorter than the 8-byte header length)"
            length = int.from_bytes(prefix, "little")
            if length > _HEADER_LIMIT:
                return f" (the header claims {length:,} bytes, more than the {_HEADER_LIMIT:,} allowed)"
            header = json.loads(stream.read(length))
        data_bytes = path.stat().st_size - 8 - length
    except (OSError, ValueError):
        return " (the header is not valid JSON)"
    if not isinstance(header, dict):
        return " (the header is not a JSON object)"
    for name, entry in header.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if name == "__metadata__" or not isinstance(offsets, list) or len(offsets) != 2:
            continue
        if not all(isinstance(o, int) for o in offsets) or offsets[1] > data_bytes:
            return f" at tensor '{name}' (bytes {offsets[0]} to {offsets[1]} of its data, but the file holds {data_bytes})"
    return ""


def _compare(
    tensors: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> LoadReport:
    report = LoadReport()
    for name, tensor in tensors.items():
        target = expected.get(name)
        if target is None:
            report.unexpected.append(name)
            continue
        same_kind = tensor.dtype == target.dtype or (tensor.is_floating_point() and target.is_floating_point())
        if tuple(tensor.shape) != tuple(target.shape) or not same_kind:
            report.mismatched.append(
                f"{name}: file {tuple(tensor.shape)} {tensor.dtype} vs model {tuple(target.shape)} {target.dtype}"
            )
            continue
        report.loaded.append(name)
    report.missing = [name for name in expected if name not in tensors]
    return report


def load_weights(
    model: nn.Module,
    path: str | Path,
    *,
    strict: bool = True,
    check_fingerprint: bool = True,
    key_map: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> LoadReport:
    """Load a safetensors file (or a ``.pt`` state_dict) into a model.

    Args:
        model: the model to fill.
        path: a ``.safetensors`` file; ``.pt``/``.pth`` files are read with
            ``torch.load(weights_only=True)``, which unpickles no code.
        strict: raise unless every key matches by name, shape and dtype kind.
        check_fingerprint: raise when the file was saved from another spec.
        key_map: renames file keys to model keys (a dict, or a function that
            returns None to drop a key), for checkpoints of other projects.

    Returns:
        A :class:`LoadReport` of loaded, missing, unexpected and mis-shaped keys.

    Raises:
        WeightsError: naming the file and the keys that do not fit.
    """
    path = Path(path)
    where = Location(str(path))
    if path.suffix in (".pt", ".pth"):
        tensors, metadata = _read_torch(path), {}
    else:
        tensors, metadata = read_tensors(path)

    if key_map is not None:
        rename = key_map if callable(key_map) else key_map.get
        renamed: dict[str, torch.Tensor] = {}
        for name, tensor in tensors.items():
            target = rename(name)
            if target is not None:
                renamed[target] = tensor
        tensors = renamed

    # Check names and shapes first, because a mismatch there explains a wrong file better than a fingerprint.
    report = _compare(tensors, model.state_dict())
    if report.mismatched or (strict and not report.ok):
        raise WeightsError(
            f"the weights do not fit the model: {report.describe()}",
            location=where,
            hint="load the file into the model it was saved from, or pass strict=False to skip missing and unexpected keys",
        )

    info = getattr(model, "cvgraph", None)
    saved = metadata.get(FINGERPRINT_KEY)
    if check_fingerprint and info is not None and saved is not None and saved != info.fingerprint:
        saved_name = metadata.get(SPEC_KEY, "?")
        if saved_name == info.name:
            what = f"a different version of spec '{info.name}' (its expanded graph differs from the model's)"
        else:
            what = f"spec '{saved_name}', which differs from the model's spec '{info.name}'"
        raise WeightsError(
            f"the weights were saved from {what}",
            location=where,
            expected=f"fingerprint {info.fingerprint[:16]}...",
            found=f"fingerprint {saved[:16]}...",
            hint=(
                "build the model from the spec the weights were saved with; if the graphs are known to agree, "
                "pass check_fingerprint=False (on the CLI: --ignore-fingerprint)"
            ),
        )

    model.load_state_dict({k: tensors[k] for k in report.loaded}, strict=False)
    logger.info("loaded %d tensors from %s", len(report.loaded), path)
    return report


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch.load raises many types for bad files
        raise WeightsError(
            f"cannot read the checkpoint: {type(error).__name__}: {str(error).splitlines()[0][:200]}",
            location=Location(str(path)),
            hint="only plain state_dicts of tensors are read (torch.load with weights_only=True)",
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsError(
            "the checkpoint is not a state_dict of tensors",
            location=Location(str(path)),
            found=type(state).__name__,
        )
    return dict(state)
