"""cvgraph: convolutional networks for vision as declarative graph specs.

Typical use::

    import cvgraph
    model = cvgraph.build("resnet50", params={"num_classes": 10})
    print(cvgraph.infer_shapes("resnet50", {"image": "1x3x224x224"}).outputs)
"""

from __future__ import annotations

from .api import build, infer_shapes
from .block import Block, BlockArgs, BuildContext, IntPair, ReceptiveFieldStep
from .compiler import ModelInfo, model_info
from .components import head, loss
from .errors import Location, PluginError, ResourceError, ShapeError, SpecError, WeightsError
from .hookspecs import hookimpl
from .limits import Limits, ResourceLimits
from .loss import Loss
from .optimize import optimize_for_inference
from .pipeline import Spec, load_spec
from .registry import PluginWarning, Registry, default_registry, new_registry
from .shapes import Boxes, ClassMap, FeatureMap, Shape, Tensor, Vector
from .weights import load_weights, save_weights

__all__ = [
    "build",
    "load_spec",
    "infer_shapes",
    "save_weights",
    "load_weights",
    "optimize_for_inference",
    "loss",
    "head",
    "Spec",
    "Block",
    "BlockArgs",
    "BuildContext",
    "IntPair",
    "ReceptiveFieldStep",
    "Loss",
    "ModelInfo",
    "model_info",
    "Registry",
    "default_registry",
    "new_registry",
    "PluginWarning",
    "hookimpl",
    "Shape",
    "FeatureMap",
    "Vector",
    "ClassMap",
    "Boxes",
    "Tensor",
    "Location",
    "SpecError",
    "ShapeError",
    "WeightsError",
    "PluginError",
    "ResourceError",
    "Limits",
    "ResourceLimits",
]

