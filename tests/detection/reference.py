"""Load facenet-pytorch's MTCNN as the reference implementation, without its dependencies.

facenet-pytorch's package ``__init__`` also imports its face-recognition
model, which needs ``requests``, a package that neither cvgraph nor its
tests use. The MTCNN code itself needs only torch, torchvision, numpy and
Pillow. So the reference is imported as a private package (``_facenet_reference``)
whose ``__path__`` is facenet-pytorch's folder and whose ``__init__`` is not
run: either the installed package (``pip install --no-deps facenet-pytorch==2.6.0``)
or the wheel that ``cvgraph weights import mtcnn`` keeps in its cache,
unpacked into a temporary folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import zipfile
from pathlib import Path

PACKAGE = "_facenet_reference"


def installed_folder() -> Path | None:
    """Return the folder of an installed facenet_pytorch, without importing it."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def unpack_wheel(wheel: Path, destination: Path) -> Path:
    """Unpack the wheel's ``facenet_pytorch`` folder into ``destination``; return that folder."""
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith("facenet_pytorch/")]
        archive.extractall(destination, members=members)
    return destination / "facenet_pytorch"


def load_reference(folder: Path) -> types.ModuleType:
    """Import ``models/mtcnn.py`` of a facenet_pytorch folder; return that module."""
    if PACKAGE not in sys.modules:
        package = types.ModuleType(PACKAGE)
        package.__path__ = [str(folder)]  # type: ignore[attr-defined]
        sys.modules[PACKAGE] = package
    return importlib.import_module(f"{PACKAGE}.models.mtcnn")
