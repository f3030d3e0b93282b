"""cvgraph-attention: an example cvgraph plugin.

Registers, under the namespace ``attention`` (its entry-point name):
Squeeze-and-Excitation (``se``) and CBAM (``cbam``) blocks, a classification
head (``classifier``), Dice and focal losses (``dice``, ``focal``) and the
specs ``se_resnet50`` and ``cbam_resnet18``.
"""

from __future__ import annotations

from pathlib import Path

import cvgraph

from .blocks import CBAM, SqueezeExcitation
from .heads import ClassificationHead
from .losses import Dice, Focal

__all__ = ["SqueezeExcitation", "CBAM", "ClassificationHead", "Dice", "Focal"]

__version__ = "0.1.0"


@cvgraph.hookimpl
def cvgraph_plugin_api_version() -> int:
    # The version this plugin was written for, not cvgraph's current one.
    return 1


@cvgraph.hookimpl
def cvgraph_blocks() -> list[type]:
    return [SqueezeExcitation, CBAM]


@cvgraph.hookimpl
def cvgraph_heads() -> list[type]:
    return [ClassificationHead]


@cvgraph.hookimpl
def cvgraph_losses() -> list[type]:
    return [Dice, Focal]


@cvgraph.hookimpl
def cvgraph_spec_dirs() -> list[Path]:
    return [Path(__file__).parent / "specs"]
