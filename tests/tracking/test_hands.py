"""Hands from skeletons, on the real demo store's cameras and the simulator's body model: a
hand kept through a short wrist dropout, two people reaching into one shelf, a person half
outside the frame, and 3-D hands from two cameras or from one ray and a shelf's front face."""

import numpy as np
import pytest

from storelens.datasets.sim.body import body_frames
from storelens.datasets.sim.keypoints import coco_joints
from storelens.datasets.sim.stock import build_facings
from storelens.tracking.hands import (
    ON_SHELF_PLANE,
    TRIANGULATED,
    HandLinker,
    locate_hands,
    shelf_planes,
)


def skeleton(conf=1.0, wrist_conf=(1.0, 1.0), shift=0.0):
    """A (1,17,3) skeleton in pixels: elbows above the wrists, the wrists at x = 100, 140."""
    kp = np.zeros((1, 17, 3))
    kp[0, 7], kp[0, 8] = (100 + shift, 100, conf), (140 + shift, 100, conf)
    kp[0, 9], kp[0, 10] = (100 + shift, 140, wrist_conf[0]), (140 + shift, 140, wrist_conf[1])
    return kp


def test_a_hand_is_held_through_a_short_dropout_then_let_go():
    linker = HandLinker(min_confidence=0.3, hold_frames=2)
    first = linker.update("cam", 1, np.array([7]), skeleton())
    assert first.track_id.tolist() == [7, 7] and first.side.tolist() == [0, 1]
    # the hand point lies past the wrist, along the forearm (elbow → wrist is +y here)
    np.testing.assert_allclose(first.xy, [[100, 150], [140, 150]])
    for frame in (2, 3):  # the left wrist drops out: its last place is kept, flagged
        hands = linker.update("cam", frame, np.array([7]), skeleton(wrist_conf=(0.0, 1.0), shift=5))
        left = hands.side == 0
        assert hands.held[left].tolist() == [True] and not hands.held[~left].any()
        np.testing.assert_allclose(hands.xy[left], [[100, 150]])
        np.testing.assert_allclose(hands.xy[~left], [[145, 150]])
    gone = linker.update("cam", 4, np.array([7]), skeleton(wrist_conf=(0.0, 1.0)))
    assert gone.side.tolist() == [1]  # past the hold: the left hand is absent, not invented
    back = linker.update("cam", 5, np.array([7]), skeleton(shift=-3))
    assert back.side.tolist() == [0, 1] and not back.held.any()
    # another camera keeps its own hands; another track never inherits this one's
    other = linker.update("cam", 6, np.array([8]), skeleton(wrist_conf=(0.0, 0.0)))
    assert len(other) == 0


def reaching_pair(layout, slide=0.0):
    """Two people reaching with both hands into one facing of shelf-fruit, side by side;
    `slide` moves the pair that far along the shelf's front."""
    facings = build_facings(layout)
    f = int(np.flatnonzero(facings.shelf_id == "shelf-fruit")[2])
    along = np.array([*facings.front_dir[f], 0.0])
    target = facings.front_centre(f) + slide * along
    stand = facings.stand_point(f) + slide * facings.front_dir[f]
    heading = float(np.arctan2(facings.inward[f][1], facings.inward[f][0]))
    across = facings.front_dir[f] * 0.35
    position = np.stack([stand - across, stand + across])
    offset = along * 0.35 * 0.3
    hand_target = np.stack([np.stack([target - offset] * 2), np.stack([target + offset] * 2)])
    return body_frames(
        position, np.full(2, heading), np.array([1.7, 1.8]), np.array([0.42, 0.45]),
        hand_target, np.ones((2, 2)),
    )  # fmt: skip


@pytest.fixture(scope="module")
def reach(demo_layout):
    return reaching_pair(demo_layout)


def camera_keypoints(layout, camera_id, body):
    """What a perfect pose model would report for the two people in this camera."""
    geom = layout.camera(camera_id).geometry()
    joints = coco_joints(body)
    kp = np.zeros(joints.shape)
    labelled = np.isfinite(joints[..., 0])
    px, depth = geom.project(joints[labelled])
    inside = (depth > 0) & (px[:, 0] >= 0) & (px[:, 0] < geom.width)
    inside &= (px[:, 1] >= 0) & (px[:, 1] < geom.height)
    kp[labelled] = np.column_stack([px, inside.astype(float)])
    return geom, kp


def cameras_seeing_both(layout, body):
    seeing = []
    for cam in layout.cameras:
        _, kp = camera_keypoints(layout, cam.camera_id, body)
        if (kp[:, [9, 10], 2] > 0).all():
            seeing.append(cam.camera_id)
    return seeing


def test_two_people_reaching_into_one_shelf_are_triangulated_apart(demo_layout, reach):
    body = reach
    cams = cameras_seeing_both(demo_layout, body)
    assert len(cams) >= 2, cams
    linker = HandLinker()
    observations, geometries, person_of = [], {}, {}
    for k, cam in enumerate(cams):
        geom, kp = camera_keypoints(demo_layout, cam, body)
        tracks = np.array([10 + k * 5, 11 + k * 5])  # each camera numbers its tracks its own way
        observations.append(linker.update(cam, 1, tracks, kp))
        geometries[cam] = geom
        person_of[cam] = (tracks, np.array([1, 2]))
    hands = locate_hands(observations, geometries, person_of, shelf_planes(demo_layout))
    assert sorted(zip(hands.person_id.tolist(), hands.side.tolist(), strict=True)) == [
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
    ]
    assert (hands.method == TRIANGULATED).all() and (hands.cameras == len(cams)).all()
    truth = body.hand[hands.person_id - 1, hands.side]
    # the hand point is the wrist pushed along the forearm: within 2 cm of the body's hand
    assert np.linalg.norm(hands.xyz - truth, axis=1).max() < 0.02
    assert hands.residual_m.max() < 0.01


def test_one_camera_puts_the_hand_on_the_shelf_face(demo_layout, reach):
    body = reach
    cam = cameras_seeing_both(demo_layout, body)[0]
    geom, kp = camera_keypoints(demo_layout, cam, body)
    hands = locate_hands(
        [HandLinker().update(cam, 1, np.array([3, 4]), kp)],
        {cam: geom},
        {},  # no cross-camera identity: each track is its own person
        shelf_planes(demo_layout),
    )
    assert len(hands.person_id) == 4 and len(set(hands.person_id.tolist())) == 2
    assert (hands.method == ON_SHELF_PLANE).all()
    assert set(hands.shelf_id.tolist()) == {"shelf-fruit"}
    truth = body.hand.reshape(-1, 3)
    nearest = np.linalg.norm(hands.xyz[:, None] - truth[None], axis=2).min(axis=1)
    assert nearest.max() < 0.05  # the hand centre reaches the front plane at the touch


def test_a_person_half_outside_the_frame_keeps_the_hand_in_view(demo_layout):
    """Slide the pair along the shelf until one camera's image edge falls between a person's
    wrists: that person keeps the hand in view and has no other."""
    geom = demo_layout.camera("shelf-fruit").geometry()
    for slide in np.linspace(-2.0, 2.0, 81):
        body = reaching_pair(demo_layout, slide)
        _, kp = camera_keypoints(demo_layout, "shelf-fruit", body)
        wrists = kp[:, [9, 10], 2]
        cut = np.flatnonzero(wrists.sum(axis=1) == 1)
        if len(cut):
            break
    else:
        pytest.fail("shelf-fruit's image edge never falls between a person's wrists")
    person = int(cut[0])
    assert (kp[person, 5:, 2] == 0).any() and (kp[person, 5:, 2] > 0).any()  # half outside
    hands = HandLinker().update("shelf-fruit", 1, np.array([1, 2]), kp)
    mine = hands.track_id == person + 1
    assert hands.side[mine].tolist() == [int(np.argmax(wrists[person]))]
    seen = hands.xy[mine][0]
    assert 0 <= seen[0] < geom.width + 20  # the hand point may reach just past the edge
