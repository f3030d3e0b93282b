"""Time per image of cvgraph's MTCNN against facenet-pytorch's MTCNN, in one process.

Both detectors run on the same photos with the same weights and settings.
Runs alternate between the two (and which one goes first alternates too), so
that drifting machine load affects both alike. The script prints the median
time per image of each detector and the ratio cvgraph / facenet-pytorch
(below 1.0: cvgraph is faster).

Usage::

    python benchmarks/bench_mtcnn.py [--cache DIR] [--repeats 15] [--threads N] [--clock wall|cpu]

The weights must be imported first (``cvgraph weights import mtcnn``); the
reference is facenet-pytorch installed with ``--no-deps``, else the wheel that
the import keeps in the cache.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tests" / "detection"))

from reference import installed_folder, load_reference, unpack_wheel  # noqa: E402

from cvgraph.detection import MTCNN  # noqa: E402
from cvgraph.detection.mtcnn_weights import FACENET_WHEEL, mtcnn_dir  # noqa: E402


def photos() -> dict[str, np.ndarray]:
    """Return the benchmark photos as (H, W, 3) uint8 RGB arrays."""
    import skimage.data

    faces = skimage.data.lfw_subset()
    mosaic = np.full((400, 400, 3), 128, np.uint8)
    for index, size in enumerate((100, 120, 140, 160)):
        face = Image.fromarray((faces[index] * 255).round().astype(np.uint8)).resize((size, size), Image.BICUBIC)
        row, column = divmod(index, 2)
        mosaic[row * 200 + 20:row * 200 + 20 + size, column * 200 + 20:column * 200 + 20 + size] = np.asarray(face)[..., None]
    return {
        "astronaut 512x512": skimage.data.astronaut(),
        "camera 512x512": np.repeat(skimage.data.camera()[..., None], 3, axis=2),
        "coffee 400x600": skimage.data.coffee(),
        "lfw mosaic 400x400": mosaic,
    }


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""wall: elapsed time; cpu: this process's CPU time, less sensitive to other processes' load."""


def seconds(function: Callable[[], object], clock: Callable[[], float]) -> float:
    start = clock()
    function()
    return clock() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="weights cache folder of 'cvgraph weights import'")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each detector per photo")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="what to time: elapsed or CPU time")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    folder = installed_folder()
    if folder is None:
        folder = unpack_wheel(mtcnn_dir(args.cache) / FACENET_WHEEL, Path(tempfile.mkdtemp(prefix="facenet-")))
    reference = load_reference(folder).MTCNN(keep_all=True, select_largest=False, device="cpu")
    ours = MTCNN.from_cache(args.cache)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, "
        f"{args.repeats} runs per photo and detector"
    )
    print(f"{'photo':<22}{'faces':>6}{'cvgraph ms':>12}{'facenet ms':>12}{'ratio':>8}")
    all_ours, all_theirs = [], []
    for name, image in photos().items():
        picture = Image.fromarray(image)
        faces = len(ours.detect_array(image))
        reference.detect(picture)
        times_ours, times_theirs = [], []
        for repeat in range(args.repeats):
            runs = [(times_ours, lambda: ours.detect_array(image)), (times_theirs, lambda: reference.detect(picture))]
            for times, run in runs if repeat % 2 == 0 else reversed(runs):
                times.append(seconds(run, CLOCKS[args.clock]))
        median_ours, median_theirs = statistics.median(times_ours), statistics.median(times_theirs)
        all_ours.extend(times_ours)
        all_theirs.extend(times_theirs)
        print(f"{name:<22}{faces:>6}{median_ours * 1e3:>12.1f}{median_theirs * 1e3:>12.1f}{median_ours / median_theirs:>8.2f}")
    median_ours, median_theirs = statistics.median(all_ours), statistics.median(all_theirs)
    print(f"{'all photos':<22}{'':>6}{median_ours * 1e3:>12.1f}{median_theirs * 1e3:>12.1f}{median_ours / median_theirs:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
