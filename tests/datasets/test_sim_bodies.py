"""The simulated body and its keypoint ground truth: joints where the skeleton puts them,
visibility from what the real renderer draws, reaches that arrive, files the tools read.

Scenes are rendered with the real renderer and real demo cameras; the answers come from the
geometry (which side of a person faces the camera, what stands in front, where the image ends).
"""

import numpy as np
import pytest

from storelens.datasets.sim.appearance import sample_person_looks
from storelens.datasets.sim.body import ARM_LENGTH_PER_HEIGHT, body_frames
from storelens.datasets.sim.keypoints import coco_joints, project_keypoints
from storelens.datasets.sim.render import CameraRenderer
from storelens.datasets.sim.scenario import Range
from storelens.datasets.sim.scene import Primitives, axis_aligned, flat, people
from storelens.keypoints import COCO_KEYPOINTS

J = {name: i for i, name in enumerate(COCO_KEYPOINTS)}
FACE = [J[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
HEIGHT = 1.75


def pose(position, heading, target=None, ext=(0.0, 0.0)):
    """One person's `BodyFrame` (height 1.75 m); `target` (3,) for both hands."""
    hand_target = np.zeros((1, 2, 3)) if target is None else np.tile(target, (1, 2, 1))
    return body_frames(
        np.array([position], float),
        np.array([heading], float),
        np.array([HEIGHT]),
        np.array([0.42]),
        hand_target,
        np.array([ext], float),
    )


def rendered_keypoints(geometry, body, heading, occluder=None):
    """Draw the person (oids 1 body, 2-3 hands) and an optional occluder (oid 4), then label."""
    look = sample_person_looks(np.random.default_rng(0), 1, Range(low=HEIGHT, high=HEIGHT))[0]
    prims = people(
        np.array([heading]), [look], np.array([1]), np.array([[2, 3]]), body, np.array([False])
    )
    if occluder is not None:
        wall = flat(axis_aligned(*map(np.array, occluder)), np.array([90, 90, 90]), 4)
        prims = Primitives.concat([prims, wall])
    renderer = CameraRenderer(geometry)
    layers = renderer.blank()
    renderer.draw(layers, prims)
    owners = np.array([[1, 2, 3]])
    return project_keypoints(coco_joints(body), owners, renderer, layers.oid, layers.depth)[0]


def test_the_side_facing_the_camera_is_visible_and_the_far_side_hidden(demo_layout):
    """shelf-fruit looks along +y from (3.5, 2.0); a person at y = 3.5 facing +x turns their
    right side to it: the right arm and leg are seen, the left ones lie behind the torso and
    the near leg (the right hip too, behind the hanging right hand)."""
    geom = demo_layout.camera("shelf-fruit").geometry()
    body = pose((3.5, 3.5), 0.0)
    kp = rendered_keypoints(geom, body, 0.0)
    for name in ("right_shoulder", "right_elbow", "right_wrist", "right_knee", "right_ankle"):
        assert kp[J[name], 2] == 2, name
    for name in ("left_elbow", "left_wrist", "left_hip", "left_knee", "left_ankle"):
        assert kp[J[name], 2] == 1, name
    assert (kp[FACE] == 0).all()  # the head has no face: unlabelled, x = y = 0
    px, _ = geom.project(coco_joints(body)[0, 5:])
    np.testing.assert_allclose(kp[5:, :2], px, atol=1e-6)  # labelled joints: the projection


def test_a_wall_in_front_hides_every_joint_it_covers(demo_layout):
    geom = demo_layout.camera("shelf-fruit").geometry()
    body = pose((3.5, 3.5), np.pi / 2)  # facing away from the camera
    clear = rendered_keypoints(geom, body, np.pi / 2)
    assert (clear[5:, 2] == 2).sum() >= 8
    hidden = rendered_keypoints(geom, body, np.pi / 2, occluder=([2.5, 2.8, 0.0], [4.5, 2.85, 2.5]))
    assert (hidden[5:, 2] == 1).all()  # inside the image, all behind the wall
    np.testing.assert_allclose(hidden[5:, :2], clear[5:, :2])


def test_joints_outside_the_image_are_unlabelled(demo_layout):
    """A person standing at the left edge of shelf-fruit's view: part of them is outside."""
    geom = demo_layout.camera("shelf-fruit").geometry()
    footprint = geom.footprint(demo_layout.floor.rect)
    for x in np.linspace(footprint[:, 0].min() - 0.5, 3.5, 40):
        body = pose((x, 3.0), 0.0)
        px, depth = geom.project(coco_joints(body)[0, 5:])
        outside = (px[:, 0] < 0) | (px[:, 0] >= geom.width)
        if outside.any() and not outside.all():
            break
    else:
        pytest.fail("no position found with the person half outside the image")
    kp = rendered_keypoints(geom, body, 0.0)[5:]
    assert (kp[outside, 2] == 0).all() and (kp[outside, :2] == 0).all()
    assert (kp[~outside, 2] > 0).all()


@pytest.mark.parametrize("shelf_z", [0.15, 0.6, 1.1, 1.6])
def test_a_reach_arrives_at_low_and_high_shelves(shelf_z):
    """The facing 0.55 m ahead: the hand centre reaches it at full extension, the body bending
    (pelvis lowered, torso leaning) only as far as a low shelf needs."""
    target = np.array([0.55, 0.0, shelf_z])
    body = pose((0.0, 0.0), 0.0, target, (1.0, 1.0))
    np.testing.assert_allclose(body.hand[0], np.tile(target, (2, 1)), atol=1e-6)
    upper = np.linalg.norm(body.elbow[0] - body.shoulder[0], axis=1)
    fore = np.linalg.norm(body.hand[0] - body.elbow[0], axis=1)
    np.testing.assert_allclose(upper + fore, ARM_LENGTH_PER_HEIGHT * HEIGHT, rtol=1e-6)
    standing = pose((0.0, 0.0), 0.0)
    drop = standing.pelvis[0, 2] - body.pelvis[0, 2]
    lean = np.degrees(np.arccos(np.clip(body.torso_axis[0, 2], -1, 1)))
    if shelf_z < 0.5:
        assert drop > 0.1 or lean > 20  # bends down to the bottom shelf
    if shelf_z > 1.0:
        assert drop == pytest.approx(0.0, abs=1e-9) and lean < 1e-6  # stands upright
    knee_gap = np.linalg.norm(body.knee[0] - body.hip[0], axis=1)
    assert (body.ankle[0, :, 2] > 0).all() and (knee_gap > 0.3).all()
