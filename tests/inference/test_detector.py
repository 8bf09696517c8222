"""The ultralytics → Detections adapter, on the shipped detector with real frames of different
sizes batched together (a simulated camera frame and the photo ultralytics ships)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from storelens.detections import HAND, PERSON
from storelens.frames import FrameBatch
from storelens.inference.detector import UltralyticsDetector
from storelens.inference.loading import load_detector
from storelens.models import demo_detector


@pytest.fixture(scope="module")
def model():
    return load_detector(demo_detector())


@pytest.fixture(scope="module")
def frames(small_sim):
    import ultralytics

    cap = cv2.VideoCapture(str(small_sim / "cameras" / "ceil-sw" / "video.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, sim_frame = cap.read()
    cap.release()
    assert ok
    photo = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    assert sim_frame.shape[:2] != photo.shape[:2]
    return FrameBatch.of(["ceil-sw", "street"], [1000.5, 1000.52], [61, 7], [sim_frame, photo])


def test_batched_frames_of_different_sizes_give_each_frames_own_boxes(model, frames):
    detector = UltralyticsDetector(model, conf=0.25)
    batched = detector(frames)
    assert len(batched) > 0
    assert set(batched.class_id.tolist()) == {PERSON}
    for i, camera in enumerate(frames.camera_id):
        alone = detector(
            FrameBatch.of(
                [camera], [frames.timestamp[i]], [frames.frame_index[i]], [frames.images[i]]
            )
        )
        mine = batched[batched.camera_id == camera]
        np.testing.assert_allclose(mine.xyxy, alone.xyxy, atol=0.5)
        np.testing.assert_array_equal(mine.timestamp, frames.timestamp[i])
        np.testing.assert_array_equal(mine.data["frame_index"], frames.frame_index[i])
        # letterboxing is undone: boxes lie in the frame's own pixels, not the 320 px canvas
        h, w = frames.images[i].shape[:2]
        assert (mine.xyxy >= -1).all() and (mine.xyxy[:, [0, 2]] <= w + 1).all()
        assert (mine.xyxy[:, [1, 3]] <= h + 1).all()
        # the same boxes ultralytics itself reports for that image alone
        (ref,) = model.predict(frames.images[i], imgsz=320, conf=0.25, classes=[0], verbose=False)
        np.testing.assert_allclose(mine.xyxy, ref.boxes.xyxy.cpu().numpy(), atol=0.5)
    # the simulated shoppers are seen in their own camera's frame
    assert (batched.camera_id == "ceil-sw").sum() >= 1


def test_classes_the_model_lacks_and_frames_without_pixels_are_refused(model, frames):
    with pytest.raises(ValueError, match="no class"):
        UltralyticsDetector(model, classes=(PERSON, 99))
    no_pixels = FrameBatch.of(["ceil-sw"], [0.0], [1])
    with pytest.raises(ValueError, match="no images"):
        UltralyticsDetector(model)(no_pixels)
    hands = UltralyticsDetector(model, classes=(HAND,))(frames)
    assert set(hands.class_id.tolist()) <= {HAND}
