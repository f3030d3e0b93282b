"""Export of compiled specs: torch.export programs and ONNX run by onnxruntime."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import cvgraph
from cvgraph.export import export_model


def _model():
    torch.manual_seed(0)
    return cvgraph.build("resnet18", params={"num_classes": 10}, input_shapes={"image": "1x3x64x64"}).eval()


def test_pt2_export_reloads_with_same_outputs(tmp_path):
    model = _model()
    path = export_model(model, tmp_path / "r18.pt2")
    program = torch.export.load(str(path))
    x = torch.randn(1, 3, 64, 64)

    with torch.inference_mode():
        assert (program.module()(x) - model(x)).abs().max().item() <= 1e-5


def test_onnx_export_runs_in_onnxruntime(tmp_path):
    import onnxruntime

    model = _model()
    path = export_model(model, tmp_path / "r18.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(1, 3, 64, 64)

    (actual,) = session.run(["logits"], {"image": x.numpy()})
    with torch.inference_mode():
        expected = model(x).numpy()

    assert [i.name for i in session.get_inputs()] == ["image"]
    assert np.abs(actual - expected).max() <= 1e-4


def test_export_refuses_free_input_size(tmp_path):
    model = cvgraph.build("resnet18")

    with pytest.raises(cvgraph.SpecError, match="free size"):
        export_model(model, tmp_path / "r18.pt2")


def test_export_command_writes_file(tmp_path):
    out = tmp_path / "r18.pt2"
    result = subprocess.run(
        [sys.executable, "-m", "cvgraph", "export", "resnet18", "--input", "1x3x64x64", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1_000_000


def test_dynamic_batch_program_takes_any_batch(tmp_path):
    model = _model()
    path = export_model(model, tmp_path / "r18.pt2", dynamic_batch=True)
    program = torch.export.load(str(path)).module()
    x = torch.randn(5, 3, 64, 64)

    with torch.inference_mode():
        assert (program(x) - model(x)).abs().max().item() <= 1e-5


def test_export_format_must_match_suffix(tmp_path):
    with pytest.raises(cvgraph.SpecError, match="names format onnx"):
        export_model(_model(), tmp_path / "r18.onnx", format="pt2")
    with pytest.raises(cvgraph.SpecError, match="cannot tell the export format"):
        export_model(_model(), tmp_path / "r18.bin")
