"""The MTCNN specs, networks and cascade against facenet-pytorch's own implementation."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import cvgraph
from cvgraph.detection import MTCNN, FaceDetections, MTCNNConfig, pyramid_scales
from cvgraph.detection.mtcnn_weights import SPEC_NAMES, build_network
from cvgraph.errors import SpecError, WeightsError
from cvgraph.shapes import FeatureMap, Vector

from .conftest import EXPECTED_FACES, PHOTOS, lfw_mosaic

# Specs ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(height=st.integers(11, 90), width=st.integers(11, 90))
def test_pnet_spec_shapes_match_forward(height: int, width: int) -> None:
    model = cvgraph.build("mtcnn_pnet").eval()
    report = cvgraph.infer_shapes("mtcnn_pnet", {"image": f"1x3x{height}x{width}"})
    with torch.no_grad():
        outputs = model(torch.zeros(1, 3, height, width))
    for name in ("bbox_reg", "prob"):
        shape = report.outputs[name]
        assert isinstance(shape, FeatureMap)
        assert tuple(outputs[name].shape[1:]) == shape.torch_size()


def test_pnet_spec_rejects_input_below_window() -> None:
    with pytest.raises(SpecError) as raised:
        cvgraph.infer_shapes("mtcnn_pnet", {"image": "1x3x10x10"})
    assert "too small" in raised.value.message


@pytest.mark.parametrize("network, size, outputs", [
    ("rnet", 24, {"bbox_reg": 4, "prob": 2}),
    ("onet", 48, {"bbox_reg": 4, "landmarks": 10, "prob": 2}),
])
def test_fully_connected_spec_shapes(network: str, size: int, outputs: dict[str, int]) -> None:
    report = cvgraph.infer_shapes(SPEC_NAMES[network])
    model = build_network(network)
    with torch.no_grad():
        result = model(torch.zeros(3, 3, size, size))
    assert report.outputs == {name: Vector(features) for name, features in outputs.items()}
    for name, features in outputs.items():
        assert tuple(result[name].shape) == (3, features)


def test_rnet_spec_rejects_other_crop_size() -> None:
    with pytest.raises(SpecError) as raised:
        cvgraph.infer_shapes("mtcnn_rnet", {"image": "1x3x48x48"})
    assert "height 24" in raised.value.message


def test_spec_parameter_counts() -> None:
    # Parameter counts of facenet-pytorch's PNet, RNet and ONet (2.6.0).
    expected = {"pnet": 6_632, "rnet": 100_178, "onet": 389_040}
    for network, count in expected.items():
        assert sum(p.numel() for p in build_network(network).parameters()) == count, network


# Networks against facenet-pytorch ---------------------------------------------


def _real_crops(size: int, count: int) -> torch.Tensor:
    """Return ``count`` normalized crops of real photos, resized to ``size``."""
    generator = torch.Generator().manual_seed(0)
    crops = []
    for name in ("astronaut", "lfw_mosaic"):
        image = torch.from_numpy(PHOTOS[name]()).permute(2, 0, 1).float()[None]
        for _ in range(count // 2):
            side = int(torch.randint(16, 160, (1,), generator=generator))
            top = int(torch.randint(0, image.shape[2] - side, (1,), generator=generator))
            left = int(torch.randint(0, image.shape[3] - side, (1,), generator=generator))
            crop = image[:, :, top:top + side, left:left + side]
            crops.append(F.interpolate(crop, size=(size, size), mode="area"))
    return (torch.cat(crops) - 127.5) * 0.0078125


def test_pnet_equals_facenet(detector: MTCNN, reference: types.ModuleType) -> None:
    theirs = reference.PNet().eval()
    image = torch.from_numpy(PHOTOS["astronaut"]()).permute(2, 0, 1).float()[None]
    batch = (F.interpolate(image, size=(153, 211), mode="area") - 127.5) * 0.0078125
    with torch.no_grad():
        ours = detector.pnet(batch)
        reg, prob = theirs(batch)
    assert (ours["bbox_reg"] - reg).abs().max() <= 1e-5
    assert (ours["prob"] - prob).abs().max() <= 1e-5


def test_rnet_equals_facenet(detector: MTCNN, reference: types.ModuleType) -> None:
    theirs = reference.RNet().eval()
    batch = _real_crops(24, 32)
    with torch.no_grad():
        ours = detector.rnet(batch)
        reg, prob = theirs(batch)
    assert (ours["bbox_reg"] - reg).abs().max() <= 1e-5
    assert (ours["prob"] - prob).abs().max() <= 1e-5


def test_onet_equals_facenet(detector: MTCNN, reference: types.ModuleType) -> None:
    theirs = reference.ONet().eval()
    batch = _real_crops(48, 32)
    with torch.no_grad():
        ours = detector.onet(batch)
        reg, landmarks, prob = theirs(batch)
    assert (ours["bbox_reg"] - reg).abs().max() <= 1e-5
    assert (ours["landmarks"] - landmarks).abs().max() <= 1e-5
    assert (ours["prob"] - prob).abs().max() <= 1e-5


# The cascade against facenet-pytorch's MTCNN ---------------------------------


def _reference_detect(reference: types.ModuleType, image: np.ndarray, **settings: object) -> FaceDetections:
    mtcnn = reference.MTCNN(keep_all=True, select_largest=False, device="cpu", **settings)
    boxes, probs, points = mtcnn.detect(Image.fromarray(image), landmarks=True)
    if boxes is None:
        return FaceDetections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 5, 2))
    return FaceDetections(
        torch.as_tensor(np.asarray(boxes, dtype=np.float32)),
        torch.as_tensor(np.asarray(probs, dtype=np.float32)),
        torch.as_tensor(np.asarray(points, dtype=np.float32)),
    )


def _assert_same_faces(ours: FaceDetections, theirs: FaceDetections) -> None:
    assert len(ours) == len(theirs)
    if not len(theirs):
        return
    # Pair each reference face with our nearest box, so that near-equal scores may swap order.
    distance = torch.cdist(theirs.boxes, ours.boxes)
    match = distance.argmin(dim=1)
    assert sorted(match.tolist()) == list(range(len(ours)))
    assert (ours.boxes[match] - theirs.boxes).abs().max() <= 1.0
    assert (ours.landmarks[match] - theirs.landmarks).abs().max() <= 1.0
    assert (ours.scores[match] - theirs.scores).abs().max() <= 1e-3


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_detections_equal_facenet(name: str, detector: MTCNN, reference: types.ModuleType) -> None:
    image = PHOTOS[name]()
    ours = detector.detect_array(image)
    theirs = _reference_detect(reference, image)
    assert len(ours) == EXPECTED_FACES[name]
    _assert_same_faces(ours, theirs)


def test_detections_equal_facenet_other_settings(mtcnn_cache, reference: types.ModuleType) -> None:
    image = lfw_mosaic(sizes=(60, 90, 130, 170))
    settings = {"min_face_size": 40, "factor": 0.6, "thresholds": [0.5, 0.6, 0.8]}
    config = {"min_face_size": 40, "scale_factor": 0.6, "thresholds": (0.5, 0.6, 0.8)}
    ours = MTCNN.from_cache(mtcnn_cache, config=config).detect_array(image)
    theirs = _reference_detect(reference, image, **settings)
    assert len(ours) >= 2
    _assert_same_faces(ours, theirs)


def test_batch_equals_single_images(detector: MTCNN) -> None:
    astronaut = PHOTOS["astronaut"]()
    camera = PHOTOS["camera"]()
    batch = torch.from_numpy(np.stack([camera, astronaut])).permute(0, 3, 1, 2)
    together = detector.detect(batch)
    for image, faces in zip((camera, astronaut), together):
        alone = detector.detect_array(image)
        assert len(faces) == len(alone)
        assert torch.allclose(faces.boxes, alone.boxes, atol=1e-3)
        assert torch.allclose(faces.scores, alone.scores, atol=1e-5)


@pytest.mark.parametrize("height, width", [(1, 1), (19, 400), (400, 19), (12, 12)])
def test_image_below_min_face_size_gives_no_face(detector: MTCNN, height: int, width: int) -> None:
    faces = detector.detect_array(np.full((height, width, 3), 90, np.uint8))
    assert len(faces) == 0
    assert tuple(faces.landmarks.shape) == (0, 5, 2)


def test_flat_image_gives_no_face(detector: MTCNN) -> None:
    faces = detector.detect_array(np.full((240, 320, 3), 200, np.uint8))
    assert len(faces) == 0


def test_large_min_face_size_skips_small_faces(mtcnn_cache) -> None:
    image = PHOTOS["astronaut"]()
    faces = MTCNN.from_cache(mtcnn_cache, config={"min_face_size": 300}).detect_array(image)
    assert len(faces) == 0


def test_detections_to_dicts(detector: MTCNN) -> None:
    faces = detector.detect_array(PHOTOS["astronaut"]())
    [face] = faces.to_dicts()
    assert set(face) == {"box", "score", "landmarks"}
    assert len(face["box"]) == 4
    assert len(face["landmarks"]) == 5
    assert 0.99 < face["score"] <= 1.0


# Settings and pyramid -------------------------------------------------------


def test_pyramid_first_scale_maps_min_face_to_window() -> None:
    scales = pyramid_scales(512, 400, min_face_size=20, scale_factor=0.709)
    assert scales[0] == pytest.approx(12 / 20)
    assert all(b / a == pytest.approx(0.709) for a, b in zip(scales, scales[1:]))
    assert 400 * scales[-1] >= 12
    assert 400 * scales[-1] * 0.709 < 12


def test_pyramid_empty_below_min_face() -> None:
    assert pyramid_scales(19, 1000, min_face_size=20, scale_factor=0.709) == []


def test_pyramid_max_levels_caps_levels() -> None:
    assert len(pyramid_scales(4000, 4000, min_face_size=12, scale_factor=0.99, max_levels=64)) == 64


@pytest.mark.parametrize("settings, key", [
    ({"min_face_size": 0}, "min_face_size"),
    ({"scale_factor": 1.0}, "scale_factor"),
    ({"thresholds": (0.6, 1.5, 0.7)}, "thresholds"),
    ({"thresholds": (0.6, 0.7)}, "thresholds"),
    ({"nms_thresholds": (0.5, 0.7, -0.1, 0.7)}, "nms_thresholds"),
    ({"min_size": 20}, "min_size"),
])
def test_invalid_settings_raise_spec_error(mtcnn_cache, settings: dict, key: str) -> None:
    with pytest.raises(SpecError) as raised:
        MTCNN.from_cache(mtcnn_cache, config=settings)
    assert key in raised.value.message


def test_default_config_matches_paper() -> None:
    config = MTCNNConfig()
    assert config.min_face_size == 20
    assert config.scale_factor == 0.709
    assert config.thresholds == (0.6, 0.7, 0.7)


def test_from_cache_without_weights_names_import_command(tmp_path) -> None:
    with pytest.raises(WeightsError) as raised:
        MTCNN.from_cache(tmp_path)
    assert "cvgraph weights import mtcnn" in raised.value.hint
    assert str(tmp_path) in raised.value.hint


def test_from_cache_of_other_spec_names_import_command(mtcnn_cache, tmp_path) -> None:
    from cvgraph.detection.mtcnn_weights import weights_paths
    from cvgraph.weights import read_tensors, save_weights

    for network, path in weights_paths(mtcnn_cache).items():
        tensors, metadata = read_tensors(path)
        if network == "onet":
            metadata["cvgraph.fingerprint"] = "0" * 64
        save_weights(tensors, weights_paths(tmp_path)[network], metadata=metadata)
    with pytest.raises(WeightsError) as raised:
        MTCNN.from_cache(tmp_path)
    assert "onet.safetensors" in str(raised.value.location)
    assert f"cvgraph weights import mtcnn --cache {tmp_path}' again" in raised.value.hint


def test_detect_rejects_non_rgb_tensor(detector: MTCNN) -> None:
    with pytest.raises(SpecError) as raised:
        detector.detect(torch.zeros(1, 1, 64, 64))
    assert "(N, 3, H, W)" in raised.value.expected
    assert "(1, 1, 64, 64)" in raised.value.found


def test_tiny_min_face_size_hits_level_cap(mtcnn_cache) -> None:
    detector = MTCNN.from_cache(mtcnn_cache, config={"min_face_size": 0.05})
    with pytest.raises(SpecError) as raised:
        detector.detect_array(PHOTOS["astronaut"]())
    assert "max_level_pixels" in raised.value.message
    assert "raise min_face_size" in raised.value.hint
