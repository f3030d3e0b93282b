"""The MTCNN face detector (Zhang et al., 2016) on cvgraph's P-Net, R-Net and O-Net specs.

Three stages, each on a batch:

1. Proposals: P-Net runs over an image pyramid whose first level maps the
   minimum face size to P-Net's 12-pixel window and whose levels shrink by
   ``scale_factor``. Every output cell whose face probability reaches the
   first threshold gives a box. NMS runs within each level, then across the
   levels of each image, and the remaining boxes are regressed and squared.
2. Refinement: 24x24 crops of the proposals go through R-Net in one batch;
   boxes above the second threshold are kept, NMS'd, regressed and squared.
3. Output: 48x48 crops go through O-Net; boxes above the third threshold get
   five landmarks, a last regression and an NMS on the "Min" overlap.

The pixel conventions (truncated crop corners, ``+1`` sizes in stages 2-3,
area resampling) follow facenet-pytorch 2.6.0, whose published weights
these are, so that detections match its ``MTCNN`` class.

Glossary: N images, H and W image height and width in pixels, L pyramid
levels, P proposals, K boxes, F faces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from torch import nn

from ..errors import Location, SpecError, WeightsError
from ..validation import validate_model
from .boxes import batched_nms, batched_nms_min, regress_boxes, square_boxes
from .crops import crop_resize_area, crop_windows, summed_area_table

__all__ = ["MTCNNConfig", "FaceDetections", "MTCNN", "pyramid_scales"]

logger = logging.getLogger(__name__)

PNET_WINDOW = 12
"""Side in pixels of the window that one P-Net output cell covers."""
PNET_STRIDE = 2
"""Step in pixels between P-Net output cells."""
RNET_SIZE = 24
ONET_SIZE = 48


class MTCNNConfig(BaseModel):
    """Thresholds and pyramid settings of the detector.

    The defaults are those of the MTCNN paper's code and of facenet-pytorch.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_face_size: float = Field(default=20.0, gt=0, description="smallest face side to search for, in pixels")
    scale_factor: float = Field(default=0.709, gt=0, lt=1, description="ratio of sizes between pyramid levels")
    thresholds: tuple[float, float, float] = Field(
        default=(0.6, 0.7, 0.7), description="minimum face probability of P-Net, R-Net and O-Net"
    )
    nms_thresholds: tuple[float, float, float, float] = Field(
        default=(0.5, 0.7, 0.7, 0.7),
        description="NMS overlap limits: P-Net within a level, P-Net across levels, R-Net (IoU), O-Net (Min overlap)",
    )
    max_levels: int = Field(default=64, ge=1, description="cap on pyramid levels, against tiny scale factors")
    max_level_pixels: int = Field(
        default=64_000_000, ge=1, description="cap on the pixels of the largest pyramid level, against tiny min_face_size"
    )

    @field_validator("thresholds", "nms_thresholds", mode="before")
    @classmethod
    def _count(cls, value: Any, info: ValidationInfo) -> Any:
        expected = 3 if info.field_name == "thresholds" else 4
        if isinstance(value, (list, tuple)) and len(value) != expected:
            raise ValueError(f"expected {expected} values, found {len(value)}: {list(value)}")
        return value

    @field_validator("thresholds", "nms_thresholds")
    @classmethod
    def _probabilities(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        for item in value:
            if not 0.0 <= item <= 1.0:
                raise ValueError(f"every value must be in [0, 1], found {item}")
        return value


@dataclass(frozen=True)
class FaceDetections:
    """The faces found in one image, by decreasing probability.

    Attributes:
        boxes: (F, 4) float32 ``(x1, y1, x2, y2)`` in pixels.
        scores: (F,) float32 face probabilities from O-Net.
        landmarks: (F, 5, 2) float32 ``(x, y)`` of the left eye, right eye,
            nose, left and right mouth corners, in pixels.
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    landmarks: torch.Tensor

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def to_dicts(self) -> list[dict[str, Any]]:
        """Return one JSON-ready dict per face: ``box``, ``score`` and ``landmarks``."""
        return [
            {
                "box": [round(v, 3) for v in box],
                "score": round(score, 6),
                "landmarks": [[round(x, 3), round(y, 3)] for x, y in points],
            }
            for box, score, points in zip(self.boxes.tolist(), self.scores.tolist(), self.landmarks.tolist())
        ]


def pyramid_scales(height: int, width: int, min_face_size: float, scale_factor: float, max_levels: int = 64) -> list[float]:
    """Return the scale of each pyramid level, largest first.

    Level 0 maps a face of ``min_face_size`` pixels to P-Net's 12-pixel
    window. Each next level is ``scale_factor`` smaller, down to the last one
    whose shorter side still covers 12 pixels. An image whose shorter side is
    below ``min_face_size`` has no level.
    """
    scale = PNET_WINDOW / min_face_size
    shorter = min(height, width) * scale
    scales: list[float] = []
    while shorter >= PNET_WINDOW and len(scales) < max_levels:
        scales.append(scale)
        scale *= scale_factor
        shorter *= scale_factor
    return scales


def _normalize(pixels: torch.Tensor) -> torch.Tensor:
    """Map pixel values 0..255 to about -1..1, as the networks were trained."""
    return (pixels - 127.5) * 0.0078125


@dataclass
class _Candidates:
    """Boxes between stages: (K, 4) boxes, (K,) scores and (K,) image index."""

    boxes: torch.Tensor
    scores: torch.Tensor
    image_index: torch.Tensor

    def select(self, keep: torch.Tensor) -> "_Candidates":
        return _Candidates(self.boxes[keep], self.scores[keep], self.image_index[keep])

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


class MTCNN(nn.Module):
    """The MTCNN cascade. Call :meth:`detect` on a batch of images.

    Args:
        pnet: the ``mtcnn_pnet`` spec model.
        rnet: the ``mtcnn_rnet`` spec model.
        onet: the ``mtcnn_onet`` spec model.
        config: thresholds and pyramid settings.

    Example::

        detector = MTCNN.from_cache()
        faces = detector.detect_array(image)   # (H, W, 3) uint8 RGB
        print(faces.boxes.shape, faces.landmarks.shape)  # (F, 4) (F, 5, 2)
    """

    def __init__(self, pnet: nn.Module, rnet: nn.Module, onet: nn.Module, config: MTCNNConfig | None = None) -> None:
        super().__init__()
        self.pnet = pnet.eval()
        self.rnet = rnet.eval()
        self.onet = onet.eval()
        self.config = config or MTCNNConfig()

    @classmethod
    def from_cache(
        cls,
        cache: str | Path | None = None,
        config: MTCNNConfig | Mapping[str, Any] | None = None,
        *,
        config_source: str = "<settings>",
    ) -> "MTCNN":
        """Build the three specs and load the weights written by ``cvgraph weights import mtcnn``.

        Args:
            cache: the cache folder given to the import (default: its default).
            config: thresholds and pyramid settings, or a dict of them.
            config_source: where ``config`` came from, for error messages.

        Raises:
            SpecError: for invalid settings.
            WeightsError: when the weights are not in the cache, with the command that imports them.
        """
        from ..weights import load_weights
        from .mtcnn_weights import build_network, weights_paths

        if config is not None and not isinstance(config, MTCNNConfig):
            config = validate_model(MTCNNConfig, dict(config), location=Location(config_source), what="MTCNN settings")
        command = "cvgraph weights import mtcnn" + (f" --cache {cache}" if cache is not None else "")
        networks = {}
        for name, path in weights_paths(cache).items():
            if not path.is_file():
                raise WeightsError(
                    "the MTCNN weights are not in the cache",
                    location=Location(str(path)),
                    hint=f"run '{command}' once to fetch and convert them",
                )
            networks[name] = build_network(name, channels_last=True)
            try:
                load_weights(networks[name], path)
            except WeightsError as error:
                # A cache written for an older version of the spec fails the fingerprint check.
                raise WeightsError(
                    error.message,
                    location=error.location,
                    expected=error.expected,
                    found=error.found,
                    hint=f"run '{command}' again to convert the weights for this version of cvgraph",
                ) from None
        return cls(networks["pnet"], networks["rnet"], networks["onet"], config)  # type: ignore[arg-type]

    # Entry points -----------------------------------------------------------

    def detect_array(self, image: np.ndarray) -> FaceDetections:
        """Detect faces in one (H, W, 3) uint8 RGB image."""
        tensor = torch.tensor(np.asarray(image)).permute(2, 0, 1)
        return self.detect(tensor.unsqueeze(0))[0]

    @torch.inference_mode()
    def detect(self, images: torch.Tensor) -> list[FaceDetections]:
        """Detect faces in a batch of RGB images of one size.

        Args:
            images: (N, 3, H, W) or (3, H, W) pixel values in 0..255, any dtype.

        Returns:
            One :class:`FaceDetections` per image.

        Raises:
            SpecError: for images that are not RGB, or a pyramid level above
                ``max_level_pixels``.
        """
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4 or images.shape[1] != 3:
            raise SpecError(
                "MTCNN detects faces in RGB images",
                expected="a tensor of shape (N, 3, H, W) or (3, H, W)",
                found=f"shape {tuple(images.shape)}",
                hint="repeat a grayscale image over three channels, and drop an alpha channel",
            )
        device = next(self.pnet.parameters()).device
        pixels = images.to(device=device)
        # Channels-last input makes every pyramid level channels-last, as the networks run.
        images = pixels.to(dtype=torch.float32, memory_format=torch.channels_last)
        count, _, height, width = images.shape

        candidates = self._propose(images)
        table = summed_area_table(pixels) if len(candidates) else None
        if len(candidates):
            candidates = self._refine(table, candidates, height, width)
        landmarks = torch.zeros(0, 5, 2, device=device)
        if len(candidates):
            candidates, landmarks = self._output(table, candidates, height, width)
        return [self._per_image(candidates, landmarks, index) for index in range(count)]

    forward = detect

    # Stages -----------------------------------------------------------------

    def _propose(self, images: torch.Tensor) -> _Candidates:
        """Run P-Net over the pyramid; return squared proposals after both NMS passes."""
        config = self.config
        count, _, height, width = images.shape
        scales = pyramid_scales(height, width, config.min_face_size, config.scale_factor, config.max_levels)
        if scales and int(height * scales[0] + 1) * int(width * scales[0] + 1) > config.max_level_pixels:
            raise SpecError(
                f"min_face_size {config.min_face_size} scales the {height}x{width} image by {scales[0]:.3g}, "
                f"past max_level_pixels ({config.max_level_pixels})",
                hint="raise min_face_size (P-Net's window is 12 pixels), or raise max_level_pixels",
            )
        boxes, scores, offsets, groups = [], [], [], []
        # NOTE: P-Net runs once per pyramid level, on all images of the batch at
        # once. Levels differ in size, so one call would need them packed into a
        # canvas, with masking before pool1 to keep ceil_mode's edge windows
        # exact. By our estimate that is about 28% more pixels at scale factor
        # 0.709, which costs more on the CPU than the ~10 calls it saves.
        for level, scale in enumerate(scales):
            size = (int(height * scale + 1), int(width * scale + 1))
            outputs = self.pnet(_normalize(F.interpolate(images, size=size, mode="area")))
            probability = outputs["prob"][:, 1]
            cells = torch.nonzero(probability >= config.thresholds[0])
            if cells.numel() == 0:
                continue
            image_index, row, col = cells.unbind(dim=1)
            position = torch.stack([col, row], dim=1).to(torch.float32)
            top_left = ((PNET_STRIDE * position + 1) / scale).floor()
            bottom_right = ((PNET_STRIDE * position + PNET_WINDOW) / scale).floor()
            boxes.append(torch.cat([top_left, bottom_right], dim=1))
            scores.append(probability[image_index, row, col])
            offsets.append(outputs["bbox_reg"][image_index, :, row, col])
            groups.append(image_index * len(scales) + level)

        if not boxes:
            empty = images.new_zeros((0, 4))
            return _Candidates(empty, images.new_zeros(0), torch.zeros(0, dtype=torch.int64, device=images.device))

        all_boxes, all_scores, all_offsets, all_groups = (torch.cat(x) for x in (boxes, scores, offsets, groups))
        keep = batched_nms(all_boxes, all_scores, all_groups, config.nms_thresholds[0])
        image_index = all_groups[keep] // len(scales)
        keep = keep[batched_nms(all_boxes[keep], all_scores[keep], image_index, config.nms_thresholds[1])]
        regressed = regress_boxes(all_boxes[keep], all_offsets[keep])
        return _Candidates(square_boxes(regressed), all_scores[keep], all_groups[keep] // len(scales))

    def _crops(self, table: torch.Tensor, candidates: _Candidates, height: int, width: int, size: int) -> tuple[_Candidates, torch.Tensor]:
        """Return the candidates whose crop window is non-empty, and their normalized crops."""
        windows, valid = crop_windows(candidates.boxes, height, width)
        if not bool(valid.all()):
            candidates = candidates.select(valid)
            windows = windows[valid]
        crops = crop_resize_area(table, candidates.image_index, windows, size)
        return candidates, _normalize(crops)

    def _refine(self, table: torch.Tensor, candidates: _Candidates, height: int, width: int) -> _Candidates:
        """Score 24x24 crops with R-Net, then keep, NMS, regress and square the boxes above the threshold."""
        candidates, crops = self._crops(table, candidates, height, width, RNET_SIZE)
        outputs = self.rnet(crops)
        score = outputs["prob"][:, 1]
        passed = score > self.config.thresholds[1]
        candidates = _Candidates(candidates.boxes[passed], score[passed], candidates.image_index[passed])
        offsets = outputs["bbox_reg"][passed]

        keep = batched_nms(candidates.boxes, candidates.scores, candidates.image_index, self.config.nms_thresholds[2])
        candidates, offsets = candidates.select(keep), offsets[keep]
        regressed = regress_boxes(candidates.boxes, offsets, pixel_offset=1.0)
        return _Candidates(square_boxes(regressed), candidates.scores, candidates.image_index)

    def _output(self, table: torch.Tensor, candidates: _Candidates, height: int, width: int) -> tuple[_Candidates, torch.Tensor]:
        """Score 48x48 crops with O-Net and return the faces with their (F, 5, 2) landmarks."""
        candidates, crops = self._crops(table, candidates, height, width, ONET_SIZE)
        outputs = self.onet(crops)
        score = outputs["prob"][:, 1]
        passed = score > self.config.thresholds[2]
        boxes = candidates.boxes[passed]
        points = outputs["landmarks"][passed]
        offsets = outputs["bbox_reg"][passed]

        # Landmarks are fractions of the O-Net crop, placed with the +1 pixel size convention.
        box_width = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        box_height = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points_x = box_width * points[:, :5] + boxes[:, 0:1] - 1
        points_y = box_height * points[:, 5:] + boxes[:, 1:2] - 1
        landmarks = torch.stack([points_x, points_y], dim=2)

        faces = _Candidates(regress_boxes(boxes, offsets, pixel_offset=1.0), score[passed], candidates.image_index[passed])
        keep = batched_nms_min(faces.boxes, faces.scores, faces.image_index, self.config.nms_thresholds[3])
        return faces.select(keep), landmarks[keep]

    @staticmethod
    def _per_image(candidates: _Candidates, landmarks: torch.Tensor, index: int) -> FaceDetections:
        mine = candidates.image_index == index
        return FaceDetections(
            boxes=candidates.boxes[mine].float().cpu(),
            scores=candidates.scores[mine].float().cpu(),
            landmarks=landmarks[mine].float().cpu(),
        )
