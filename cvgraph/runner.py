"""Running a classification or segmentation spec on image files, for ``cvgraph run``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from .compiler import compile_spec
from .errors import Location, SpecError
from .images import classification_tensor, read_image, to_tensor
from .infer import infer_shapes
from .limits import ResourceLimits
from .masks import mask_path, write_mask
from .pipeline import Spec
from .shapes import ClassMap, Vector
from .weights import load_weights

__all__ = ["run_images", "imagenet_categories"]


def imagenet_categories() -> list[str]:
    """Return the 1,000 ImageNet class names that torchvision ships with its model metadata."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def run_images(
    spec: Spec,
    images: Sequence[str | Path],
    *,
    weights: str | Path | None = None,
    topk: int = 5,
    size: int = 224,
    check_fingerprint: bool = True,
    limits: ResourceLimits | None = None,
) -> Iterator[str]:
    """Run the spec on each image and yield report lines.

    What happens depends on the type of the spec's first output: a Vector of
    class scores prints the top classes, a ClassMap writes a colour class
    mask PNG beside each image (see :func:`cvgraph.masks.mask_path`).

    Raises:
        SpecError: when the output type has no handler, the input is not RGB,
            or an image cannot be read.
    """
    name, declared = next(iter(spec.inputs.items()))
    height, width = declared.height or size, declared.width or size
    report = infer_shapes(spec, {name: (declared.channels, height, width)})
    output_name, output = next(iter(report.outputs.items()))
    handler = _HANDLERS.get(type(output))
    if handler is None:
        raise SpecError(
            f"'cvgraph run' cannot report output '{output_name}' of type {type(output).__name__}",
            location=spec.output_locations.get(output_name, Location(spec.file)),
            expected="Vector (class scores) or ClassMap (per-pixel class scores)",
            found=str(output),
            hint="use a classification or segmentation spec, or a command made for this kind of model",
        )
    if declared.channels != 3:
        raise SpecError(
            f"'cvgraph run' reads RGB images, but input '{name}' has {declared.channels} channels",
            location=Location(spec.file),
        )

    # Read every image first, so that a bad path fails before the model is built.
    pictures = [(Path(image_path), read_image(image_path)) for image_path in images]
    model = compile_spec(spec, report=report, limits=limits).eval()
    if topk < 1:
        raise SpecError(f"--topk must be at least 1, found {topk}")
    if weights is not None:
        load_weights(model, weights, check_fingerprint=check_fingerprint)
    else:
        yield "note: no --weights given; the model has random weights, so the classes are not meaningful"
    yield from handler(_Run(spec.name, model, output_name, output, (height, width), topk), pictures)


@dataclass(frozen=True)
class _Run:
    """Inputs of a run handler: the compiled model, its first output and the input size."""

    spec_name: str
    model: torch.nn.Module
    output_name: str
    output: Any
    size: tuple[int, int]
    topk: int

    def forward(self, image: np.ndarray, *, crop: bool = False) -> torch.Tensor:
        """Run the model on one image: resized to the input size, or resized and centre-cropped."""
        batch = classification_tensor(image, self.size) if crop else to_tensor(image, self.size)
        with torch.inference_mode():
            result = self.model(batch)
        return result[self.output_name] if isinstance(result, dict) else result


_Pictures = Sequence[tuple[Path, np.ndarray]]


def _classify(run: _Run, pictures: _Pictures) -> Iterator[str]:
    categories = imagenet_categories() if run.output.features == 1000 else None
    for image_path, picture in pictures:
        probabilities = run.forward(picture, crop=True).softmax(dim=1)[0]
        values, indices = probabilities.topk(min(run.topk, run.output.features))
        yield f"{image_path}:"
        for rank, (p, index) in enumerate(zip(values.tolist(), indices.tolist()), start=1):
            label = categories[index] if categories else f"class {index}"
            yield f"  {rank}. {p:.4f}  {index:4d}  {label}"


def _segment(run: _Run, pictures: _Pictures) -> Iterator[str]:
    from PIL import Image

    for image_path, picture in pictures:
        labels = run.forward(picture).argmax(dim=1)[0].to(torch.uint8).numpy()
        # The model runs at run.size, so the mask is resized back to the photo's size.
        mask = np.asarray(Image.fromarray(labels).resize((picture.shape[1], picture.shape[0]), Image.Resampling.NEAREST))
        target = mask_path(image_path, run.spec_name)
        write_mask(mask, target, run.output.classes, source=image_path)
        classes, counts = np.unique(mask, return_counts=True)
        shares = ", ".join(f"{c} ({100 * n / mask.size:.1f}%)" for c, n in zip(classes.tolist(), counts.tolist()))
        yield f"{image_path}: wrote {target} ({mask.shape[0]}x{mask.shape[1]}; classes {shares})"


_HANDLERS: dict[type, Callable[[_Run, _Pictures], Iterator[str]]] = {
    Vector: _classify,
    ClassMap: _segment,
}
