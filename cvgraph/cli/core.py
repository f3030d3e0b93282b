"""The core commands: validate, summary, graph, run, schema, zoo."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import Command

__all__ = ["COMMANDS"]


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="spec file (.yaml, .json) or zoo name such as resnet50")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec key, such as params.num_classes=10 (repeatable)",
    )
    parser.add_argument(
        "--max-params",
        metavar="N",
        help="reject specs with more parameters than N, such as 2G (default: $CVGRAPH_MAX_PARAMS or 1G)",
    )
    parser.add_argument(
        "--max-activation-bytes",
        metavar="BYTES",
        help="reject specs whose node outputs need more bytes than this, such as 8GiB "
        "(default: $CVGRAPH_MAX_ACTIVATION_BYTES or 16GiB)",
    )


def _resource_limits(args: argparse.Namespace, batch: int = 1) -> Any:
    from ..limits import ResourceLimits, parse_size

    return ResourceLimits.from_env(
        max_params=parse_size(args.max_params, "--max-params") if args.max_params else None,
        max_activation_bytes=parse_size(args.max_activation_bytes, "--max-activation-bytes")
        if args.max_activation_bytes
        else None,
        batch_size=batch,
    )


def _positive_int(text: str) -> int:
    """Parse a command-line integer that must be at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {value}")
    return value


def _load(args: argparse.Namespace) -> Any:
    from ..pipeline import load_spec, parse_override

    overrides = dict(parse_override(text) for text in args.overrides)
    return load_spec(args.spec, overrides=overrides)


def _input_shapes(spec: Any, text: str | list[str] | None) -> dict[str, str] | None:
    """Map ``--input`` values to inputs: a bare size is the first input's, ``name=NxCxHxW`` names one.

    Several inputs are given by repeating ``--input`` or by joining with commas.
    """
    if not text:
        return None
    items = [part for value in ([text] if isinstance(text, str) else text) for part in value.split(",")]
    shapes = {}
    for item in items:
        name, sep, size = item.partition("=")
        if sep:
            shapes[name.strip()] = size.strip()
        else:
            shapes[next(iter(spec.inputs))] = item.strip()
    return shapes


def _batch(text: str | list[str] | None) -> int:
    if not text:
        return 1
    first = (text if isinstance(text, str) else text[0]).split(",")[0]
    size = first.partition("=")[2] or first
    parts = size.lower().split("x")
    return int(parts[0]) if len(parts) == 4 and parts[0].isdigit() else 1


# validate -------------------------------------------------------------------


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    _add_spec_arguments(parser)
    parser.add_argument(
        "--input", action="append", help="input size to check, such as 1x3x224x224 or name=1x3x224x224 (repeatable; default: any size)"
    )


_SIZE_SCAN_BUDGET = 2_000_000
"""Node inferences 'cvgraph validate' may spend listing the valid input sizes."""


def _validate(args: argparse.Namespace) -> int:
    from ..compiler import check_buildable
    from ..infer import describe_valid_sizes, infer_shapes, valid_sizes
    from ..shapes import describe

    spec = _load(args)
    report = infer_shapes(spec, _input_shapes(spec, args.input))
    estimate = check_buildable(spec, report, _resource_limits(args, _batch(args.input)))
    print(f"{spec.name}: valid ({len(report.graph.order)} nodes)")
    print(f"  estimate: {estimate.describe()}")
    for name, shape in report.inputs.items():
        print(f"  input  {name}: {describe(shape)}")
    for name, shape in report.outputs.items():
        print(f"  output {name}: {describe(shape)}")
    if args.input is None:
        free = [n for n, s in report.inputs.items() if getattr(s, "height", 0) is None]
        if free:
            # Each size is one inference of the whole graph: scan fewer sizes for huge graphs.
            max_size = max(8, min(512, _SIZE_SCAN_BUDGET // max(1, len(report.graph.order))))
            sizes = valid_sizes(spec, max_size, graph=report.graph)
            print(f"  input sizes (square, up to {max_size}): {describe_valid_sizes(sizes, max_size)}")
    return 0


# summary --------------------------------------------------------------------


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    _add_spec_arguments(parser)
    parser.add_argument(
        "--input", action="append", help="input size NxCxHxW such as 1x3x224x224, or name=NxCxHxW (repeatable; default 224x224)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _summary(args: argparse.Namespace) -> int:
    from ..summary import summarize

    spec = _load(args)
    shapes = _input_shapes(spec, args.input) or {}
    # Inputs left free in the spec and not given get 224x224, so that every node has a size.
    for name, declared in spec.inputs.items():
        shapes.setdefault(name, f"1x{declared.channels}x{declared.height or 224}x{declared.width or 224}")
    summary = summarize(spec, shapes, batch=_batch(args.input), limits=_resource_limits(args))
    print(json.dumps(summary.to_dict(), indent=2) if args.json else summary.to_text())
    return 0


# graph ----------------------------------------------------------------------


def _graph_arguments(parser: argparse.ArgumentParser) -> None:
    _add_spec_arguments(parser)
    parser.add_argument("--format", choices=("mermaid", "dot"), default="mermaid", help="output language")
    parser.add_argument("--input", action="append", help="input size, to label edges with shapes (repeatable, name=NxCxHxW)")


def _graph(args: argparse.Namespace) -> int:
    from ..compiler import check_buildable
    from ..drawing import to_dot, to_mermaid
    from ..infer import infer_shapes

    spec = _load(args)
    report = infer_shapes(spec, _input_shapes(spec, args.input))
    check_buildable(spec, report, _resource_limits(args))
    print(to_mermaid(spec, report) if args.format == "mermaid" else to_dot(spec, report))
    return 0


# run ------------------------------------------------------------------------


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _add_spec_arguments(parser)
    parser.add_argument("--image", required=True, action="append", help="image file (repeatable)")
    parser.add_argument("--weights", help="safetensors file to load")
    parser.add_argument("--topk", type=_positive_int, default=5, help="how many classes to print per image (classification specs)")
    parser.add_argument("--ignore-fingerprint", action="store_true", help="load weights saved from another version of the spec")
    parser.add_argument("--size", type=int, default=224, help="input height and width in pixels, when the spec leaves them free")


def _run(args: argparse.Namespace) -> int:
    from ..runner import run_images

    spec = _load(args)
    lines = run_images(
        spec, args.image, weights=args.weights, topk=args.topk, size=args.size, check_fingerprint=not args.ignore_fingerprint,
        limits=_resource_limits(args),
    )
    for line in lines:
        print(line)
    return 0


# schema ---------------------------------------------------------------------


def _schema_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", help="write to this file instead of standard output")


def _schema(args: argparse.Namespace) -> int:
    from ..registry import default_registry
    from ..schema import spec_schema
    from ..weights import atomic_write

    text = json.dumps(spec_schema(default_registry()), indent=2)
    if args.output:
        from pathlib import Path

        atomic_write(Path(args.output), lambda temporary: temporary.write_text(text + "\n"))
    else:
        sys.stdout.write(text + "\n")
    return 0


# export ---------------------------------------------------------------------


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _add_spec_arguments(parser)
    parser.add_argument("--input", default="1x3x224x224", help="example input size NxCxHxW (default 1x3x224x224)")
    parser.add_argument("--format", choices=("pt2", "onnx"), default=None, help="torch.export program or ONNX (default: from the file suffix)")
    parser.add_argument("--dynamic-batch", action="store_true", help="let the exported model take any batch size")
    parser.add_argument("--weights", help="safetensors weights to load before export")
    parser.add_argument("--ignore-fingerprint", action="store_true", help="load weights saved from another version of the spec")
    parser.add_argument("--output", "-o", required=True, help="file to write (.pt2 or .onnx)")


def _export(args: argparse.Namespace) -> int:
    from ..compiler import compile_spec
    from ..export import export_model
    from ..weights import load_weights

    spec = _load(args)
    model = compile_spec(spec, _input_shapes(spec, args.input))
    if args.weights:
        load_weights(model, args.weights, check_fingerprint=not args.ignore_fingerprint)
    path = export_model(model, args.output, format=args.format, batch=_batch(args.input), dynamic_batch=args.dynamic_batch)
    print(f"wrote {path}")
    return 0


# zoo ------------------------------------------------------------------------


def _zoo_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _zoo(args: argparse.Namespace) -> int:
    from ..registry import default_registry
    from ..zoo import zoo_names

    for name in zoo_names(default_registry()):
        print(name)
    return 0


COMMANDS = [
    Command("validate", "Check a spec and infer its shapes without building weights.", _validate_arguments, _validate),
    Command("summary", "Print each node's block, output shape, parameters and MACs.", _summary_arguments, _summary),
    Command("graph", "Print the graph in Mermaid or Graphviz dot.", _graph_arguments, _graph),
    Command(
        "run",
        "Run a spec on images: print the top classes, or write a colour class mask PNG beside each image.",
        _run_arguments,
        _run,
    ),
    Command("schema", "Print the JSON Schema of specs, with every registered block's args.", _schema_arguments, _schema),
    Command("export", "Export a spec's model as a torch.export program (.pt2) or ONNX.", _export_arguments, _export),
    Command("zoo", "List the spec names of the zoo and of installed plugins.", _zoo_arguments, _zoo),
]
