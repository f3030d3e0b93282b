"""Exporting a compiled spec to a ``torch.export`` program (.pt2) or to ONNX."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .compiler import model_info
from .errors import SpecError
from .weights import atomic_write

__all__ = ["export_model", "EXPORT_FORMATS"]

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("pt2", "onnx")


def format_for(path: Path, format: str | None) -> str:
    """Return the export format: the one asked for, or the one the file suffix names.

    Raises:
        SpecError: when the suffix names no format, or another one than asked.
    """
    by_suffix = {".pt2": "pt2", ".onnx": "onnx"}.get(path.suffix.lower())
    if format is None:
        if by_suffix is None:
            raise SpecError(
                f"cannot tell the export format from the file name '{path.name}'",
                expected="a .pt2 or .onnx file, or --format",
                found=path.suffix or "no suffix",
            )
        return by_suffix
    if by_suffix is not None and by_suffix != format:
        raise SpecError(
            f"the file '{path.name}' names format {by_suffix}, but format {format} was asked for",
            hint=f"name the file with the .{format} suffix, or ask for --format {by_suffix}",
        )
    return format


def _example_inputs(model: nn.Module, batch: int) -> tuple[torch.Tensor, ...]:
    info = model_info(model)
    tensors = []
    for name in info.input_names:
        shape = info.shapes.inputs[name]
        dims = shape.torch_size()
        if any(d is None for d in dims):
            raise SpecError(
                f"input '{name}' has a free size ({shape}), but export needs a fixed example size",
                hint="pass --input NxCxHxW, such as 1x3x224x224",
            )
        tensors.append(torch.randn(batch, *dims))
    return tuple(tensors)


def export_model(
    model: nn.Module,
    path: str | Path,
    *,
    format: Literal["pt2", "onnx"] | None = None,
    batch: int = 1,
    dynamic_batch: bool = False,
) -> Path:
    """Export a model built by cvgraph, for the input size it was built for.

    Args:
        model: a model from :func:`cvgraph.build` with fixed input sizes.
        path: the file to write; written atomically.
        format: ``pt2`` (``torch.export.save``) or ``onnx`` (the dynamo-based
            ONNX exporter, which needs the ``onnx`` and ``onnxscript`` packages);
            None takes it from the file suffix.
        batch: the batch size of the example inputs.
        dynamic_batch: let the exported program take any batch size.

    Raises:
        SpecError: for a free input size, a missing ONNX package or a failed export.
    """
    path = Path(path)
    format = format_for(path, format)  # type: ignore[assignment]
    model = model.eval()
    inputs = _example_inputs(model, max(batch, 2) if dynamic_batch else batch)
    info = model_info(model)
    dynamic_shapes = None
    if dynamic_batch:
        batch_dim = torch.export.Dim("batch", min=1)
        dynamic_shapes = {name: {0: batch_dim} for name in info.input_names}

    if format == "pt2":
        program = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
        atomic_write(path, lambda temporary: torch.export.save(program, str(temporary)))
    elif format == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError:
            raise SpecError(
                "ONNX export needs the 'onnx' and 'onnxscript' packages",
                hint="pip install onnx onnxscript",
            ) from None
        # The exporter prints its progress; keep the CLI's output to cvgraph's own lines.
        with contextlib.redirect_stdout(io.StringIO()):
            program = torch.onnx.export(
                model,
                inputs,
                dynamo=True,
                dynamic_shapes=dynamic_shapes,
                input_names=list(info.input_names),
                output_names=list(info.output_names),
            )
        atomic_write(path, lambda temporary: program.save(str(temporary)))
    else:
        raise SpecError(f"unknown export format '{format}'", expected=" or ".join(EXPORT_FORMATS), found=format)
    logger.info("exported %s to %s (%s)", info.name, path, format)
    return path
