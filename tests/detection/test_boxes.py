"""Box utilities: property tests of overlaps and NMS against brute-force references."""

from __future__ import annotations

import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

from cvgraph.detection.boxes import (
    batched_nms,
    batched_nms_min,
    box_iou,
    box_overlap_min,
    nms,
    regress_boxes,
    square_boxes,
)

coordinate = st.integers(-50, 150).map(float)


@st.composite
def boxes_strategy(draw: st.DrawFn, min_size: int = 0, max_size: int = 12, min_side: int = 0) -> torch.Tensor:
    """Draw (B, 4) boxes with integer corners, x1 <= x2 and y1 <= y2; some degenerate when min_side is 0."""
    count = draw(st.integers(min_size, max_size))
    rows = []
    for _ in range(count):
        x1, y1 = draw(coordinate), draw(coordinate)
        width = draw(st.integers(min_side, 80))
        height = draw(st.integers(min_side, 80))
        rows.append([x1, y1, x1 + width, y1 + height])
    return torch.tensor(rows, dtype=torch.float32).reshape(count, 4)


def _scores(count: int, draw: st.DrawFn) -> torch.Tensor:
    # Distinct scores, so that the greedy order (and the kept set) is unique.
    values = draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count, unique=True))
    return torch.tensor(values, dtype=torch.float32) / 10_000


def _brute_force_nms(boxes: torch.Tensor, scores: torch.Tensor, overlap, threshold: float, groups=None) -> list[int]:
    """Greedy NMS, written as plainly as possible: visit boxes by score, keep those no kept box overlaps."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    kept: list[int] = []
    for i in order:
        if all(
            (groups is not None and int(groups[i]) != int(groups[k]))
            or float(overlap(boxes[i:i + 1], boxes[k:k + 1])[0, 0]) <= threshold
            for k in kept
        ):
            kept.append(i)
    return kept


# IoU ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(boxes_strategy(), boxes_strategy())
def test_iou_symmetric_and_bounded(boxes1: torch.Tensor, boxes2: torch.Tensor) -> None:
    forward = box_iou(boxes1, boxes2)
    backward = box_iou(boxes2, boxes1)
    assert forward.shape == (len(boxes1), len(boxes2))
    assert torch.equal(forward, backward.T)
    assert not torch.isnan(forward).any()
    assert (forward >= 0).all()
    assert (forward <= 1 + 1e-6).all()


@settings(max_examples=100, deadline=None)
@given(boxes_strategy(min_size=1, min_side=1))
def test_iou_of_identical_boxes_is_one(boxes: torch.Tensor) -> None:
    assert torch.allclose(box_iou(boxes, boxes).diagonal(), torch.ones(len(boxes)))


@settings(max_examples=100, deadline=None)
@given(boxes_strategy(min_size=1), st.floats(0.0, 100.0))
def test_iou_of_disjoint_boxes_is_zero(boxes: torch.Tensor, gap: float) -> None:
    shifted = boxes.clone()
    shift = boxes[:, 2].max() - boxes[:, 0].min() + gap + 1
    shifted[:, 0::2] += shift
    assert (box_iou(boxes, shifted) == 0).all()


@settings(max_examples=100, deadline=None)
@given(boxes_strategy(min_size=1, min_side=1), boxes_strategy(min_size=1, min_side=1))
def test_iou_equals_torchvision_for_positive_areas(boxes1: torch.Tensor, boxes2: torch.Tensor) -> None:
    assert torch.allclose(box_iou(boxes1, boxes2), torchvision.ops.box_iou(boxes1, boxes2), atol=1e-6)


def test_iou_of_zero_area_boxes_is_zero_not_nan() -> None:
    point = torch.tensor([[5.0, 5.0, 5.0, 5.0]])
    line = torch.tensor([[0.0, 5.0, 10.0, 5.0]])
    assert box_iou(point, point).item() == 0.0
    assert box_iou(point, line).item() == 0.0
    assert box_iou(line, line).item() == 0.0


def test_iou_of_empty_sets_has_empty_shape() -> None:
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    assert box_iou(torch.zeros(0, 4), boxes).shape == (0, 1)
    assert box_iou(boxes, torch.zeros(0, 4)).shape == (1, 0)


def test_iou_of_half_overlap() -> None:
    left = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    right = torch.tensor([[1.0, 0.0, 3.0, 2.0]])
    assert box_iou(left, right).item() == pytest.approx(2 / 6)


# "Min" overlap --------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(boxes_strategy(), boxes_strategy())
def test_min_overlap_symmetric_and_bounded(boxes1: torch.Tensor, boxes2: torch.Tensor) -> None:
    for offset in (0.0, 1.0):
        forward = box_overlap_min(boxes1, boxes2, pixel_offset=offset)
        assert torch.equal(forward, box_overlap_min(boxes2, boxes1, pixel_offset=offset).T)
        assert not torch.isnan(forward).any()
        assert (forward >= 0).all()
        assert (forward <= 1 + 1e-6).all()


def test_min_overlap_of_nested_box_is_one() -> None:
    outer = torch.tensor([[0.0, 0.0, 99.0, 99.0]])
    inner = torch.tensor([[10.0, 10.0, 19.0, 19.0]])
    assert box_overlap_min(outer, inner).item() == 1.0
    assert box_iou(outer, inner).item() < 0.02


def test_min_overlap_counts_end_pixels() -> None:
    # With pixel_offset=1, boxes [0, 0]-[0, 0] and [0, 0]-[1, 1] are 1 and 4 pixels.
    single = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    square = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert box_overlap_min(single, square, pixel_offset=1.0).item() == 1.0
    assert box_overlap_min(single, square, pixel_offset=0.0).item() == 0.0


# NMS ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]))
def test_nms_keeps_brute_force_set(data: st.DataObject, threshold: float) -> None:
    boxes = data.draw(boxes_strategy(min_side=1))
    scores = _scores(len(boxes), data.draw)
    kept = nms(boxes, scores, threshold)
    assert kept.tolist() == _brute_force_nms(boxes, scores, box_iou, threshold)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from([0.3, 0.7]))
def test_batched_nms_keeps_brute_force_set_per_group(data: st.DataObject, threshold: float) -> None:
    boxes = data.draw(boxes_strategy(min_side=1))
    scores = _scores(len(boxes), data.draw)
    groups = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=len(boxes), max_size=len(boxes))), dtype=torch.int64)
    kept = batched_nms(boxes, scores, groups, threshold)
    assert kept.tolist() == _brute_force_nms(boxes, scores, box_iou, threshold, groups)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from([0.0, 0.3, 0.7, 1.0]))
def test_min_nms_keeps_brute_force_set_per_group(data: st.DataObject, threshold: float) -> None:
    boxes = data.draw(boxes_strategy())
    scores = _scores(len(boxes), data.draw)
    groups = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=len(boxes), max_size=len(boxes))), dtype=torch.int64)
    kept = batched_nms_min(boxes, scores, groups, threshold)
    assert kept.tolist() == _brute_force_nms(boxes, scores, box_overlap_min, threshold, groups)


@pytest.mark.parametrize("function", ["nms", "batched_nms", "batched_nms_min"])
def test_nms_of_zero_and_one_candidates(function: str) -> None:
    def run(boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        groups = torch.zeros(len(boxes), dtype=torch.int64)
        if function == "nms":
            return nms(boxes, scores, 0.5)
        if function == "batched_nms":
            return batched_nms(boxes, scores, groups, 0.5)
        return batched_nms_min(boxes, scores, groups, 0.5)

    empty = run(torch.zeros(0, 4), torch.zeros(0))
    assert empty.dtype == torch.int64
    assert empty.tolist() == []
    single = run(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([0.9]))
    assert single.tolist() == [0]


def test_min_nms_suppresses_nested_box_that_iou_keeps() -> None:
    boxes = torch.tensor([[0.0, 0.0, 99.0, 99.0], [10.0, 10.0, 29.0, 29.0]])
    scores = torch.tensor([0.9, 0.8])
    groups = torch.zeros(2, dtype=torch.int64)
    assert batched_nms_min(boxes, scores, groups, 0.7).tolist() == [0]
    assert nms(boxes, scores, 0.7).tolist() == [0, 1]


# Regression and squaring ----------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(boxes_strategy(min_size=1, min_side=1))
def test_square_boxes_keeps_center_and_long_side(boxes: torch.Tensor) -> None:
    squares = square_boxes(boxes)
    width = squares[:, 2] - squares[:, 0]
    height = squares[:, 3] - squares[:, 1]
    long_side = torch.max(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert torch.allclose(width, height)
    assert torch.allclose(width, long_side)
    assert torch.allclose(squares[:, 0] + squares[:, 2], boxes[:, 0] + boxes[:, 2], atol=1e-4)
    assert torch.allclose(squares[:, 1] + squares[:, 3], boxes[:, 1] + boxes[:, 3], atol=1e-4)


def test_regress_boxes_moves_corners_by_box_size() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    offsets = torch.tensor([[0.1, -0.25, 0.5, 0.0]])
    assert regress_boxes(boxes, offsets).tolist() == [[12.0, 10.0, 40.0, 60.0]]
    expected = torch.tensor([[12.1, 9.75, 40.5, 60.0]])
    assert torch.allclose(regress_boxes(boxes, offsets, pixel_offset=1.0), expected)
    assert torch.equal(regress_boxes(boxes, torch.zeros(1, 4)), boxes)
