"""Segmentation and detection losses: soft Dice and sigmoid focal loss.

Each loss is a module called as ``loss(pred, target)``.

Glossary: N batch, K classes (channels of ``pred``), H height, W width.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from cvgraph import BlockArgs, Loss

__all__ = ["Dice", "DiceLoss", "Focal", "FocalLoss"]

Reduction = Literal["mean", "sum", "none"]


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


class DiceArgs(BlockArgs):
    mode: Literal["binary", "multiclass"] = Field(
        default="binary",
        description="binary: each channel is an independent mask with targets in [0, 1]; multiclass: K channels, targets are class indices",
    )
    smooth: float = Field(default=1.0, ge=0.0, description="added to numerator and denominator; keeps empty masks finite")
    from_logits: bool = Field(default=True, description="apply sigmoid (binary) or softmax (multiclass) to pred first")
    reduction: Reduction = "mean"


class DiceLoss(nn.Module):
    """Soft Dice loss, ``1 - (2 |P*T| + s) / (|P| + |T| + s)`` per sample and class, averaged over classes.

    Shapes:
        binary: pred (N, C, H, W), each channel an independent mask, or (N, H, W);
            target of the same shape, values in [0, 1].
        multiclass: pred (N, K, H, W); target (N, H, W) of class indices in [0, K).
        output: a scalar, or (N,) with ``reduction='none'``.
    """

    def __init__(self, args: DiceArgs) -> None:
        super().__init__()
        self.mode = args.mode
        self.smooth = args.smooth
        self.from_logits = args.from_logits
        self.reduction = args.reduction

    def _probabilities_and_targets(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "binary":
            if pred.shape != target.shape or pred.dim() < 2:
                raise ValueError(
                    f"binary dice needs pred and target of one shape (N, H, W) or (N, C, H, W), "
                    f"found {tuple(pred.shape)} and {tuple(target.shape)}"
                )
            probabilities = torch.sigmoid(pred) if self.from_logits else pred
            targets = target.to(pred.dtype)
            if pred.dim() < 4:
                # (N, H, W): one foreground channel.
                probabilities, targets = probabilities.unsqueeze(1), targets.unsqueeze(1)
            return probabilities.flatten(2), targets.flatten(2)
        if pred.dim() < 2 or target.shape != pred.shape[:1] + pred.shape[2:]:
            raise ValueError(
                f"multiclass dice needs pred (N, K, ...) and target (N, ...) of class indices, "
                f"found {tuple(pred.shape)} and {tuple(target.shape)}"
            )
        probabilities = torch.softmax(pred, dim=1) if self.from_logits else pred
        one_hot = F.one_hot(target.long(), pred.shape[1]).movedim(-1, 1).to(pred.dtype)
        return probabilities.flatten(2), one_hot.flatten(2)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probabilities, targets = self._probabilities_and_targets(pred, target)
        intersection = (probabilities * targets).sum(-1)
        total = probabilities.sum(-1) + targets.sum(-1)
        dice = (2 * intersection + self.smooth) / (total + self.smooth).clamp_min(torch.finfo(pred.dtype).tiny)
        return _reduce(1 - dice.mean(dim=1), self.reduction)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, smooth={self.smooth}, from_logits={self.from_logits}, reduction={self.reduction!r}"


class Dice(Loss):
    name = "dice"
    description = "Soft Dice loss for binary or multi-class segmentation."
    Args = DiceArgs

    @classmethod
    def build(cls, args: DiceArgs) -> DiceLoss:  # type: ignore[override]
        return DiceLoss(args)


class FocalArgs(BlockArgs):
    alpha: float | None = Field(
        default=0.25, ge=0.0, le=1.0, description="weight of the positive class in [0, 1]; null: no weighting"
    )
    gamma: float = Field(default=2.0, ge=0.0, description="focusing exponent; 0 gives binary cross-entropy")
    reduction: Reduction = "mean"


class FocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", 2017).

    Wraps ``torchvision.ops.sigmoid_focal_loss``. pred contains logits and
    target binary labels of the same shape. The output is a scalar, or of
    pred's shape with ``reduction='none'``.
    """

    def __init__(self, args: FocalArgs) -> None:
        super().__init__()
        # torchvision turns the alpha weighting off for a negative alpha.
        self.alpha = -1.0 if args.alpha is None else args.alpha
        self.gamma = args.gamma
        self.reduction = args.reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"focal loss needs pred and target of one shape, found {tuple(pred.shape)} and {tuple(target.shape)}")
        from torchvision.ops import sigmoid_focal_loss  # imported late, as in blocks.SqueezeExcitation.build

        return sigmoid_focal_loss(pred, target.to(pred.dtype), alpha=self.alpha, gamma=self.gamma, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


class Focal(Loss):
    name = "focal"
    description = "Sigmoid focal loss for dense binary or multi-label targets (torchvision.ops.sigmoid_focal_loss)."
    Args = FocalArgs

    @classmethod
    def build(cls, args: FocalArgs) -> FocalLoss:  # type: ignore[override]
        return FocalLoss(args)
