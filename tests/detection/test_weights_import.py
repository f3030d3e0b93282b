"""``cvgraph weights import mtcnn``: download, key map, column reorder, cache folder and errors."""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from cvgraph.cli import main
from cvgraph.detection.mtcnn_weights import (
    FACENET_WHEEL,
    MTCNN_KEY_MAP,
    NETWORKS,
    build_network,
    convert_state,
    default_cache_dir,
    download_wheel,
    flatten_input_shape,
    import_mtcnn,
    mtcnn_dir,
    read_facenet_state,
    weights_paths,
)
from cvgraph.errors import WeightsError
from cvgraph.weights import read_tensors


@pytest.fixture(scope="module")
def wheel(mtcnn_cache: Path) -> Path:
    return mtcnn_dir(mtcnn_cache) / FACENET_WHEEL


def test_cache_holds_three_safetensors_files(mtcnn_cache: Path) -> None:
    for network, path in weights_paths(mtcnn_cache).items():
        tensors, metadata = read_tensors(path)
        assert metadata["cvgraph.spec"] == f"mtcnn_{network}"
        assert metadata["source"] == f"facenet-pytorch 2.6.0 facenet_pytorch/data/{network}.pt"
        assert set(tensors) == set(build_network(network).state_dict())


def test_key_map_names_every_checkpoint_module(wheel: Path) -> None:
    for network in NETWORKS:
        modules = {key.rpartition(".")[0] for key in read_facenet_state(wheel, network)}
        assert modules == set(MTCNN_KEY_MAP[network]), network


def test_key_map_targets_are_spec_nodes() -> None:
    for network in NETWORKS:
        modules = {key.rpartition(".")[0] for key in build_network(network).state_dict()}
        assert set(MTCNN_KEY_MAP[network].values()) == modules, network


def test_flatten_input_shape_from_spec() -> None:
    assert flatten_input_shape("rnet") == (64, 3, 3)
    assert flatten_input_shape("onet") == (128, 3, 3)


def test_fc_columns_reordered_to_channels_first() -> None:
    # facenet-pytorch flattens (N, C, H, W) after permuting it to (N, W, H, C).
    channels, height, width = 5, 3, 2
    features = torch.randn(4, channels, height, width)
    weight_whc = torch.randn(7, channels * height * width)
    state = {"dense4.weight": weight_whc, "dense4.bias": torch.zeros(7)}
    converted = convert_state("rnet", state, (channels, height, width))
    theirs = features.permute(0, 3, 2, 1).reshape(4, -1) @ weight_whc.T
    ours = features.reshape(4, -1) @ converted["fc.weight"].T
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert set(converted) == {"fc.weight", "fc.bias"}


def test_convert_rejects_unknown_key() -> None:
    with pytest.raises(WeightsError) as raised:
        convert_state("pnet", {"conv9.weight": torch.zeros(1)}, (0, 0, 0))
    assert "conv9.weight" in raised.value.message


def test_convert_rejects_fc_of_wrong_width() -> None:
    with pytest.raises(WeightsError) as raised:
        convert_state("onet", {"dense5.weight": torch.zeros(256, 100)}, (128, 3, 3))
    assert "128x3x3" in raised.value.message


def test_import_from_local_wheel(wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["weights", "import", "mtcnn", "--cache", str(tmp_path), "--wheel", str(wheel)])
    output = capsys.readouterr().out
    assert status == 0
    for network, path in weights_paths(tmp_path).items():
        assert path.is_file()
        assert f"wrote {network}: {path}" in output
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []


def test_import_downloads_with_pip(mtcnn_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["weights", "import", "mtcnn", "--cache", str(tmp_path)])
    assert status == 0
    assert (mtcnn_dir(tmp_path) / FACENET_WHEEL).is_file()
    for path in weights_paths(tmp_path).values():
        assert path.is_file()


def test_import_uses_cvgraph_cache_variable(wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVGRAPH_CACHE", str(tmp_path / "from-env"))
    result = import_mtcnn(wheel=wheel)
    assert result.weights["pnet"] == tmp_path / "from-env" / "mtcnn" / "pnet.safetensors"
    assert result.weights["pnet"].is_file()


def test_default_cache_dir_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CVGRAPH_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "cvgraph" / "weights"


def test_download_reuses_wheel_in_folder(wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(wheel, tmp_path / FACENET_WHEEL)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert download_wheel(tmp_path) == tmp_path / FACENET_WHEEL


def test_download_failure_is_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", shutil.which("false") or "/bin/false")
    with pytest.raises(WeightsError) as raised:
        download_wheel(tmp_path)
    assert "pip download of facenet-pytorch==2.6.0 failed" in raised.value.message
    assert "--wheel" in raised.value.hint


def test_import_rejects_wheel_with_other_digest(tmp_path: Path) -> None:
    fake = tmp_path / FACENET_WHEEL
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("facenet_pytorch/data/pnet.pt", b"not a checkpoint")
    with pytest.raises(WeightsError) as raised:
        import_mtcnn(tmp_path / "cache", wheel=fake)
    assert "SHA-256" in raised.value.message
    assert not (tmp_path / "cache" / "mtcnn" / "pnet.safetensors").exists()


def test_import_rejects_missing_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["weights", "import", "mtcnn", "--cache", str(tmp_path), "--wheel", str(tmp_path / "none.whl")])
    error = capsys.readouterr().err
    assert status == 1
    assert "wheel file not found" in error


def test_read_rejects_archive_without_checkpoint(tmp_path: Path) -> None:
    archive_path = tmp_path / "other.whl"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("other/file.txt", "text")
    with pytest.raises(WeightsError) as raised:
        read_facenet_state(archive_path, "onet")
    assert "facenet_pytorch/data/onet.pt" in raised.value.message


def test_read_rejects_checkpoint_that_is_not_a_state_dict(tmp_path: Path) -> None:
    checkpoint = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], checkpoint)
    archive_path = tmp_path / "bad.whl"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.write(checkpoint, "facenet_pytorch/data/rnet.pt")
    with pytest.raises(WeightsError) as raised:
        read_facenet_state(archive_path, "rnet")
    assert "not a state_dict" in raised.value.message


def test_read_rejects_corrupt_archive(tmp_path: Path) -> None:
    archive_path = tmp_path / "corrupt.whl"
    archive_path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsError) as raised:
        read_facenet_state(archive_path, "pnet")
    assert "cannot read the wheel" in raised.value.message
