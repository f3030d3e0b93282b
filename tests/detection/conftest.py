"""Fixtures for the detection tests: the imported MTCNN weights, the reference and real photos.

The weights are imported once per cache folder with the real command,
``cvgraph weights import mtcnn --cache DIR``: DIR is ``$CVGRAPH_TEST_CACHE``
or ``.cache/cvgraph-test-weights`` in the repository, and a later session
reuses it. Tests that need the weights or the reference skip only when the
facenet-pytorch wheel cannot be downloaded.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from cvgraph.cli import main
from cvgraph.detection import MTCNN
from cvgraph.detection.mtcnn_weights import FACENET_WHEEL, download_wheel, mtcnn_dir
from cvgraph.errors import WeightsError

from .reference import installed_folder, load_reference, unpack_wheel

REPOSITORY = Path(__file__).resolve().parents[2]


def _loads(cache: Path) -> bool:
    """Return whether the cached weights load into the current specs (a cache of an older spec does not)."""
    try:
        MTCNN.from_cache(cache)
    except WeightsError:
        return False
    return True


@pytest.fixture(scope="session")
def mtcnn_cache() -> Path:
    """Return a cache folder holding the facenet-pytorch wheel and the three converted networks."""
    cache = Path(os.environ.get("CVGRAPH_TEST_CACHE") or REPOSITORY / ".cache" / "cvgraph-test-weights")
    if (mtcnn_dir(cache) / FACENET_WHEEL).is_file() and _loads(cache):
        return cache
    try:
        download_wheel(mtcnn_dir(cache))
    except WeightsError as error:
        pytest.skip(f"facenet-pytorch 2.6.0 cannot be downloaded, so its MTCNN weights are unavailable: {error}")
    status = main(["weights", "import", "mtcnn", "--cache", str(cache)])
    assert status == 0, "cvgraph weights import mtcnn failed with the wheel already downloaded"
    return cache


@pytest.fixture(scope="session")
def reference(mtcnn_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """Return facenet-pytorch's ``models.mtcnn`` module: installed, else from the cached wheel."""
    folder = installed_folder()
    if folder is None:
        folder = unpack_wheel(mtcnn_dir(mtcnn_cache) / FACENET_WHEEL, tmp_path_factory.mktemp("facenet"))
    return load_reference(folder)


@pytest.fixture(scope="session")
def detector(mtcnn_cache: Path) -> MTCNN:
    return MTCNN.from_cache(mtcnn_cache)


def rgb(image: np.ndarray) -> np.ndarray:
    """Repeat a grayscale (H, W) image over three channels."""
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def lfw_mosaic(sizes: tuple[int, ...] = (100, 120, 140, 160), cell: int = 200) -> np.ndarray:
    """Return the first faces of skimage's LFW subset, upscaled to ``sizes``, in a grid on a gray canvas."""
    faces = skimage.data.lfw_subset()
    columns = 2
    rows = -(-len(sizes) // columns)
    canvas = np.full((rows * cell, columns * cell, 3), 128, np.uint8)
    for index, size in enumerate(sizes):
        face = Image.fromarray((faces[index] * 255).round().astype(np.uint8))
        face = np.asarray(face.resize((size, size), Image.BICUBIC))
        row, column = divmod(index, columns)
        top, left = row * cell + 20, column * cell + 20
        canvas[top:top + size, left:left + size] = face[..., None]
    return canvas


PHOTOS = {
    "astronaut": lambda: skimage.data.astronaut(),
    "camera": lambda: rgb(skimage.data.camera()),
    "coffee": lambda: skimage.data.coffee(),
    "lfw_mosaic": lfw_mosaic,
}
"""Real photos by name, as (H, W, 3) uint8 RGB."""

EXPECTED_FACES = {"astronaut": 1, "camera": 1, "coffee": 0, "lfw_mosaic": 4}
