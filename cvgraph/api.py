"""The Python entry points: build a model from a spec in one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .compiler import compile_spec
from .weights import load_weights
from .infer import ShapeReport, infer_shapes as _infer
from .limits import Limits
from .pipeline import Spec, load_spec
from .registry import Registry

__all__ = ["build", "infer_shapes"]


def infer_shapes(
    spec: Spec | str | Path | Mapping[str, Any],
    input_shapes: Mapping[str, Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
) -> ShapeReport:
    """Infer every node's output shape without allocating a weight.

    Args:
        spec: a loaded :class:`Spec`, a spec file, a zoo name or a dict.
        input_shapes: input name to a size such as ``"1x3x224x224"``.
        params: param overrides when ``spec`` is not loaded yet.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec, params=params)
    return _infer(spec, input_shapes)


def build(
    spec: Spec | str | Path | Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    input_shapes: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    weights: str | Path | None = None,
    fold_bn: bool = False,
    channels_last: bool = False,
    registry: Registry | None = None,
    limits: Limits | None = None,
) -> nn.Module:
    """Build a PyTorch model from a spec.

    Args:
        spec: a spec file, a zoo name (``"resnet50"``), a dict or a loaded :class:`Spec`.
        params: values for the spec's params, such as ``{"num_classes": 10}``.
        overrides: other spec keys by dotted path.
        input_shapes: input sizes to check the model against, such as
            ``{"image": "1x3x224x224"}``; the spec's declared sizes otherwise.
        device: where to put the weights (``"cpu"``, ``"cuda"``).
        dtype: the floating-point type of the weights (``torch.bfloat16``).
        weights: a safetensors (or ``.pt`` state_dict) file to load, strictly,
            before any optimization, so that folding uses trained statistics.
        fold_bn: fold each BatchNorm into the convolution before it.
        channels_last: store weights and activations in NHWC memory order.
        limits: bounds on the spec text, the expanded graph and the model's
            parameters and activations (default: ``Limits()``, whose budget
            reads ``CVGRAPH_MAX_PARAMS`` and ``CVGRAPH_MAX_ACTIVATION_BYTES``).

    With ``fold_bn`` or ``channels_last`` the model is for inference: it comes
    back in eval mode, and folded BatchNorm layers leave its state_dict. To
    optimize a model you trained, call
    :func:`cvgraph.optimize_for_inference` on it. Otherwise the model comes
    back in training mode, as ``nn.Module`` does.

    Returns:
        A ``torch.fx.GraphModule``; ``model.cvgraph`` contains the spec's
        :class:`~cvgraph.compiler.ModelInfo`.

    Raises:
        SpecError: for any problem in the spec, with its file, line and node.
        ResourceError: when the model would exceed the budget of ``limits``.
    """
    limits = limits or Limits()
    if not isinstance(spec, Spec):
        spec = load_spec(spec, params=params, overrides=overrides, registry=registry, limits=limits)
    model: nn.Module = compile_spec(spec, input_shapes, limits=limits.resources)
    if weights is not None:
        load_weights(model, weights)
    if fold_bn or channels_last:
        from .optimize import optimize_for_inference

        model = optimize_for_inference(model, fold_bn=fold_bn, channels_last=channels_last)
    if device is not None or dtype is not None:
        model = model.to(device=device, dtype=dtype)
    return model
