"""Corrupt, foreign and half-written weights files give a WeightsError naming the file and tensor."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import cvgraph
from cvgraph import WeightsError
from cvgraph.weights import ALIASES_KEY

SPEC = {
    "name": "small",
    "inputs": {"image": {"channels": 3, "height": 8, "width": 8}},
    "nodes": {
        "conv": {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 3}},
        "bn": {"block": "batchnorm2d"},
        "pool": {"block": "global_avgpool"},
        "fc": {"block": "linear", "args": {"out_features": 2}},
    },
}


@pytest.fixture
def model():
    torch.manual_seed(0)
    return cvgraph.build(SPEC)


@pytest.fixture
def saved(model, tmp_path):
    return cvgraph.save_weights(model, tmp_path / "small.safetensors")


def test_truncated_file_names_file_and_tensor(model, saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) - 20])

    with pytest.raises(WeightsError) as caught:
        cvgraph.load_weights(model, saved)

    assert caught.value.file == str(saved)
    assert "at tensor 'fc.weight'" in caught.value.message or "at tensor 'fc.bias'" in caught.value.message


def test_corrupt_header_named(model, saved):
    data = bytearray(saved.read_bytes())
    data[8:20] = b"not json at "
    saved.write_bytes(bytes(data))

    with pytest.raises(WeightsError, match="header is not valid JSON") as caught:
        cvgraph.load_weights(model, saved)

    assert caught.value.file == str(saved)


def test_huge_header_length_rejected(model, tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes((2**62).to_bytes(8, "little") + b"{}")

    with pytest.raises(WeightsError, match="header claims") as caught:
        cvgraph.load_weights(model, path)

    assert caught.value.file == str(path)


@pytest.mark.parametrize("content", [b"", b"\x00" * 3, os.urandom(64)])
def test_garbage_file_rejected(model, tmp_path, content):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(content)

    with pytest.raises(WeightsError, match="cannot read the weights file"):
        cvgraph.load_weights(model, path)


def test_wrong_dtype_names_tensor(model, tmp_path):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["conv.weight"] = state["conv.weight"].to(torch.int64)
    path = tmp_path / "int.safetensors"
    save_file(state, str(path))

    with pytest.raises(WeightsError) as caught:
        cvgraph.load_weights(model, path)

    assert "conv.weight: file (4, 3, 3, 3) torch.int64 vs model (4, 3, 3, 3) torch.float32" in caught.value.message
    assert caught.value.file == str(path)


def test_wrong_shape_names_tensor(model, tmp_path):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["fc.weight"] = torch.zeros(3, 4)
    path = tmp_path / "shape.safetensors"
    save_file(state, str(path))

    with pytest.raises(WeightsError, match=r"fc.weight: file \(3, 4\)"):
        cvgraph.load_weights(model, path)


def test_fingerprint_of_other_spec_rejected(tmp_path):
    # Same keys and shapes, another graph: only the fingerprint distinguishes them.
    other = {**SPEC, "name": "other", "nodes": {**SPEC["nodes"]}}
    other["nodes"]["conv"] = {"block": "conv2d", "args": {"out_channels": 4, "kernel_size": 3, "padding": 1}}
    path = cvgraph.save_weights(cvgraph.build(other), tmp_path / "other.safetensors")

    with pytest.raises(WeightsError, match="saved from spec 'other'") as caught:
        cvgraph.load_weights(cvgraph.build(SPEC), path)

    assert caught.value.file == str(path)
    assert "fingerprint" in caught.value.expected


def test_missing_tensor_named(model, tmp_path):
    state = {k: v for k, v in model.state_dict().items() if k != "bn.running_var"}
    path = tmp_path / "missing.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))

    with pytest.raises(WeightsError, match="1 missing: bn.running_var") as caught:
        cvgraph.load_weights(model, path)

    assert caught.value.file == str(path)


@pytest.mark.parametrize("aliases", ["{not json", "[1, 2]", '{"a": 5}', '{"a": "nowhere"}'])
def test_invalid_alias_metadata_rejected(model, tmp_path, aliases):
    path = tmp_path / "aliases.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata={ALIASES_KEY: aliases})

    with pytest.raises(WeightsError) as caught:
        cvgraph.load_weights(model, path)

    assert caught.value.file == str(path)


class _Canary:
    """A pickle payload that would create a file if torch.load ran it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickle_payload_in_pt_file_not_executed(model, tmp_path):
    canary = tmp_path / "canary"
    path = tmp_path / "evil.pt"
    with path.open("wb") as stream:
        pickle.dump({"conv.weight": _Canary(canary)}, stream)

    with pytest.raises(WeightsError, match="weights_only"):
        cvgraph.load_weights(model, path)

    assert not canary.exists()


def test_pt_file_with_non_string_keys_rejected(model, tmp_path):
    path = tmp_path / "keys.pt"
    torch.save({1: torch.zeros(1)}, path)

    with pytest.raises(WeightsError, match="not a state_dict of tensors"):
        cvgraph.load_weights(model, path)


def test_save_into_folder_raises_weights_error(model, tmp_path):
    (tmp_path / "taken").mkdir()

    with pytest.raises(WeightsError, match="cannot write") as caught:
        cvgraph.save_weights(model, tmp_path / "taken")

    assert caught.value.file == str(tmp_path / "taken")


# Atomic saves ---------------------------------------------------------------

_CHILD_STALLED = textwrap.dedent(
    """
    import sys, time
    import torch
    import safetensors.torch
    import cvgraph.weights as weights

    def stalled_save(tensors, filename, metadata=None):
        # Write half of a real file into the temporary path, then stall until killed.
        with open(filename, "wb") as stream:
            stream.write(b"\\x00" * 4096)
            stream.flush()
        print("writing", flush=True)
        time.sleep(60)

    weights.save_file = stalled_save
    weights.save_weights({"w": torch.ones(1000)}, sys.argv[1])
    """
)

_CHILD_LOOP = textwrap.dedent(
    """
    import sys
    import torch
    import cvgraph

    state = {"w": torch.full((8_000_000,), 7.0)}
    print("started", flush=True)
    while True:
        cvgraph.save_weights(state, sys.argv[1])
    """
)


def _original(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    state = {"w": torch.arange(1000, dtype=torch.float32)}
    path = cvgraph.save_weights(state, tmp_path / "weights.safetensors")
    return path, state


def _spawn(code: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)


def test_save_killed_mid_write_keeps_previous_file(tmp_path):
    path, state = _original(tmp_path)
    child = _spawn(_CHILD_STALLED, path)
    try:
        assert child.stdout.readline().strip() == "writing"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)

    tensors, _ = cvgraph.weights.read_tensors(path)

    assert child.returncode == -signal.SIGKILL
    assert torch.equal(tensors["w"], state["w"])
    assert list(tmp_path.glob(".weights.safetensors.*.tmp*")), "the stalled write should have used a temporary file"


@pytest.mark.parametrize("delay", [0.3, 0.9])
def test_save_loop_killed_leaves_a_complete_file(tmp_path, delay):
    # A child saving 32 MB in a loop is killed at an arbitrary point: the file is the
    # original or one complete new version, never a partial one.
    path, state = _original(tmp_path)
    child = _spawn(_CHILD_LOOP, path)
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)

    tensors, _ = cvgraph.weights.read_tensors(path)

    assert set(tensors) == {"w"}
    original = tensors["w"].shape == state["w"].shape and torch.equal(tensors["w"], state["w"])
    new = tensors["w"].shape == (8_000_000,) and bool((tensors["w"] == 7.0).all())
    assert original or new
