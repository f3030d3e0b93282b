"""Box utilities for detectors: overlap measures, NMS, regression and squaring.

Boxes are (B, 4) float tensors of ``(x1, y1, x2, y2)`` in pixels with
``x1 <= x2`` and ``y1 <= y2``. Scores are (B,) tensors. ``idxs`` are (B,)
integer group ids (the image of each box, or image and pyramid level):
batched operations never let boxes of different groups interact.

Where torchvision.ops has the operation (``box_area``, ``nms``,
``batched_nms``) these functions call it.
"""

from __future__ import annotations

import torch
from torchvision import ops

__all__ = [
    "box_iou",
    "box_overlap_min",
    "nms",
    "batched_nms",
    "batched_nms_min",
    "regress_boxes",
    "square_boxes",
]


def _intersection(boxes1: torch.Tensor, boxes2: torch.Tensor, pixel_offset: float) -> torch.Tensor:
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    size = (bottom_right - top_left + pixel_offset).clamp(min=0)
    return size[..., 0] * size[..., 1]


def _area(boxes: torch.Tensor, pixel_offset: float) -> torch.Tensor:
    if pixel_offset == 0:
        return ops.box_area(boxes)
    return (boxes[:, 2] - boxes[:, 0] + pixel_offset) * (boxes[:, 3] - boxes[:, 1] + pixel_offset)


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    positive = denominator > 0
    return torch.where(positive, numerator / torch.where(positive, denominator, 1), 0)


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Return the (B1, B2) intersection over union of every pair of boxes.

    Unlike ``torchvision.ops.box_iou``, a pair whose union has zero area (two
    degenerate boxes) gets 0 instead of NaN.
    """
    intersection = _intersection(boxes1, boxes2, 0.0)
    union = _area(boxes1, 0.0)[:, None] + _area(boxes2, 0.0)[None, :] - intersection
    return _safe_divide(intersection, union)


def box_overlap_min(boxes1: torch.Tensor, boxes2: torch.Tensor, *, pixel_offset: float = 1.0) -> torch.Tensor:
    """Return the (B1, B2) intersection over the smaller area of every pair of boxes.

    This is the "Min" overlap of MTCNN's last NMS: a small box inside a large
    one overlaps it fully. ``pixel_offset=1`` counts both end pixels, so a box
    from x1 to x2 is ``x2 - x1 + 1`` pixels wide, as in the original MTCNN
    code. A pair whose smaller area is zero gets 0.
    """
    intersection = _intersection(boxes1, boxes2, pixel_offset)
    smaller = torch.min(_area(boxes1, pixel_offset)[:, None], _area(boxes2, pixel_offset)[None, :])
    return _safe_divide(intersection, smaller)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Return the indices of the boxes kept by greedy NMS, by decreasing score.

    A box is dropped when its IoU with a kept box of higher score is above
    ``iou_threshold``. Calls ``torchvision.ops.nms``.
    """
    return ops.nms(boxes, scores, iou_threshold)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Return the indices kept by NMS run separately in each group, by decreasing score.

    Calls ``torchvision.ops.batched_nms``.
    """
    return ops.batched_nms(boxes, scores, idxs, iou_threshold)


def batched_nms_min(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, threshold: float, *, pixel_offset: float = 1.0
) -> torch.Tensor:
    """Return the indices kept by greedy NMS on the "Min" overlap, per group, by decreasing score.

    A box is dropped when :func:`box_overlap_min` with a kept box of higher
    score in its group is above ``threshold``. The overlap matrix is computed
    once, and the greedy pass then loops once per kept box, not per candidate.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    overlap = box_overlap_min(boxes[order], boxes[order], pixel_offset=pixel_offset)
    same_group = idxs[order][:, None] == idxs[order][None, :]
    suppresses = (overlap > threshold) & same_group

    alive = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    keep = []
    while True:
        remaining = torch.nonzero(alive)
        if remaining.numel() == 0:
            break
        best = int(remaining[0, 0])
        keep.append(best)
        alive &= ~suppresses[best]
        alive[best] = False
    return order[torch.tensor(keep, dtype=torch.int64, device=boxes.device)]


def regress_boxes(boxes: torch.Tensor, offsets: torch.Tensor, *, pixel_offset: float = 0.0) -> torch.Tensor:
    """Move box corners by offsets given in units of the box size.

    Args:
        boxes: (B, 4) boxes.
        offsets: (B, 4) ``(dx1, dy1, dx2, dy2)`` as fractions of the width and height.
        pixel_offset: added to ``x2 - x1`` and ``y2 - y1`` to get the size
            (1 counts both end pixels).

    Returns:
        (B, 4) regressed boxes.
    """
    width = boxes[:, 2] - boxes[:, 0] + pixel_offset
    height = boxes[:, 3] - boxes[:, 1] + pixel_offset
    size = torch.stack([width, height, width, height], dim=1)
    return boxes + offsets * size


def square_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square of side ``max(width, height)`` around the same center.

    Returns:
        (B, 4) square boxes.
    """
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    side = torch.max(width, height)
    x1 = boxes[:, 0] + width * 0.5 - side * 0.5
    y1 = boxes[:, 1] + height * 0.5 - side * 0.5
    return torch.stack([x1, y1, x1 + side, y1 + side], dim=1)
