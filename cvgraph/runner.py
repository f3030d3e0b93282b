"""Running a classification spec on image files, for ``cvgraph run``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import torch

from .compiler import compile_spec
from .errors import SpecError
from .images import read_image, to_tensor
from .infer import infer_shapes
from .pipeline import Spec
from .shapes import Vector
from .weights import load_weights

__all__ = ["run_images", "imagenet_categories"]


def imagenet_categories() -> list[str]:
    """Return the 1,000 ImageNet class names that torchvision ships with its model metadata."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def run_images(
    spec: Spec, images: Sequence[str | Path], *, weights: str | Path | None = None, topk: int = 5, size: int = 224
) -> Iterator[str]:
    """Classify each image and yield lines of ``rank  probability  class``.

    Raises:
        SpecError: when the spec has no vector output, or an image cannot be read.
    """
    name, declared = next(iter(spec.inputs.items()))
    height, width = declared.height or size, declared.width or size
    report = infer_shapes(spec, {name: (declared.channels, height, width)})
    output_name, output = next(iter(report.outputs.items()))
    if not isinstance(output, Vector):
        raise SpecError(
            f"'cvgraph run' classifies images, but output '{output_name}' is {output}",
            expected="a vector of class scores",
            hint="use a classification spec, or a command made for this kind of model",
        )
    if declared.channels != 3:
        raise SpecError(f"'cvgraph run' reads RGB images, but input '{name}' has {declared.channels} channels")

    # Read every image first, so that a bad path fails before the model is built.
    pictures = [(image_path, read_image(image_path)) for image_path in images]
    model = compile_spec(spec, report=report).eval()
    if weights is not None:
        load_weights(model, weights)
    else:
        yield "note: no --weights given; the model has random weights, so the classes are not meaningful"
    categories = imagenet_categories() if output.features == 1000 else None

    for image_path, picture in pictures:
        batch = to_tensor(picture, (height, width))
        with torch.inference_mode():
            logits = model(batch)
        if isinstance(logits, dict):
            logits = logits[output_name]
        probabilities = logits.softmax(dim=1)[0]
        values, indices = probabilities.topk(min(topk, output.features))
        yield f"{image_path}:"
        for rank, (p, index) in enumerate(zip(values.tolist(), indices.tolist()), start=1):
            label = categories[index] if categories else f"class {index}"
            yield f"  {rank}. {p:.4f}  {index:4d}  {label}"
