"""Channel and spatial attention blocks: Squeeze-and-Excitation and CBAM.

Both re-weight a feature map and return it with its shape unchanged, so they
can sit anywhere in a residual branch.

Glossary: N batch, C channels, H height, W width (pixels), C/r the hidden
width of the attention MLP for a reduction ratio r.
"""

from __future__ import annotations

from typing import Sequence

import torch
from pydantic import Field, model_validator
from torch import nn

from cvgraph import Block, BlockArgs, BuildContext, FeatureMap, ShapeError, Shape
from cvgraph.block import expect_feature_map

__all__ = ["SqueezeExcitation", "CBAM", "ChannelSpatialAttention", "hidden_channels"]


def hidden_channels(channels: int, reduction: int) -> int:
    """Return C/r, the hidden width of the attention MLP.

    Raises:
        ShapeError: when ``reduction`` leaves no hidden channel (``channels < reduction``).
    """
    if channels < reduction:
        raise ShapeError(
            f"reduction {reduction} leaves no hidden channel for an input of {channels} channels",
            expected=f"channels >= reduction ({reduction})",
            found=f"{channels} channels",
            hint=f"set 'reduction' to at most {channels}",
        )
    return channels // reduction


class AttentionArgs(BlockArgs):
    reduction: int = Field(default=16, ge=1, description="r: the attention MLP has C/r hidden channels")


class SqueezeExcitation(Block):
    """Squeeze-and-Excitation (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018).

    Squeeze: average each channel over H and W. Excite: a two-layer MLP
    (C -> C/r -> C, ReLU then sigmoid) gives one weight in (0, 1) per channel,
    which scales that channel of the input. (N, C, H, W) -> (N, C, H, W).
    The module is ``torchvision.ops.SqueezeExcitation``, whose MLP layers are
    1x1 convolutions ``fc1`` and ``fc2`` with biases.
    """

    name = "se"
    description = "Squeeze-and-Excitation channel attention (Hu et al., 2018); output shape = input shape."
    Args = AttentionArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: AttentionArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        hidden_channels(x.channels, args.reduction)
        return x

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: AttentionArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        # Imported here because importing torchvision takes about 2 s (python -X importtime,
        # 2-core machine), which every cvgraph command would pay once this plugin is installed.
        from torchvision.ops import SqueezeExcitation as TorchvisionSE

        x = expect_feature_map(inputs[0])
        return TorchvisionSE(x.channels, hidden_channels(x.channels, args.reduction))

    @classmethod
    def macs(cls, inputs: Sequence[Shape], output: FeatureMap, args: AttentionArgs) -> int:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        mlp = 2 * x.channels * hidden_channels(x.channels, args.reduction)
        scale = x.channels * x.height * x.width if x.height and x.width else 0
        return mlp + scale

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: AttentionArgs) -> int:
        channels = expect_feature_map(inputs[0]).channels
        hidden = hidden_channels(channels, args.reduction)
        return 2 * channels * hidden + hidden + channels


class CBAMArgs(AttentionArgs):
    spatial_kernel_size: int = Field(default=7, ge=1, description="odd size of the spatial attention convolution")

    @model_validator(mode="after")
    def _odd_kernel(self) -> "CBAMArgs":
        if self.spatial_kernel_size % 2 == 0:
            raise ValueError(
                f"spatial_kernel_size must be odd so the attention map keeps the input size, "
                f"found {self.spatial_kernel_size}"
            )
        return self


class ChannelSpatialAttention(nn.Module):
    """CBAM: channel attention, then spatial attention, each a sigmoid gate.

    Channel gate: ``sigmoid(mlp(avgpool(x)) + mlp(maxpool(x)))`` of shape
    (N, C, 1, 1), with one MLP (1x1 convolutions C -> C/r -> C) shared by both
    pooled descriptors. Spatial gate: ``sigmoid(conv([mean_c(x), max_c(x)]))``
    of shape (N, 1, H, W), from a k x k convolution over the channel-wise
    mean and maximum.
    """

    def __init__(self, channels: int, hidden: int, spatial_kernel_size: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )
        # NOTE: Woo et al. describe this layer as a plain convolution and sigmoid;
        # their public code adds a BatchNorm after it, which this module leaves out.
        self.spatial = nn.Conv2d(2, 1, spatial_kernel_size, padding=spatial_kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        average = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        maximum = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        x = x * torch.sigmoid(average + maximum)

        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(Block):
    """Convolutional Block Attention Module (Woo et al., "CBAM", ECCV 2018).

    (N, C, H, W) -> (N, C, H, W); see :class:`ChannelSpatialAttention`.
    """

    name = "cbam"
    description = "CBAM channel then spatial attention (Woo et al., 2018); output shape = input shape."
    Args = CBAMArgs

    @classmethod
    def infer(cls, inputs: Sequence[Shape], args: CBAMArgs) -> FeatureMap:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        hidden_channels(x.channels, args.reduction)
        return x

    @classmethod
    def build(cls, inputs: Sequence[Shape], args: CBAMArgs, ctx: BuildContext) -> nn.Module:  # type: ignore[override]
        x = expect_feature_map(inputs[0])
        return ChannelSpatialAttention(x.channels, hidden_channels(x.channels, args.reduction), args.spatial_kernel_size)

    @classmethod
    def num_params(cls, inputs: Sequence[Shape], args: CBAMArgs) -> int:
        channels = expect_feature_map(inputs[0]).channels
        hidden = hidden_channels(channels, args.reduction)
        return 2 * channels * hidden + hidden + channels + 2 * args.spatial_kernel_size**2
