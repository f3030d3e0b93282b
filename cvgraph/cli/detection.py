"""Detection commands: ``cvgraph weights import mtcnn`` and ``cvgraph detect mtcnn``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import Command

__all__ = ["COMMANDS"]


# weights --------------------------------------------------------------------


def _import_mtcnn(args: argparse.Namespace) -> int:
    from ..detection.mtcnn_weights import import_mtcnn

    result = import_mtcnn(args.cache, wheel=args.wheel)
    print(f"read {result.wheel}")
    for network, path in result.weights.items():
        print(f"wrote {network}: {path}")
    return 0


IMPORTERS = {"mtcnn": _import_mtcnn}
"""Model name -> the function that imports its published weights."""


def _weights_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    importer = actions.add_parser(
        "import",
        help="fetch published weights and convert them to safetensors for cvgraph's specs",
        description="Fetch published weights and convert them to safetensors for cvgraph's specs.",
    )
    importer.add_argument("model", choices=sorted(IMPORTERS), help="the model whose weights to import")
    importer.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache folder (default: $CVGRAPH_CACHE, else ~/.cache/cvgraph/weights)",
    )
    importer.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="a facenet-pytorch 2.6.0 wheel already downloaded, to import without network access",
    )


def _weights(args: argparse.Namespace) -> int:
    return IMPORTERS[args.model](args)


# detect ---------------------------------------------------------------------


def _detect_arguments(parser: argparse.ArgumentParser) -> None:
    from ..detection import DETECTORS

    parser.add_argument("detector", choices=sorted(DETECTORS), help="the detector to run")
    parser.add_argument("--image", required=True, type=Path, help="image file (PNG, JPEG, ...; RGB, grayscale or RGBA)")
    parser.add_argument("--out", type=Path, default=None, help="write the image annotated with boxes, scores and landmarks here")
    parser.add_argument("--json", type=Path, default=None, help="write the detections as JSON here")
    parser.add_argument("--min-face-size", type=float, default=None, help="smallest face side to search for, in pixels (default 20)")
    parser.add_argument("--scale-factor", type=float, default=None, help="ratio of sizes between pyramid levels, in (0, 1) (default 0.709)")
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs=3,
        default=None,
        metavar=("PNET", "RNET", "ONET"),
        help="minimum face probability of each stage, in [0, 1] (default 0.6 0.7 0.7)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="weights cache folder (default: $CVGRAPH_CACHE, else ~/.cache/cvgraph/weights)",
    )


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if args.min_face_size is not None:
        settings["min_face_size"] = args.min_face_size
    if args.scale_factor is not None:
        settings["scale_factor"] = args.scale_factor
    if args.thresholds is not None:
        settings["thresholds"] = tuple(args.thresholds)
    return settings


def _image_format(path: Path) -> str:
    """Return Pillow's format name for an output file's extension.

    Raises:
        SpecError: for an extension that Pillow does not write.
    """
    from PIL import Image

    from ..errors import Location, SpecError

    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None or image_format not in Image.SAVE:
        raise SpecError(
            f"--out: cannot write an image with extension {path.suffix or '(none)'!r}",
            location=Location(str(path)),
            hint="name the output file with an image extension such as .png or .jpg",
        )
    return image_format


def _detect(args: argparse.Namespace) -> int:
    from ..detection import DETECTORS
    from ..detection.annotate import draw_faces
    from ..images import read_image
    from ..weights import atomic_write

    image_format = _image_format(args.out) if args.out is not None else None
    image = read_image(args.image)
    detector = DETECTORS[args.detector].from_cache(args.cache, config=_settings(args), config_source="<command line>")
    faces = detector.detect_array(image)

    print(f"{args.image}: {len(faces)} face{'' if len(faces) == 1 else 's'}")
    for index, face in enumerate(faces.to_dicts(), start=1):
        x1, y1, x2, y2 = face["box"]
        print(f"  {index}. score {face['score']:.4f}  box ({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f})")

    if args.json is not None:
        record = {
            "image": str(args.image),
            "height": int(image.shape[0]),
            "width": int(image.shape[1]),
            "detector": args.detector,
            "settings": detector.config.model_dump(mode="json"),
            "faces": faces.to_dicts(),
        }
        text = json.dumps(record, indent=2) + "\n"
        atomic_write(args.json, lambda temporary: temporary.write_text(text))
    if args.out is not None:
        annotated = draw_faces(image, faces)
        atomic_write(args.out, lambda temporary: annotated.save(temporary, format=image_format))
    return 0


COMMANDS = [
    Command("weights", "Import published weights into cvgraph's safetensors cache.", _weights_arguments, _weights),
    Command("detect", "Detect objects (faces with mtcnn) in an image; print, draw and save them.", _detect_arguments, _detect),
]
