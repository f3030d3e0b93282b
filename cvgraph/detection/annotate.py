"""Drawing face detections on an image with Pillow."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .mtcnn import FaceDetections

__all__ = ["draw_faces"]

BOX_COLOR = (255, 64, 32)
LANDMARK_COLOR = (32, 255, 64)
TEXT_COLOR = (255, 255, 255)


def draw_faces(image: np.ndarray, faces: FaceDetections) -> Image.Image:
    """Return a copy of an (H, W, 3) uint8 RGB image with each face's box, score and landmarks.

    Line widths and landmark radii grow with the image, so that they stay
    visible on large photos.
    """
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    line = max(1, round(min(canvas.size) / 250))
    radius = line + 1
    for box, score, points in zip(faces.boxes.tolist(), faces.scores.tolist(), faces.landmarks.tolist()):
        x1, y1, x2, y2 = box
        draw.rectangle((x1, y1, x2, y2), outline=BOX_COLOR, width=line)
        label = f"{score:.3f}"
        left, top, right, bottom = draw.textbbox((x1, y1), label)
        label_y = y1 - (bottom - top) - 2 * line
        if label_y < 0:
            label_y = y2 + line
        draw.rectangle((x1, label_y, x1 + (right - left) + 2 * line, label_y + (bottom - top) + 2 * line), fill=BOX_COLOR)
        draw.text((x1 + line, label_y + line - (top - y1)), label, fill=TEXT_COLOR)
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=LANDMARK_COLOR)
    return canvas
