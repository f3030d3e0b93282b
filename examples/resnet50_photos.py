"""Build ResNet-50 from its spec, print its summary and run it on real photos.

The photos come from scikit-image (astronaut, coffee, chelsea). No pretrained
ResNet weights can be downloaded here, so the model has random weights unless
``--weights FILE`` names a safetensors file: the script shows the pipeline,
not ImageNet accuracy.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cvgraph
from cvgraph.runner import run_images
from cvgraph.summary import summarize


def save_photos(folder: Path) -> list[Path]:
    from PIL import Image
    from skimage import data

    paths = []
    for name in ("astronaut", "coffee", "chelsea"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(data, name)()).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="safetensors weights for resnet50")
    args = parser.parse_args()

    spec = cvgraph.load_spec("resnet50")
    print(summarize(spec, {"image": "1x3x224x224"}).to_text())

    with tempfile.TemporaryDirectory() as folder:
        for line in run_images(spec, save_photos(Path(folder)), weights=args.weights, topk=3):
            print(line.replace(folder + "/", ""))


if __name__ == "__main__":
    main()
