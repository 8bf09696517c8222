"""The ONNX detector against ultralytics itself, on real frames: a rendered camera frame (the
shipped detector is trained on renders) and the two photos ultralytics ships.

At the same letterbox (a square 320 canvas, given to ultralytics already square so its own
LetterBox is a no-op) the two agree box for box. Through `__call__` on whole frames the ONNX
detector letterboxes to the square, while `UltralyticsDetector` pads a lone frame only to the
stride (320 x 256 for a 4:3 frame): on the rendered frame every confident box still matches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from storelens.detections import HAND, PERSON
from storelens.frames import FrameBatch
from storelens.inference.detector import UltralyticsDetector
from storelens.inference.loading import load_detector
from storelens.inference.onnx_detector import ModelLoadError, OnnxDetector, letterbox

SIZE = 320


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STORELENS_RUNS_DIR", str(tmp_path_factory.mktemp("onnx-runs")))
        mp.setenv("YOLO_OFFLINE", "1")
        mp.setenv("YOLO_AUTOINSTALL", "0")
        yield


@pytest.fixture(scope="module")
def detector(env):
    return OnnxDetector("shipped", imgsz=SIZE, conf=0.05, threads=1)


@pytest.fixture(scope="module")
def model(env):
    return load_detector("shipped")


@pytest.fixture(scope="module")
def images(small_sim) -> dict[str, np.ndarray]:
    import ultralytics

    cap = cv2.VideoCapture(str(small_sim / "cameras" / "ceil-sw" / "video.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, sim_frame = cap.read()
    cap.release()
    assert ok
    assets = Path(ultralytics.__file__).parent / "assets"
    return {
        "sim": sim_frame,
        "bus": cv2.imread(str(assets / "bus.jpg")),
        "zidane": cv2.imread(str(assets / "zidane.jpg")),
    }


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def matched_fraction(a: np.ndarray, b: np.ndarray, thr: float = 0.9) -> float:
    """Share of the boxes of `a` a one-to-one matching pairs with a box of `b` at IoU >= thr."""
    if len(a) == 0:
        return 1.0
    if len(b) == 0:
        return 0.0
    m = iou_matrix(a, b)
    rows, cols = linear_sum_assignment(-m)
    return float((m[rows, cols] >= thr).sum() / len(a))


def test_letterbox_is_ultralytics_letterbox_pixel_for_pixel(images):
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(0)
    shapes = [(1, 900), (900, 1), (479, 641), (320, 320), (100, 50), (1000, 333), (241, 17)]
    extra = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    for image in [*images.values(), *extra]:
        for size in (SIZE, 640, 333):
            ours = letterbox(image, size)
            ref = LetterBox(new_shape=(size, size), auto=False)(image=image)
            assert ours.tensor.shape == (size, size, 3) and ours.tensor.flags.c_contiguous
            np.testing.assert_array_equal(ours.tensor, ref)
            assert (ours.width, ours.height) == (image.shape[1], image.shape[0])
            # a box in the frame's pixels, into the canvas and back again
            h, w = image.shape[:2]
            box = np.array([[0.1 * w, 0.2 * h, 0.7 * w, 0.9 * h]], np.float32)
            canvas = box.copy()
            canvas[:, [0, 2]] = canvas[:, [0, 2]] * ours.new_width / w + ours.pad_x
            canvas[:, [1, 3]] = canvas[:, [1, 3]] * ours.new_height / h + ours.pad_y
            np.testing.assert_allclose(ours.unletterbox(canvas), box, rtol=1e-5, atol=1e-3)
    lb = letterbox(images["bus"], SIZE)
    out = lb.unletterbox(np.array([[-50, -50, 400, 400]], np.float32))
    np.testing.assert_array_equal(out, [[0, 0, lb.width, lb.height]])  # clipped to the frame
    with pytest.raises(ValueError, match="uint8"):
        letterbox(np.zeros((10, 10), np.uint8), SIZE)


def test_same_letterbox_same_boxes_as_ultralytics(detector, model, images):
    for name, image in images.items():
        lb = letterbox(image, SIZE)
        ((xyxy, conf, cls),) = detector.detect_letterboxed(lb.tensor[None])
        xyxy = np.clip(xyxy, 0, SIZE)  # ultralytics clips to its input image, here the canvas
        (ref,) = model.predict(lb.tensor, imgsz=SIZE, conf=0.05, classes=[0], verbose=False)
        ref_xyxy, ref_conf = ref.boxes.xyxy.cpu().numpy(), ref.boxes.conf.cpu().numpy()
        assert len(xyxy) == len(ref_xyxy) > 0, name
        assert set(cls.tolist()) == {PERSON}
        m = iou_matrix(xyxy, ref_xyxy)
        rows, cols = linear_sum_assignment(-m)
        assert m[rows, cols].min() > 0.999, name
        np.testing.assert_allclose(conf[rows], ref_conf[cols], atol=1e-4)
        np.testing.assert_allclose(xyxy[rows], ref_xyxy[cols], atol=0.05)
        assert np.all(np.diff(conf) <= 0)  # best first


def test_frames_through_call_match_ultralytics_detector(detector, model, images):
    names = list(images)
    frames = FrameBatch.of(names, [10.0, 10.1, 10.2], [5, 6, 7], list(images.values()))
    dets = detector(frames)
    for i, name in enumerate(names):
        mine = dets[dets.camera_id == name]
        np.testing.assert_array_equal(mine.timestamp, frames.timestamp[i])
        np.testing.assert_array_equal(mine.data["frame_index"], frames.frame_index[i])
        h, w = images[name].shape[:2]
        assert (mine.xyxy >= 0).all() and (mine.xyxy[:, [0, 2]] <= w).all()
        assert (mine.xyxy[:, [1, 3]] <= h).all()
        # exactly the boxes of ultralytics at the same letterbox, mapped back to the frame
        lb = letterbox(images[name], SIZE)
        (ref,) = model.predict(lb.tensor, imgsz=SIZE, conf=0.05, classes=[0], verbose=False)
        ref_boxes = lb.unletterbox(ref.boxes.xyxy.cpu().numpy())
        assert matched_fraction(mine.xyxy, ref_boxes, 0.999) == 1.0
        # alone, the frame gets the same boxes as in the batch
        alone = detector(FrameBatch.of([name], [0.0], [1], [images[name]]))
        np.testing.assert_allclose(alone.xyxy, mine.xyxy, atol=1e-3)
    # UltralyticsDetector pads a lone frame only to the stride: on the rendered frame (what
    # the model was trained on) every box of conf >= 0.25 still has its match at IoU >= 0.9
    sim = FrameBatch.of(["sim"], [0.0], [1], [images["sim"]])
    ours, theirs = detector(sim), UltralyticsDetector(model, conf=0.05)(sim)
    ours, theirs = ours[ours.confidence >= 0.25], theirs[theirs.confidence >= 0.25]
    assert len(ours) >= 1
    assert matched_fraction(ours.xyxy, theirs.xyxy) == 1.0
    assert matched_fraction(theirs.xyxy, ours.xyxy) == 1.0


def test_export_is_cached_by_weights_and_size(detector, env):
    again = OnnxDetector("shipped", imgsz=SIZE)
    assert again.onnx_file == detector.onnx_file
    assert again.model_version == detector.model_version
    assert detector.model_version.endswith(f"@{SIZE}")
    assert not [p for p in detector.onnx_file.parent.iterdir() if p.name.startswith(".export")]


def test_bad_references_and_classes_are_refused_by_name(env, detector, tmp_path):
    with pytest.raises(ModelLoadError, match="no-such-weights.pt"):
        OnnxDetector(str(tmp_path / "no-such-weights.pt"))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="broken.pt"):
        OnnxDetector(str(broken))
    with pytest.raises(ValueError, match="no class"):
        OnnxDetector("shipped", classes=(PERSON, 99))
    with pytest.raises(ValueError, match="letterboxed"):
        detector.detect_letterboxed(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="no images"):
        detector(FrameBatch.of(["a"], [0.0], [1]))
    hands = OnnxDetector("shipped", classes=(HAND,))
    assert hands.detect_letterboxed(np.zeros((0, SIZE, SIZE, 3), np.uint8)) == []
