"""The simulated body's skeleton: every joint of P people at one instant, posture included.

A person is a floor position, a heading, a height and a shoulder width (their `Look`), and per
hand a target and an extension (`Timeline.hand_target`, `hand_ext`: 0 at rest, 1 at the target,
negative while holding something at the chest). From those this module derives the joints a
pose format needs — shoulders, elbows, wrists, hips, knees, ankles — plus the hand centres, the
pelvis and the torso's axis that `scene.people` draws the body from.

Reaching a shelf low or far away bends the body: the posture (a crouch at the knees and a
forward lean at the hips) is the least effort among a small grid that puts every reaching hand's
target within arm's length, blended in with the arm's extension, so a hand arrives at the facing
when the arm is fully out. Elbows and knees come from two-bone inverse kinematics (elbows bend
down, out and back; knees forward). All of it is vectorised over people and hands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARM_LENGTH_PER_HEIGHT = 0.44  # shoulder → hand centre, arm straight
UPPER_ARM_PER_HEIGHT = 0.21  # shoulder → elbow
FOREARM_PER_HEIGHT = ARM_LENGTH_PER_HEIGHT - UPPER_ARM_PER_HEIGHT  # elbow → hand centre
WRIST_TO_HAND_PER_HEIGHT = 0.045  # the wrist sits this far up the forearm from the hand centre
REST_HAND_DROP_PER_HEIGHT = 0.42  # a hanging hand's centre below its shoulder
LEG_PER_HEIGHT = 0.47  # floor → pelvis (the top of the legs, where the torso starts)
TORSO_PER_HEIGHT = 0.36  # pelvis → top of the torso
SHOULDER_ABOVE_PELVIS_PER_HEIGHT = 0.34
HIP_BELOW_PELVIS_PER_HEIGHT = 0.02
THIGH_PER_HEIGHT = 0.19  # hip → knee
SHIN_PER_HEIGHT = 0.22  # knee → ankle
ANKLE_PER_HEIGHT = 0.04
HEAD_RADIUS_PER_HEIGHT = 0.06
HAND_RADIUS_M = 0.05  # the hand sphere
REACH_SLACK = 0.97  # a target counts as reachable within this share of the arm's length
CROUCH_PER_HEIGHT = np.linspace(0.0, 0.24, 7)  # pelvis lowered by (0.24: a full squat)
LEAN_RAD = np.radians(np.arange(0.0, 71.0, 10.0))  # torso tilted forward by
_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class BodyFrame:
    """Where each joint of P people is: (P,2,3) arrays (the person's own left, right) and
    (P,3) ones for the trunk, in the store frame (metres)."""

    shoulder: np.ndarray
    elbow: np.ndarray
    wrist: np.ndarray
    hand: np.ndarray  # centre of the hand sphere
    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    foot: np.ndarray  # on the floor below the ankle
    pelvis: np.ndarray  # (P,3) the torso's bottom centre
    torso_axis: np.ndarray  # (P,3) unit vector pelvis → shoulders
    torso_forward: np.ndarray  # (P,3) unit vector, the chest's facing (tilts down with a lean)
    head: np.ndarray  # (P,3) centre of the head sphere


def two_bone(
    root: np.ndarray, end: np.ndarray, first: np.ndarray, second: np.ndarray, pole: np.ndarray
) -> np.ndarray:
    """The middle joint of (…,3) chains root → end with bone lengths `first`, `second` (…),
    bent towards `pole` (…,3); an end out of reach straightens the chain towards it."""
    a, b = first[..., None], second[..., None]
    span = end - root
    d = np.linalg.norm(span, axis=-1, keepdims=True)
    u = span / np.maximum(d, 1e-9)
    d = np.clip(d, np.abs(a - b) + 1e-6, a + b)
    along = (a**2 - b**2 + d**2) / (2 * d)
    across = np.sqrt(np.maximum(a**2 - along**2, 0.0))
    bend = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    return root + along * u + across * bend / np.maximum(norm, 1e-9)


def _shoulders(
    base: np.ndarray,
    height: np.ndarray,
    half_span: np.ndarray,
    out: np.ndarray,
    fwd: np.ndarray,
    crouch: np.ndarray,
    lean: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pelvis (…,3), torso axis (…,3) and both shoulders (…,2,3) of a posture; every input
    broadcasts against (P, …) with P first."""
    pelvis = base + ((LEG_PER_HEIGHT - crouch) * height)[..., None] * _UP
    axis = np.cos(lean)[..., None] * _UP + np.sin(lean)[..., None] * fwd
    centre = pelvis + (SHOULDER_ABOVE_PELVIS_PER_HEIGHT * height)[..., None] * axis
    shoulder = centre[..., None, :] + half_span[..., None, None] * out
    return pelvis, axis, shoulder


def _posture(
    base: np.ndarray,
    height: np.ndarray,
    half_span: np.ndarray,
    out: np.ndarray,
    fwd: np.ndarray,
    target: np.ndarray,
    reaching: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The least-effort (crouch, lean) per person that brings every reaching hand's target
    within arm's length; where none does, the one that comes closest."""
    crouch, lean = (g.ravel() for g in np.meshgrid(CROUCH_PER_HEIGHT, LEAN_RAD, indexing="ij"))
    G = len(crouch)
    _, _, shoulder = _shoulders(
        base[:, None],
        height[:, None],
        half_span[:, None],
        out[:, None],
        fwd[:, None],
        np.broadcast_to(crouch, (len(base), G)),
        np.broadcast_to(lean, (len(base), G)),
    )  # (P,G,2,3)
    reach = REACH_SLACK * ARM_LENGTH_PER_HEIGHT * height[:, None, None]
    short = np.maximum(np.linalg.norm(target[:, None] - shoulder, axis=-1) - reach, 0.0)
    shortfall = np.where(reaching[:, None], short, 0.0).sum(axis=2)  # (P,G)
    effort = crouch / CROUCH_PER_HEIGHT[-1] + lean / LEAN_RAD[-1]
    cost = np.where(shortfall <= 1e-9, effort, 10.0 + shortfall)
    best = np.argmin(cost, axis=1)
    return crouch[best], lean[best]


def body_frames(
    position: np.ndarray,
    heading: np.ndarray,
    height: np.ndarray,
    shoulder_w: np.ndarray,
    hand_target: np.ndarray,
    hand_ext: np.ndarray,
) -> BodyFrame:
    """Every joint of P people from their floor position (P,2), heading (P,), height (P,),
    shoulder width (P,) and arm state (P,2,3), (P,2); see the module docstring."""
    P = len(position)
    zeros = np.zeros(P)
    fwd = np.stack([np.cos(heading), np.sin(heading), zeros], axis=1)
    left = np.stack([-np.sin(heading), np.cos(heading), zeros], axis=1)
    base = np.column_stack([position, zeros])
    side = np.array([1.0, -1.0])  # hand 0 = left, 1 = right (the person's own)
    out = side[None, :, None] * left[:, None, :]  # (P,2,3) away from the body, per side
    half_span = shoulder_w / 2 + 0.03

    reaching = hand_ext > 0
    crouch, lean = _posture(base, height, half_span, out, fwd, hand_target, reaching)
    amount = np.clip(np.where(reaching, hand_ext, 0.0), 0, 1).max(axis=1)
    crouch, lean = crouch * amount, lean * amount
    pelvis, axis, shoulder = _shoulders(base, height, half_span, out, fwd, crouch, lean)

    rest = (
        shoulder
        + (REST_HAND_DROP_PER_HEIGHT * height)[:, None, None] * -_UP
        + 0.06 * fwd[:, None, :]
    )
    chest = pelvis + (0.15 * height)[:, None] * axis + 0.32 * fwd
    chest = chest[:, None, :] + 0.06 * out
    ext = hand_ext[..., None]
    hand = np.where(ext < 0, chest, rest + np.clip(ext, 0, 1) * (hand_target - rest))
    arm = hand - shoulder
    length = np.linalg.norm(arm, axis=2, keepdims=True)
    max_len = (ARM_LENGTH_PER_HEIGHT * height)[:, None, None]
    hand = shoulder + arm * np.minimum(1.0, max_len / np.maximum(length, 1e-9))

    per_arm = np.broadcast_to(height[:, None], (P, 2))
    elbow_pole = -_UP + 0.6 * out - 0.5 * fwd[:, None, :]
    elbow = two_bone(
        shoulder, hand, UPPER_ARM_PER_HEIGHT * per_arm, FOREARM_PER_HEIGHT * per_arm, elbow_pole
    )
    forearm = elbow - hand
    wrist = hand + forearm * (
        (WRIST_TO_HAND_PER_HEIGHT * height)[:, None, None]
        / np.maximum(np.linalg.norm(forearm, axis=2, keepdims=True), 1e-9)
    )

    leg_out = (shoulder_w * 0.22)[:, None, None] * out
    hip = pelvis[:, None, :] - (HIP_BELOW_PELVIS_PER_HEIGHT * height)[:, None, None] * _UP + leg_out
    foot = base[:, None, :] + leg_out
    ankle = foot + (ANKLE_PER_HEIGHT * height)[:, None, None] * _UP
    knee = two_bone(
        hip,
        ankle,
        THIGH_PER_HEIGHT * per_arm,
        SHIN_PER_HEIGHT * per_arm,
        np.broadcast_to(fwd[:, None, :], (P, 2, 3)),
    )
    forward = np.cos(lean)[:, None] * fwd - np.sin(lean)[:, None] * _UP
    head_r = HEAD_RADIUS_PER_HEIGHT * height
    head = pelvis + ((1.0 - LEG_PER_HEIGHT) * height - head_r)[:, None] * axis
    return BodyFrame(
        shoulder=shoulder,
        elbow=elbow,
        wrist=wrist,
        hand=hand,
        hip=hip,
        knee=knee,
        ankle=ankle,
        foot=foot,
        pelvis=pelvis,
        torso_axis=axis,
        torso_forward=forward,
        head=head,
    )
