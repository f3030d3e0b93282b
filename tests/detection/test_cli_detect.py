"""``cvgraph detect mtcnn``: outputs, image kinds, settings and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvgraph.cli import main

from .conftest import PHOTOS


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write the test photos as files: RGB, grayscale (mode L), RGBA and a JPEG."""
    folder = tmp_path_factory.mktemp("photos")
    import skimage.data

    files = {
        "astronaut": folder / "astronaut.png",
        "camera_gray": folder / "camera.png",
        "astronaut_rgba": folder / "astronaut_rgba.png",
        "coffee": folder / "coffee.jpg",
        "mosaic": folder / "mosaic.png",
    }
    Image.fromarray(PHOTOS["astronaut"]()).save(files["astronaut"])
    Image.fromarray(skimage.data.camera()).save(files["camera_gray"])
    astronaut = PHOTOS["astronaut"]()
    alpha = np.full(astronaut.shape[:2] + (1,), 180, np.uint8)
    Image.fromarray(np.concatenate([astronaut, alpha], axis=2)).save(files["astronaut_rgba"])
    Image.fromarray(PHOTOS["coffee"]()).save(files["coffee"], quality=95)
    Image.fromarray(PHOTOS["lfw_mosaic"]()).save(files["mosaic"])
    return files


def _detect(cache: Path, *arguments: str) -> list[str]:
    return ["detect", "mtcnn", "--cache", str(cache), *arguments]


def test_detect_prints_writes_json_and_annotated_image(
    mtcnn_cache: Path, photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, record = tmp_path / "annotated.png", tmp_path / "faces.json"
    status = main(_detect(mtcnn_cache, "--image", str(photos["astronaut"]), "--out", str(out), "--json", str(record)))
    printed = capsys.readouterr().out
    assert status == 0
    assert "1 face" in printed
    data = json.loads(record.read_text())
    assert (data["height"], data["width"]) == (512, 512)
    assert len(data["faces"]) == 1
    x1, y1, x2, y2 = data["faces"][0]["box"]
    assert 170 < x1 < x2 < 280
    assert 50 < y1 < y2 < 185
    assert len(data["faces"][0]["landmarks"]) == 5
    annotated = np.asarray(Image.open(out).convert("RGB"))
    original = PHOTOS["astronaut"]()
    assert annotated.shape == original.shape
    changed = np.any(annotated != original, axis=2)
    assert changed[int(y1) - 3:int(y2) + 3, int(x1) - 3:int(x2) + 3].any()
    assert not changed[300:, :].any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.png", "faces.json"]


@pytest.mark.parametrize("name", ["camera_gray", "astronaut_rgba"])
def test_detect_reads_grayscale_and_rgba(
    mtcnn_cache: Path, photos: dict[str, Path], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(_detect(mtcnn_cache, "--image", str(photos[name])))
    assert status == 0
    assert ": 1 face\n" in capsys.readouterr().out


def test_detect_finds_every_mosaic_face(
    mtcnn_cache: Path, photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "faces.json"
    status = main(_detect(mtcnn_cache, "--image", str(photos["mosaic"]), "--json", str(record)))
    assert status == 0
    assert "4 faces" in capsys.readouterr().out
    assert len(json.loads(record.read_text())["faces"]) == 4


def test_detect_without_face_exits_zero(
    mtcnn_cache: Path, photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record, out = tmp_path / "faces.json", tmp_path / "coffee.png"
    status = main(_detect(mtcnn_cache, "--image", str(photos["coffee"]), "--json", str(record), "--out", str(out)))
    assert status == 0
    assert "0 faces" in capsys.readouterr().out
    assert json.loads(record.read_text())["faces"] == []
    assert out.is_file()


def test_detect_min_face_size_option(mtcnn_cache: Path, photos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    status = main(_detect(mtcnn_cache, "--image", str(photos["astronaut"]), "--min-face-size", "300"))
    assert status == 0
    assert "0 faces" in capsys.readouterr().out


def test_detect_thresholds_option(
    mtcnn_cache: Path, photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "faces.json"
    status = main(_detect(mtcnn_cache, "--image", str(photos["mosaic"]), "--thresholds", "0.6", "0.7", "0.9999",
                          "--json", str(record)))
    data = json.loads(record.read_text())
    assert status == 0
    assert data["settings"]["thresholds"] == [0.6, 0.7, 0.9999]
    assert all(face["score"] > 0.9999 for face in data["faces"])
    assert len(data["faces"]) < 4
    capsys.readouterr()


def test_detect_replaces_existing_json(mtcnn_cache: Path, photos: dict[str, Path], tmp_path: Path) -> None:
    record = tmp_path / "faces.json"
    record.write_text("old")
    assert main(_detect(mtcnn_cache, "--image", str(photos["coffee"]), "--json", str(record))) == 0
    assert json.loads(record.read_text())["faces"] == []


@pytest.mark.parametrize("arguments, message", [
    (["--image", "{missing}"], "image file not found"),
    (["--image", "{garbage}"], "cannot read the image"),
    (["--image", "{astronaut}", "--thresholds", "0.6", "1.7", "0.7"], "invalid 'thresholds'"),
    (["--image", "{astronaut}", "--min-face-size", "-3"], "invalid 'min_face_size'"),
    (["--image", "{astronaut}", "--out", "{folder}/annotated.xyz"], "cannot write an image with extension '.xyz'"),
])
def test_detect_errors_are_one_line(
    mtcnn_cache: Path,
    photos: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a PNG")
    names = {"missing": str(tmp_path / "missing.png"), "garbage": str(garbage),
             "astronaut": str(photos["astronaut"]), "folder": str(tmp_path)}
    status = main(_detect(mtcnn_cache, *(argument.format(**names) for argument in arguments)))
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert message in captured.err.splitlines()[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "annotated.xyz").exists()


def test_detect_without_weights_names_import_command(
    photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(_detect(tmp_path, "--image", str(photos["astronaut"])))
    error = capsys.readouterr().err
    assert status == 1
    assert "MTCNN weights are not in the cache" in error
    assert f"cvgraph weights import mtcnn --cache {tmp_path}" in error


def test_detect_rejects_unknown_detector(capsys: pytest.CaptureFixture[str], photos: dict[str, Path]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["detect", "retinaface", "--image", str(photos["astronaut"])])
    assert raised.value.code == 2
    assert "invalid choice: 'retinaface'" in capsys.readouterr().err
