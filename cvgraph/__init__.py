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
from .errors import Location, PluginError, ShapeError, SpecError, WeightsError
from .hookspecs import hookimpl
from .loss import Loss
from .pipeline import Spec, load_spec
from .registry import Registry, default_registry, new_registry
from .shapes import Boxes, ClassMap, FeatureMap, Shape, Tensor, Vector
from .weights import load_weights, save_weights

__all__ = [
    "build",
    "load_spec",
    "infer_shapes",
    "save_weights",
    "load_weights",
    "loss",
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
]


def loss(name: str, registry: Registry | None = None, **kwargs: object) -> object:
    """Build a registered loss by name, validating its arguments.

    Example: ``cvgraph.loss("dice", smooth=1.0)``.

    Raises:
        SpecError: for an unknown name or invalid arguments.
    """
    from .validation import validate_model

    cls = (registry or default_registry()).loss(name)
    args = validate_model(cls.Args, dict(kwargs), what=f"args of loss '{cls.name}'")
    return cls.build(args)
