"""Import the published MTCNN weights from the facenet-pytorch wheel into cvgraph's specs.

The facenet-pytorch 2.6.0 wheel ships the trained P-Net, R-Net and O-Net as
``facenet_pytorch/data/{pnet,rnet,onet}.pt`` state_dicts. The import fetches
the wheel alone with ``pip download --no-deps`` (its declared dependencies pin
an old torch, so they are never installed), reads the three files from the zip
with ``torch.load(weights_only=True)``, renames their keys through
:data:`MTCNN_KEY_MAP` and writes one safetensors file per network with
:func:`cvgraph.save_weights`.

Cache layout, under :func:`default_cache_dir` or the folder given::

    mtcnn/facenet_pytorch-2.6.0-py3-none-any.whl
    mtcnn/pnet.safetensors
    mtcnn/rnet.safetensors
    mtcnn/onet.safetensors
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from ..errors import Location, WeightsError
from ..weights import save_weights

__all__ = [
    "FACENET_VERSION",
    "FACENET_WHEEL",
    "FACENET_WHEEL_SHA256",
    "MTCNN_KEY_MAP",
    "NETWORKS",
    "ImportResult",
    "default_cache_dir",
    "mtcnn_dir",
    "download_wheel",
    "read_facenet_state",
    "convert_state",
    "build_network",
    "import_mtcnn",
    "weights_paths",
]

logger = logging.getLogger(__name__)

FACENET_VERSION = "2.6.0"
FACENET_WHEEL = f"facenet_pytorch-{FACENET_VERSION}-py3-none-any.whl"
FACENET_WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"
"""SHA-256 of the wheel on PyPI. A wheel with another digest is rejected."""

NETWORKS = ("pnet", "rnet", "onet")
SPEC_NAMES = {"pnet": "mtcnn_pnet", "rnet": "mtcnn_rnet", "onet": "mtcnn_onet"}

MTCNN_KEY_MAP: dict[str, dict[str, str]] = {
    "pnet": {
        "conv1": "conv1",
        "prelu1": "prelu1",
        "conv2": "conv2",
        "prelu2": "prelu2",
        "conv3": "conv3",
        "prelu3": "prelu3",
        "conv4_1": "cls_logits",
        "conv4_2": "bbox_reg",
    },
    "rnet": {
        "conv1": "conv1",
        "prelu1": "prelu1",
        "conv2": "conv2",
        "prelu2": "prelu2",
        "conv3": "conv3",
        "prelu3": "prelu3",
        "dense4": "fc",
        "prelu4": "prelu4",
        "dense5_1": "cls_logits",
        "dense5_2": "bbox_reg",
    },
    "onet": {
        "conv1": "conv1",
        "prelu1": "prelu1",
        "conv2": "conv2",
        "prelu2": "prelu2",
        "conv3": "conv3",
        "prelu3": "prelu3",
        "conv4": "conv4",
        "prelu4": "prelu4",
        "dense5": "fc",
        "prelu5": "prelu5",
        "dense6_1": "cls_logits",
        "dense6_2": "bbox_reg",
        "dense6_3": "landmarks",
    },
}
"""facenet-pytorch module name -> spec node name, per network; parameter names are kept."""

WHC_FLATTENED: dict[str, str] = {"rnet": "fc.weight", "onet": "fc.weight"}
"""Linear weights whose input columns facenet-pytorch orders as (W, H, C).

Its R-Net and O-Net permute the last feature map to (N, W, H, C) before
flattening. The specs flatten in PyTorch's (C, H, W) order, so the import
reorders these columns once instead of permuting every forward pass.
"""


def default_cache_dir() -> Path:
    """Return ``$CVGRAPH_CACHE``, or ``~/.cache/cvgraph/weights`` when it is unset or empty."""
    configured = os.environ.get("CVGRAPH_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "cvgraph" / "weights"


def mtcnn_dir(cache: str | Path | None = None) -> Path:
    """Return the folder that contains the MTCNN weights inside a cache folder."""
    return (Path(cache).expanduser() if cache is not None else default_cache_dir()) / "mtcnn"


def weights_paths(cache: str | Path | None = None) -> dict[str, Path]:
    """Return the safetensors path of each network (``pnet``, ``rnet``, ``onet``)."""
    folder = mtcnn_dir(cache)
    return {name: folder / f"{name}.safetensors" for name in NETWORKS}


@dataclass(frozen=True)
class ImportResult:
    """Files of one :func:`import_mtcnn` run: the wheel it read and one safetensors file per network."""

    wheel: Path
    weights: dict[str, Path]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_wheel(path: Path) -> None:
    found = _sha256(path)
    if found != FACENET_WHEEL_SHA256:
        raise WeightsError(
            "the facenet-pytorch wheel has an unexpected SHA-256 digest",
            location=Location(str(path)),
            expected=FACENET_WHEEL_SHA256,
            found=found,
            hint=f"delete the file and download facenet-pytorch=={FACENET_VERSION} again",
        )


def download_wheel(folder: Path, *, timeout_s: float = 600.0) -> Path:
    """Download the facenet-pytorch wheel, without its dependencies, into ``folder``.

    Runs ``python -m pip download --no-deps`` with the current interpreter.
    A wheel already in ``folder`` with the right digest is reused.

    Raises:
        WeightsError: when pip fails (no network, no such version) or the
            wheel's digest is not the published one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / FACENET_WHEEL
    if wheel.is_file() and _sha256(wheel) == FACENET_WHEEL_SHA256:
        logger.info("reusing %s", wheel)
        return wheel

    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
        "-d", str(folder), f"facenet-pytorch=={FACENET_VERSION}",
    ]
    logger.info("downloading facenet-pytorch %s: %s", FACENET_VERSION, " ".join(command))
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise WeightsError(
            f"pip download of facenet-pytorch=={FACENET_VERSION} timed out after {timeout_s:.0f} s",
            hint="check the connection to the package index, or pass --wheel with a downloaded wheel",
        ) from None
    if completed.returncode != 0 or not wheel.is_file():
        lines = (completed.stderr or completed.stdout or "").strip().splitlines()
        raise WeightsError(
            f"pip download of facenet-pytorch=={FACENET_VERSION} failed (exit status {completed.returncode})",
            found=lines[-1] if lines else "no output",
            hint="check the connection to the package index, or pass --wheel with a downloaded wheel",
        )
    _check_wheel(wheel)
    return wheel


def read_facenet_state(wheel: Path, network: str) -> dict[str, torch.Tensor]:
    """Read ``facenet_pytorch/data/<network>.pt`` from the wheel as a state_dict.

    Raises:
        WeightsError: when the wheel is not a zip, lacks the file, or the file
            is not a state_dict of tensors.
    """
    member = f"facenet_pytorch/data/{network}.pt"
    where = Location(f"{wheel}!{member}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except KeyError:
        raise WeightsError(f"the wheel has no '{member}'", location=Location(str(wheel)),
                           hint=f"use the facenet-pytorch {FACENET_VERSION} wheel") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise WeightsError(f"cannot read the wheel: {error}", location=Location(str(wheel)),
                           hint="delete the file and download it again") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch.load raises many types for bad files
        raise WeightsError(f"cannot read the checkpoint: {type(error).__name__}: {error}", location=where) from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("the checkpoint is not a state_dict of tensors", location=where, found=type(state).__name__)
    return dict(state)


def convert_state(network: str, state: Mapping[str, torch.Tensor], flatten_input: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """Rename a facenet-pytorch state_dict to the spec's keys and reorder flattened columns.

    Args:
        network: ``pnet``, ``rnet`` or ``onet``.
        state: facenet-pytorch's state_dict of that network.
        flatten_input: (C, H, W) of the feature map that the spec flattens
            (ignored for P-Net, which has no flatten).

    Returns:
        The state_dict under the spec's keys.

    Raises:
        WeightsError: for a key that the key map does not name, or a linear
            weight whose width is not C*H*W.
    """
    modules = MTCNN_KEY_MAP[network]
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        module, _, parameter = key.rpartition(".")
        if module not in modules:
            raise WeightsError(
                f"the {network} checkpoint has a key that the MTCNN key map does not name: '{key}'",
                expected=f"modules {', '.join(modules)}",
                found=key,
                hint="the checkpoint is not facenet-pytorch's MTCNN",
            )
        converted[f"{modules[module]}.{parameter}"] = tensor

    target = WHC_FLATTENED.get(network)
    if target is not None and target in converted:
        converted[target] = _whc_to_chw(converted[target], flatten_input, network)
    return converted


def _whc_to_chw(weight: torch.Tensor, chw: tuple[int, int, int], network: str) -> torch.Tensor:
    channels, height, width = chw
    if weight.ndim != 2 or weight.shape[1] != channels * height * width:
        raise WeightsError(
            f"the {network} fc weight does not follow a {channels}x{height}x{width} feature map",
            expected=f"(out_features, {channels * height * width})",
            found=tuple(weight.shape),
        )
    out_features = weight.shape[0]
    return weight.reshape(out_features, width, height, channels).permute(0, 3, 2, 1).reshape(out_features, -1).contiguous()


def build_network(network: str, *, channels_last: bool = False) -> torch.nn.Module:
    """Build the spec model of one network (random weights), in eval mode.

    ``channels_last`` stores weights and activations in NHWC order, which
    runs these small-channel convolutions and max-pools about twice as fast
    on CPU (measured with torch 2.14, one thread).
    """
    from ..api import build

    return build(SPEC_NAMES[network], channels_last=channels_last).eval()


def flatten_input_shape(network: str) -> tuple[int, int, int]:
    """Return (C, H, W) of the feature map that the network's spec flattens, from shape inference."""
    from ..api import infer_shapes
    from ..pipeline import load_spec

    spec = load_spec(SPEC_NAMES[network])
    if "flatten" not in spec.node_index:
        return (0, 0, 0)
    report = infer_shapes(spec)
    shape = report.shape_of(spec.node_index["flatten"].inputs[0])
    return (shape.channels, shape.height, shape.width)  # type: ignore[union-attr, return-value]


def load_into(model: torch.nn.Module, state: Mapping[str, torch.Tensor], network: str) -> None:
    """Load a converted state_dict into a spec model, strictly.

    Raises:
        WeightsError: naming the missing, unexpected and mis-shaped keys.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{key}: checkpoint {tuple(state[key].shape)} vs spec {tuple(expected[key].shape)}"
        for key in sorted(set(state) & set(expected))
        if state[key].shape != expected[key].shape
    ]
    if missing or unexpected or mismatched:
        raise WeightsError(
            f"the converted {network} weights do not fit spec '{SPEC_NAMES[network]}'",
            expected=f"keys {', '.join(sorted(expected))}",
            found="; ".join(part for part in (
                f"missing {missing}" if missing else "",
                f"unexpected {unexpected}" if unexpected else "",
                f"mis-shaped {mismatched}" if mismatched else "",
            ) if part),
            hint="update MTCNN_KEY_MAP in cvgraph/detection/mtcnn_weights.py to the spec's node names",
        )
    model.load_state_dict(dict(state), strict=True)


def import_mtcnn(cache: str | Path | None = None, *, wheel: str | Path | None = None) -> ImportResult:
    """Fetch the facenet-pytorch wheel and write the three MTCNN networks as safetensors.

    Args:
        cache: the cache folder (default: :func:`default_cache_dir`); files go
            to its ``mtcnn/`` sub-folder.
        wheel: a facenet-pytorch 2.6.0 wheel already on disk; no download then.

    Returns:
        The wheel read and the safetensors file of each network.

    Raises:
        WeightsError: when the wheel cannot be fetched or read, or its weights
            do not fit the specs.
    """
    folder = mtcnn_dir(cache)
    if wheel is None:
        wheel_path = download_wheel(folder)
    else:
        wheel_path = Path(wheel)
        if not wheel_path.is_file():
            raise WeightsError("wheel file not found", location=Location(str(wheel_path)), hint="check the path")
        _check_wheel(wheel_path)

    written: dict[str, Path] = {}
    for network, path in weights_paths(cache).items():
        state = convert_state(network, read_facenet_state(wheel_path, network), flatten_input_shape(network))
        model = build_network(network)
        load_into(model, state, network)
        metadata = {"source": f"facenet-pytorch {FACENET_VERSION} facenet_pytorch/data/{network}.pt"}
        written[network] = save_weights(model, path, metadata=metadata)
        logger.info("wrote %s", path)
    return ImportResult(wheel=wheel_path, weights=written)
