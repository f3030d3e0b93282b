"""Batched crop-and-resize against per-crop ``F.interpolate(mode="area")`` and facenet-pytorch's crop windows."""

from __future__ import annotations

import importlib
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cvgraph.detection.crops import crop_resize_area, crop_windows, summed_area_table

from .conftest import PHOTOS


def test_summed_area_table_sums_rectangles() -> None:
    images = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    table = summed_area_table(images)
    assert table.shape == (2, 6, 5, 3)
    assert table.dtype == torch.float64
    assert table[1, 5, 4, 2].item() == images[1, 2].sum().item()
    assert table[0, 3, 2, 1].item() == images[0, 1, :2, :3].sum().item()
    assert (table[:, 0] == 0).all()
    assert (table[:, :, 0] == 0).all()


@pytest.mark.parametrize("dtype, table_dtype", [
    (torch.uint8, torch.int32),
    (torch.int16, torch.int64),
    (torch.float32, torch.float64),
])
def test_summed_area_table_dtype_keeps_sums_exact(dtype: torch.dtype, table_dtype: torch.dtype) -> None:
    images = torch.full((1, 1, 300, 200), 255).to(dtype)
    table = summed_area_table(images)
    assert table.dtype == table_dtype
    assert table[0, -1, -1, 0].item() == 255 * 300 * 200


@st.composite
def windows_strategy(draw: st.DrawFn, height: int, width: int) -> list[tuple[int, int, int, int]]:
    count = draw(st.integers(1, 6))
    windows = []
    for _ in range(count):
        x0 = draw(st.integers(0, width - 1))
        y0 = draw(st.integers(0, height - 1))
        x1 = draw(st.integers(x0 + 1, width))
        y1 = draw(st.integers(y0 + 1, height))
        windows.append((x0, y0, x1, y1))
    return windows


def reference_pad(reference: types.ModuleType):
    """Return facenet-pytorch's ``pad``, which turns boxes into the integer windows it crops."""
    package = reference.__name__.rpartition(".")[0]
    return importlib.import_module(f"{package}.utils.detect_face").pad


ASTRONAUT = torch.from_numpy(PHOTOS["astronaut"]()[100:220, 150:300]).permute(2, 0, 1).float()


@settings(max_examples=60, deadline=None)
@given(
    windows=windows_strategy(120, 150),
    size=st.sampled_from([1, 7, 24, 48]),
    integer=st.booleans(),
)
def test_crop_resize_equals_area_interpolation(windows: list[tuple[int, int, int, int]], size: int, integer: bool) -> None:
    images = ASTRONAUT[None]
    table = summed_area_table(images.to(torch.uint8) if integer else images)
    batch = crop_resize_area(table, torch.zeros(len(windows), dtype=torch.int64), torch.tensor(windows), size)
    assert batch.shape == (len(windows), 3, size, size)
    assert batch.dtype == torch.float32
    for crop, (x0, y0, x1, y1) in zip(batch, windows):
        expected = F.interpolate(images[:, :, y0:y1, x0:x1], size=(size, size), mode="area")[0]
        assert (crop - expected).abs().max() <= 1e-4


def test_crop_resize_reads_each_windows_image() -> None:
    images = torch.stack([torch.zeros(1, 8, 8), torch.full((1, 8, 8), 7.0)])
    table = summed_area_table(images)
    windows = torch.tensor([[0, 0, 8, 8], [2, 2, 5, 5]])
    crops = crop_resize_area(table, torch.tensor([1, 0]), windows, 4)
    assert (crops[0] == 7).all()
    assert (crops[1] == 0).all()


@settings(max_examples=200, deadline=None)
@given(
    corners=st.lists(st.floats(-80.0, 700.0, allow_nan=False, width=32), min_size=4, max_size=4),
    side=st.floats(0.0, 300.0, width=32),
)
def test_crop_windows_match_facenet_pad(reference: types.ModuleType, corners: list[float], side: float) -> None:
    height, width = 400, 600
    x1, y1 = corners[0], corners[1]
    boxes = torch.tensor([[x1, y1, x1 + side, y1 + side]], dtype=torch.float32)
    windows, valid = crop_windows(boxes, height, width)
    y, ey, x, ex = reference_pad(reference)(boxes.clone(), width, height)
    expected_valid = bool(ey[0] > y[0] - 1 and ex[0] > x[0] - 1)
    assert bool(valid[0]) == expected_valid
    if expected_valid:
        assert windows[0].tolist() == [int(x[0]) - 1, int(y[0]) - 1, int(ex[0]), int(ey[0])]


def test_crop_windows_clamp_to_image() -> None:
    boxes = torch.tensor([[-5.7, -0.5, 30.9, 12.2], [590.0, 390.0, 700.0, 500.0], [650.0, 10.0, 700.0, 60.0]])
    windows, valid = crop_windows(boxes, 400, 600)
    assert windows[0].tolist() == [0, 0, 30, 12]
    assert windows[1].tolist() == [589, 389, 600, 400]
    assert valid.tolist() == [True, True, False]


def test_crops_of_uint8_photo_equal_interpolation() -> None:
    pixels = torch.from_numpy(np.asarray(PHOTOS["coffee"]())).permute(2, 0, 1)[None]
    windows = torch.tensor([[10, 20, 58, 68], [0, 0, 600, 400], [333, 123, 350, 129]])
    crops = crop_resize_area(summed_area_table(pixels), torch.zeros(3, dtype=torch.int64), windows, 24)
    for crop, (x0, y0, x1, y1) in zip(crops, windows.tolist()):
        expected = F.interpolate(pixels[:, :, y0:y1, x0:x1].float(), size=(24, 24), mode="area")[0]
        assert (crop - expected).abs().max() <= 1e-4
