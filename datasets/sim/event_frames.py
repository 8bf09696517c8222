"""When each true shelf event happened and which cameras saw it.

- **Interval**: the run of frames around the touch (`t`) in which the event's hand is in the
  facing's shelf volume — its sphere reaches the facing's front plane, within the facing's
  width and between its board and `HEADROOM_M` above the units. The frames sample the stay:
  `t_start` is half a frame before the run's first frame, `t_end` half a frame after its last
  (a quick reach at 10 fps is inside for one frame, a stay of about a frame). The behaviour
  times the touch at full reach, with the hand centre on the front plane, so every event has
  one; a hand the body could not bring there gives an
  empty run and the interval collapses to `t` (`reach_misses` counts them).
- **Evidence**: per rendered camera, the first and last frame inside the interval in which the
  hand's box is in that camera's `gt/gt.txt` (it is visible there). A run without rendering has
  none.

Both are vectorised over events: only the actor's body in a window around each touch is posed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from storelens.datasets.sim.body import HAND_RADIUS_M, body_frames
from storelens.datasets.sim.views import HAND_ID_BASE

if TYPE_CHECKING:
    from storelens.datasets.sim.behaviour import Timeline
    from storelens.datasets.sim.stock import Facings

WINDOW_S = 3.0  # a reach lasts well under this on either side of its touch
HEADROOM_M = 0.15  # a facing's volume ends this far above its units' tops


def in_facing_volume(hand: np.ndarray, facings: Facings, facing: np.ndarray) -> np.ndarray:
    """(N,) whether each hand sphere (centres (N,3)) reaches into its facing's volume."""
    rel = hand[:, :2] - facings.front_start[facing]
    depth = np.einsum("ij,ij->i", rel, facings.inward[facing])
    along = np.einsum("ij,ij->i", rel, facings.front_dir[facing])
    z = hand[:, 2] - facings.board_z[facing]
    r = HAND_RADIUS_M
    return (
        (depth >= -r)
        & (along >= -r)
        & (along <= facings.width[facing] + r)
        & (z >= -r)
        & (z <= facings.unit_size[facing, 1] + HEADROOM_M + r)
    )


def event_frames(tl: Timeline) -> np.ndarray:
    """(E,4) per event: timeline frame indices of the touch, the interval's first and last
    frame, and 1 where the hand is in the volume at the touch (0: the body could not reach)."""
    E = len(tl.event_actor)
    if E == 0:
        return np.zeros((0, 4), np.int64)
    K = len(tl.t)
    fps = tl.fps or 1.0
    touch = np.clip(np.round((np.array([e["t"] for e in tl.events]) - tl.t[0]) * fps), 0, K - 1)
    touch = touch.astype(np.int64)
    half = int(np.ceil(WINDOW_S * fps))
    offsets = np.arange(-half, half + 1)
    k = np.clip(touch[:, None] + offsets, 0, K - 1)  # (E,W)
    person, hand, facing = tl.event_actor.T
    p = np.broadcast_to(person[:, None], k.shape)
    height = np.array([q.look.height_m for q in tl.persons])[p]
    shoulder = np.array([q.look.shoulder_m for q in tl.persons])[p]
    body = body_frames(
        tl.position[k, p].reshape(-1, 2),
        tl.heading[k, p].reshape(-1),
        height.reshape(-1),
        shoulder.reshape(-1),
        tl.hand_target[k, p].reshape(-1, 2, 3),
        tl.hand_ext[k, p].reshape(-1, 2),
    )
    centre = body.hand[np.arange(body.hand.shape[0]), np.repeat(hand, k.shape[1])]
    inside = in_facing_volume(centre, tl.facings, np.repeat(facing, k.shape[1]))
    inside = inside.reshape(k.shape) & tl.active[k, p]
    # the run of `inside` through the touch (column `half`): walk out to the first False
    mid = half
    before = inside[:, : mid + 1][:, ::-1]
    after = inside[:, mid:]
    back = np.where(before.all(axis=1), before.shape[1], np.argmin(before, axis=1))
    ahead = np.where(after.all(axis=1), after.shape[1], np.argmin(after, axis=1))
    hit = inside[:, mid]
    start = np.where(hit, touch - (back - 1), touch)
    end = np.where(hit, touch + (ahead - 1), touch)
    return np.column_stack(
        [touch, np.clip(start, 0, K - 1), np.clip(end, 0, K - 1), hit.astype(np.int64)]
    )


def with_intervals(tl: Timeline, frames: np.ndarray | None = None) -> list[dict]:
    """The timeline's event rows with their interval (`t_start`, `t_end`) and their evidence
    (what the event already holds, else none); `frames` is `event_frames(tl)` if given."""
    frames = event_frames(tl) if frames is None else frames
    half_frame = 0.5 / (tl.fps or 1.0)
    return [
        {
            **event,
            "t_start": min(float(tl.t[start]) - half_frame * hit, event["t"]),
            "t_end": max(float(tl.t[end]) + half_frame * hit, event["t"]),
            "evidence": event.get("evidence", []),
        }
        for event, (_, start, end, hit) in zip(tl.events, frames.tolist(), strict=True)
    ]


def reach_misses(frames: np.ndarray) -> int:
    """Events whose hand is not in the facing's volume at the touch (the body could not reach;
    their interval is the touch only)."""
    return int(np.sum(frames[:, 3] == 0))


def event_evidence(
    tl: Timeline, frames: np.ndarray, hand_rows: dict[str, np.ndarray]
) -> list[list[dict[str, int | str]]]:
    """Per event, one `FrameRange`-shaped dict per camera that saw the event's hand during its
    interval; `hand_rows[camera]`: (N,3) hand id, camera frame, timeline frame of each hand box."""
    evidence: list[list[dict[str, int | str]]] = [[] for _ in range(len(frames))]
    if not len(frames):
        return evidence
    person, hand, _ = tl.event_actor.T
    gid = np.array([q.gid for q in tl.persons], np.int64)
    hand_id = HAND_ID_BASE + 2 * gid[person] + hand
    shift = np.int64(len(tl.t) + 1)
    for camera_id in sorted(hand_rows):
        rows = np.asarray(hand_rows[camera_id], np.int64).reshape(-1, 3)
        key = rows[:, 0] * shift + rows[:, 2]
        order = np.argsort(key, kind="stable")
        key, camera_frame = key[order], rows[order, 1]
        lo = np.searchsorted(key, hand_id * shift + frames[:, 1], side="left")
        hi = np.searchsorted(key, hand_id * shift + frames[:, 2], side="right")
        for e in np.flatnonzero(hi > lo):  # camera frames rise with timeline frames
            evidence[e].append(
                {
                    "camera_id": camera_id,
                    "first_frame": int(camera_frame[lo[e]]),
                    "last_frame": int(camera_frame[hi[e] - 1]),
                }
            )
    return evidence
