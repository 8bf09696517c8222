"""The shipped pose model, run top-down on person boxes: on a real photograph and on simulated
person crops against their true keypoints."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from storelens.inference.blazepose import POSE_MODEL, BlazePose, pose_unavailable
from storelens.keypoints import COCO_KEYPOINTS

pytestmark = pytest.mark.skipif(pose_unavailable() is not None, reason=str(pose_unavailable()))

J = {name: i for i, name in enumerate(COCO_KEYPOINTS)}


@pytest.fixture(scope="module")
def pose():
    model = BlazePose()
    yield model


def _zidane() -> np.ndarray:
    import ultralytics

    image = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "zidane.jpg"))
    assert image is not None
    return image


def test_a_real_person_gets_an_upright_skeleton_inside_the_box(pose):
    # ultralytics ships this photograph; the man on the right stands in this box
    box = np.array([[740.0, 40.0, 1150.0, 720.0]])
    kp = pose(_zidane(), box)[0]
    x0, y0, x1, y1 = box[0]
    body = kp[5:]
    inside = (body[:, 0] > x0 - 40) & (body[:, 0] < x1 + 40) & (body[:, 1] > y0 - 40)
    assert inside.all(), body
    assert kp[J["left_shoulder"], 2] > 0.5 and kp[J["right_shoulder"], 2] > 0.5
    # head above shoulders above hips, in image rows
    shoulders = kp[[J["left_shoulder"], J["right_shoulder"]], 1].mean()
    hips = kp[[J["left_hip"], J["right_hip"]], 1].mean()
    assert kp[J["nose"], 1] < shoulders < hips
    # facing the camera: the person's left shoulder is on the image's right
    assert kp[J["left_shoulder"], 0] > kp[J["right_shoulder"], 0]


def test_no_person_gives_no_skeleton_and_boxes_keep_their_rows(pose):
    image = _zidane()
    blank = np.zeros_like(image)
    assert (pose(blank, np.array([[740.0, 40.0, 1150.0, 720.0]])) == 0).all()
    boxes = np.array([[0.0, 0.0, 60.0, 60.0], [740.0, 40.0, 1150.0, 720.0], [5, 5, 5.5, 5.5]])
    kp = pose(image, boxes)
    assert kp.shape == (3, 17, 3)
    assert kp[1, 5:, 2].max() > 0.5 and (kp[2] == 0).all()
    assert pose(image, np.zeros((0, 4))).shape == (0, 17, 3)


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no pose landmark model"):
        BlazePose(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="min_pose: 2"):
        BlazePose(POSE_MODEL, min_pose=2)


def test_simulated_crops_found_by_the_model_land_near_the_truth(small_sim, tmp_path):
    from storelens.evaluation.keypoint_crops import pose_on_crops

    crops = pose_on_crops(small_sim, tmp_path / "crops.npz", progress=False)
    assert len(crops) > 20 and (tmp_path / "crops.npz").is_file()
    found = crops.found
    assert found.any(), "the model found no simulated person at all"
    err = np.linalg.norm(crops.error()[found][:, 5:7], axis=2)  # shoulders / box height
    assert np.nanmedian(err) < 0.2
    again = pose_on_crops(small_sim, tmp_path / "crops.npz", progress=False)  # from the cache
    assert np.array_equal(again.predicted, crops.predicted)
