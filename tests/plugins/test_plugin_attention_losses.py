"""Dice and focal losses of the example plugin: shapes (hypothesis) and known values."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import cvgraph

pytestmark = pytest.mark.usefixtures("attention_plugin")

SETTINGS = settings(max_examples=25, deadline=None)
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
sizes = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 8), st.integers(1, 8))


def _expected_shape(reduction: str, batch: int) -> tuple[int, ...]:
    return (batch,) if reduction == "none" else ()


@SETTINGS
@given(sizes, REDUCTIONS, st.integers(0, 2**16))
def test_binary_dice_shape_and_range(size, reduction, seed):
    generator = torch.Generator().manual_seed(seed)
    pred = torch.randn(size, generator=generator)
    target = torch.randint(0, 2, size, generator=generator).float()
    dice = cvgraph.loss("dice", reduction=reduction)

    loss = dice(pred, target)

    assert loss.shape == _expected_shape(reduction, size[0])
    per_sample = cvgraph.loss("dice", reduction="none")(pred, target)
    assert per_sample.min() >= 0
    assert per_sample.max() <= 1


@SETTINGS
@given(sizes, REDUCTIONS, st.integers(0, 2**16))
def test_multiclass_dice_shape_and_gradient(size, reduction, seed):
    generator = torch.Generator().manual_seed(seed)
    batch, classes, height, width = size
    pred = torch.randn(batch, classes + 1, height, width, generator=generator, requires_grad=True)
    target = torch.randint(0, classes + 1, (batch, height, width), generator=generator)
    dice = cvgraph.loss("dice", mode="multiclass", reduction=reduction)

    loss = dice(pred, target)
    loss.sum().backward()

    assert loss.shape == _expected_shape(reduction, batch)
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all()


@SETTINGS
@given(sizes, REDUCTIONS, st.integers(0, 2**16))
def test_focal_shape(size, reduction, seed):
    generator = torch.Generator().manual_seed(seed)
    pred = torch.randn(size, generator=generator)
    target = torch.randint(0, 2, size, generator=generator)
    focal = cvgraph.loss("focal", reduction=reduction)

    loss = focal(pred, target)

    assert loss.shape == (size if reduction == "none" else ())
    assert (loss >= 0).all()


def test_dice_perfect_and_disjoint_masks():
    target = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    dice = cvgraph.loss("dice", from_logits=False, smooth=0.0)

    assert dice(target, target).item() == 0.0
    assert dice(1 - target, target).item() == 1.0


def test_dice_half_overlap():
    pred = torch.tensor([[[0.5, 0.5]]])
    target = torch.tensor([[[1.0, 0.0]]])
    dice = cvgraph.loss("dice", from_logits=False, smooth=0.0)

    # 2 * 0.5 / (1 + 1) = 0.5 overlap, so the loss is 0.5.
    assert dice(pred, target).item() == pytest.approx(0.5)


def test_multiclass_dice_perfect_prediction():
    target = torch.tensor([[[0, 1], [2, 2]]])
    pred = F.one_hot(target, 4).movedim(-1, 1).float()
    dice = cvgraph.loss("dice", mode="multiclass", from_logits=False, smooth=1.0)

    assert dice(pred, target).item() == pytest.approx(0.0)


def test_dice_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"found \(2, 1, 4, 4\) and \(2, 4, 4\)"):
        cvgraph.loss("dice")(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="multiclass dice needs pred"):
        cvgraph.loss("dice", mode="multiclass")(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4))


def test_focal_without_alpha_and_gamma_is_cross_entropy():
    torch.manual_seed(0)
    pred = torch.randn(4, 3, 5, 5)
    target = torch.randint(0, 2, (4, 3, 5, 5)).float()
    focal = cvgraph.loss("focal", alpha=None, gamma=0.0)

    torch.testing.assert_close(focal(pred, target), F.binary_cross_entropy_with_logits(pred, target))


def test_focal_down_weights_easy_examples():
    pred = torch.tensor([4.0, 0.0])
    target = torch.tensor([1.0, 1.0])
    focal = cvgraph.loss("focal", alpha=None, gamma=2.0, reduction="none")
    cross_entropy = F.binary_cross_entropy_with_logits(pred, target, reduction="none")

    ratio = focal(pred, target) / cross_entropy

    assert ratio[0] < 0.001
    assert ratio[1] == pytest.approx(0.25)


def test_focal_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="focal loss needs pred and target of one shape"):
        cvgraph.loss("focal")(torch.zeros(2, 3), torch.zeros(2))
