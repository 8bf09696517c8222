"""Standing points: the foot point where the whole person is in the box, the head point at a
person's height where the box stops short of the feet (a shelf, the picture's edge)."""

from __future__ import annotations

import numpy as np

from storelens.layout import StoreLayout
from storelens.tracking.standing import StandingPoints
from tests.conftest import DEMO_STORE

PERSON_AT = np.array([[4.0, 3.0], [6.5, 2.5], [8.0, 5.0]])


def _boxes(camera, height_m: float) -> np.ndarray:
    """The boxes of people `height_m` tall standing at PERSON_AT, as the camera sees them."""
    feet, _ = camera.project(np.column_stack([PERSON_AT, np.zeros(len(PERSON_AT))]))
    heads, _ = camera.project(np.column_stack([PERSON_AT, np.full(len(PERSON_AT), height_m)]))
    half = 0.25 * np.abs(feet[:, 1] - heads[:, 1])
    left = np.minimum(feet[:, 0], heads[:, 0]) - half
    right = np.maximum(feet[:, 0], heads[:, 0]) + half
    return np.column_stack([left, heads[:, 1], right, feet[:, 1]])


def test_whole_boxes_stand_on_their_feet_and_cut_boxes_on_their_heads():
    store = StoreLayout.from_yaml(DEMO_STORE)
    geometries = {c.camera_id: c.geometry() for c in store.cameras}
    camera = geometries["ceil-sw"]
    locate = StandingPoints(geometries)
    cams = np.full(len(PERSON_AT), "ceil-sw")

    whole = _boxes(camera, 1.72)
    floor, by_head = locate(cams, whole)
    assert not by_head.any()
    np.testing.assert_allclose(floor, PERSON_AT, atol=0.3)  # a box's bottom centre

    cut = whole.copy()  # a shelf hides everything below the waist
    cut[:, 3] = whole[:, 1] + 0.5 * (whole[:, 3] - whole[:, 1])
    foot_only, _ = StandingPoints(geometries, short=0.0)(cams, cut)
    assert (np.linalg.norm(foot_only - PERSON_AT, axis=1) > 1.0).all()  # the naive point is off
    floor, by_head = locate(cams, cut)
    assert by_head.all()
    assert (np.linalg.norm(floor - PERSON_AT, axis=1) < 0.4).all()


def test_a_camera_near_head_height_keeps_the_foot_point():
    store = StoreLayout.from_yaml(DEMO_STORE)
    geometries = {c.camera_id: c.geometry() for c in store.cameras}
    low = "shelf-fruit"  # 2.2 m up: a head plane at 1.72 m is too close to place anyone by
    box = _boxes(geometries[low], 1.72)[:1]
    box[:, 3] = box[:, 1] + 0.5 * (box[:, 3] - box[:, 1])
    _, by_head = StandingPoints(geometries)(np.array([low]), box)
    assert not by_head.any()
