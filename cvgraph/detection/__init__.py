"""Detectors built on cvgraph specs: the MTCNN face detector and box utilities.

``DETECTORS`` maps each detector name that ``cvgraph detect`` accepts to its class.
"""

from __future__ import annotations

from .boxes import batched_nms, batched_nms_min, box_iou, box_overlap_min, nms, regress_boxes, square_boxes
from .mtcnn import MTCNN, FaceDetections, MTCNNConfig, pyramid_scales

__all__ = [
    "DETECTORS",
    "MTCNN",
    "MTCNNConfig",
    "FaceDetections",
    "pyramid_scales",
    "box_iou",
    "box_overlap_min",
    "nms",
    "batched_nms",
    "batched_nms_min",
    "regress_boxes",
    "square_boxes",
]

DETECTORS: dict[str, type] = {"mtcnn": MTCNN}
