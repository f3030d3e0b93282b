"""Reading images: 16-bit, EXIF orientation, transparency, and ImageNet preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import cvgraph
from cvgraph.images import classification_tensor, read_image


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    from skimage import data

    camera = data.camera().astype(np.uint16) * 256
    path = tmp_path / "camera16.png"
    Image.fromarray(camera).save(path)

    image = read_image(path)

    assert image.shape == (*camera.shape, 3)
    assert image.dtype == np.uint8
    assert 50 < image.mean() < 200
    assert np.abs(image[..., 0].astype(int) - data.camera().astype(int)).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    picture = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    picture.save(path, exif=exif)

    assert read_image(path).shape == (40, 20, 3)


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[:2, :, :] = (0, 0, 255, 255)
    path = tmp_path / "half.png"
    Image.fromarray(rgba, mode="RGBA").save(path)

    image = read_image(path)

    assert (image[0, 0] == (0, 0, 255)).all()
    assert (image[3, 3] == (255, 255, 255)).all()


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(cvgraph.SpecError, match="is a folder"):
        read_image(tmp_path)


def test_classification_tensor_crops_the_centre():
    image = np.zeros((300, 600, 3), dtype=np.uint8)
    image[:, 250:350] = 255

    tensor = classification_tensor(image, (224, 224))

    assert tensor.shape == (1, 3, 224, 224)
    # The white band, 100 of 600 pixels wide, sits in the middle of the crop.
    assert tensor[0, 0, 112, 112] > tensor[0, 0, 112, 0]
