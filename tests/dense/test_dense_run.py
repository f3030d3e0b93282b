"""'cvgraph run' on segmentation specs: a colour class mask PNG beside each photo."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import cvgraph
from cvgraph.cli import main
from cvgraph.errors import SpecError
from cvgraph.images import to_tensor
from cvgraph.masks import class_palette, mask_path, write_mask

SMALL_FCN = ["--set", "params.width=8", "--set", "params.layers=[1, 1, 1, 1]", "--set", "params.num_classes=4"]


@pytest.fixture()
def chelsea_png(tmp_path):
    path = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()).save(path)
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_fcn_writes_palette_mask_beside_photo(chelsea_png, capsys):
    before = _digest(chelsea_png)
    status = main(["run", "fcn_resnet50", "--image", str(chelsea_png), "--size", "96", *SMALL_FCN])
    assert status == 0

    target = chelsea_png.with_name("chelsea.fcn_resnet50.mask.png")
    assert target.is_file()
    assert f"wrote {target}" in capsys.readouterr().out
    assert _digest(chelsea_png) == before
    with Image.open(target) as mask:
        assert mask.mode == "P"
        assert mask.size == (451, 300)
        labels = np.asarray(mask)
        palette = np.asarray(mask.getpalette()[:12]).reshape(4, 3)
    assert labels.max() < 4
    assert np.array_equal(palette, class_palette(4))
    assert [p.name for p in chelsea_png.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_run_mask_matches_model_argmax(chelsea_png, tmp_path):
    weights = tmp_path / "fcn.safetensors"
    model = cvgraph.build("fcn_resnet50", params={"width": 8, "layers": [1, 1, 1, 1], "num_classes": 4}).eval()
    cvgraph.save_weights(model, weights)
    assert main(["run", "fcn_resnet50", "--image", str(chelsea_png), "--size", "96", "--weights", str(weights), *SMALL_FCN]) == 0

    image = np.asarray(Image.open(chelsea_png).convert("RGB"))
    with torch.inference_mode():
        labels = model(to_tensor(image, (96, 96)))["out"].argmax(dim=1)[0].to(torch.uint8).numpy()
    expected = np.asarray(Image.fromarray(labels).resize((451, 300), Image.Resampling.NEAREST))
    with Image.open(mask_path(chelsea_png, "fcn_resnet50")) as mask:
        assert np.array_equal(np.asarray(mask), expected)


def test_write_mask_refuses_to_overwrite_photo(chelsea_png):
    before = _digest(chelsea_png)
    with pytest.raises(SpecError) as caught:
        write_mask(np.zeros((4, 4), dtype=np.uint8), chelsea_png, 2, source=chelsea_png)
    assert caught.value.message == "the mask would overwrite the input image"
    assert _digest(chelsea_png) == before


def test_write_mask_failure_keeps_previous_mask(chelsea_png, monkeypatch):
    target = mask_path(chelsea_png, "spec")
    write_mask(np.ones((4, 4), dtype=np.uint8), target, 2, source=chelsea_png)
    before = _digest(target)

    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        write_mask(np.zeros((4, 4), dtype=np.uint8), target, 2, source=chelsea_png)
    assert _digest(target) == before
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_run_rejects_feature_map_output(chelsea_png, capsys):
    status = main(["run", "resnet50_fpn", "--image", str(chelsea_png), "--size", "64"])
    assert status == 1
    assert "cannot report output 'p2' of type FeatureMap" in capsys.readouterr().err


def test_class_palette_is_distinct():
    palette = class_palette(256)
    assert palette[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in palette.tolist()}) == 256
