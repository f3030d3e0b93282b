"""The built-in block library, registered through the same pluggy hooks as any plugin.

Installed as ``cvgraph.blocks`` (the source folder is ``blocks/``).
"""

from __future__ import annotations

from pathlib import Path

from cvgraph.hookspecs import PLUGIN_API_VERSION, hookimpl

from .activation import GELU, Dropout, Identity, LeakyReLU, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh
from .conv import Conv2d, ConvTranspose2d
from .linear import Flatten, Linear
from .merge import Add, Concat, WeightedFusion
from .norm import BatchNorm2d, FrozenBatchNorm2d, GroupNorm
from .pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool, MaxPool2d, MaxPool2dWithIndices, MaxUnpool2d
from .resample import CenterCrop, Upsample
from .segmentation import ClassMapHead

BLOCKS = [
    Conv2d,
    ConvTranspose2d,
    BatchNorm2d,
    FrozenBatchNorm2d,
    GroupNorm,
    ReLU,
    ReLU6,
    LeakyReLU,
    PReLU,
    Sigmoid,
    Tanh,
    SiLU,
    GELU,
    Softmax,
    Identity,
    Dropout,
    MaxPool2d,
    MaxPool2dWithIndices,
    MaxUnpool2d,
    AvgPool2d,
    AdaptiveAvgPool2d,
    GlobalAvgPool,
    Flatten,
    Linear,
    Add,
    Concat,
    WeightedFusion,
    Upsample,
    CenterCrop,
    ClassMapHead,
]


@hookimpl
def cvgraph_plugin_api_version() -> int:
    return PLUGIN_API_VERSION


@hookimpl
def cvgraph_blocks() -> list[type]:
    return list(BLOCKS)


@hookimpl
def cvgraph_spec_dirs() -> list[Path]:
    from cvgraph import specs

    return [Path(specs.__file__).parent]
