"""Sessions from global shopper ids: one visit per person from the door in to the door out,
through a track lost behind a shelf, parties grouped, still boxes and strays left out."""

from __future__ import annotations

import numpy as np

from storelens.detections import PERSON, Detections
from storelens.geometry import CameraGeometry
from storelens.layout import StoreLayout
from storelens.tracking.sessions import SessionTracker
from storelens.tracking.shoppers import ShopperTracker
from tests.conftest import DEMO_STORE

SCALE = 0.01  # one overhead test camera: 100 px per metre over the whole floor
DT = 0.1
DOOR_IN, DOOR_OUT = (2.0, 0.9), (4.5, 0.9)  # just inside the demo store's doors


def _stages() -> tuple[StoreLayout, ShopperTracker, SessionTracker]:
    layout = StoreLayout.from_yaml(DEMO_STORE)
    camera = CameraGeometry(1300, 900, image_to_floor_H=np.diag([SCALE, SCALE, 1.0]))
    shoppers = ShopperTracker({"top": camera})
    return layout, shoppers, SessionTracker(layout, shoppers)


def _walk(path: list[tuple[float, float, float]], t: np.ndarray) -> np.ndarray:
    """(T,2) positions along waypoints (time, x, y), NaN outside their times."""
    times, xs, ys = (np.array(v, float) for v in zip(*path, strict=True))
    xy = np.column_stack([np.interp(t, times, xs), np.interp(t, times, ys)])
    xy[(t < times[0]) | (t > times[-1])] = np.nan
    return xy


def _run(people: dict[int, np.ndarray], t: np.ndarray):
    """Step both stages: `people` maps a camera track id to its (T,2) floor positions."""
    _, shoppers, sessions = _stages()
    closed = []
    for k, now in enumerate(t.tolist()):
        here = [(tid, xy[k]) for tid, xy in people.items() if np.isfinite(xy[k, 0])]
        boxes = [[x / SCALE - 20, y / SCALE - 150, x / SCALE + 20, y / SCALE] for _, (x, y) in here]
        tracks = Detections(
            xyxy=np.array(boxes, float).reshape(-1, 4),
            class_id=np.full(len(here), PERSON),
            tracker_id=[tid for tid, _ in here],
            camera_id=["top"] * len(here),
        )
        closed += sessions.update(now, shoppers.update(now, tracks))
    return closed + sessions.finish(), sessions


def test_one_visit_from_the_door_in_to_the_door_out_through_a_lost_track():
    t = np.arange(0, 60, DT)
    first = _walk([(0, *DOOR_IN), (8, 6.0, 4.0), (20, 6.0, 4.0)], t)  # then hidden at a shelf
    again = _walk([(25, 7.0, 4.5), (35, 7.0, 4.5), (45, *DOOR_OUT)], t)  # found 5 s later
    closed, sessions = _run({1: first, 2: again}, t)
    assert len(closed) == 1
    (visit,) = closed
    assert visit.entrance_id == "door-in" and visit.exit_id == "door-out"
    assert visit.enter_t == 0.0 and abs(visit.exit_t - 45.0) < 0.2
    assert len(visit.shopper_ids) == 1 and len(visit.shopper_tracks[0]) == 2
    assert visit.decided_at >= visit.exit_t + sessions.config.exit_grace_s
    names, times, xy = sessions.paths()
    assert set(names.tolist()) == set(visit.shopper_ids)
    assert np.isclose(xy[np.argmin(np.abs(times - 8.0))], (6.0, 4.0), atol=0.2).all()


def test_a_party_of_three_is_one_session_and_a_later_shopper_another():
    t = np.arange(0, 70, DT)
    party = {
        1 + m: _walk(
            [
                (0.8 * m, *DOOR_IN),
                (10, 5.0 + 0.6 * m, 5.0),
                (30, 5.0 + 0.6 * m, 5.0),
                (40, *DOOR_OUT),
            ],
            t,
        )
        for m in range(3)
    }
    alone = _walk([(20, *DOOR_IN), (28, 9.0, 2.0), (45, 9.0, 2.0), (55, *DOOR_OUT)], t)
    closed, _ = _run({**party, 9: alone}, t)
    sizes = sorted(len(s.shopper_ids) for s in closed)
    assert sizes == [1, 3]
    group = next(s for s in closed if len(s.shopper_ids) == 3)
    assert group.enter_t == 0.0 and group.entrance_id == "door-in"
    assert len(set(group.shopper_ids)) == 3


def test_a_box_that_stands_still_or_appears_inside_from_nowhere_makes_no_session():
    t = np.arange(0, 60, DT)
    still = _walk([(1, 8.0, 6.0), (50, 8.0, 6.0)], t)  # in the first seconds: "already inside"
    stray = _walk([(30, 10.0, 3.0), (40, 6.0, 3.0)], t)  # walks, but nobody came in
    closed, sessions = _run({1: still, 2: stray}, t)
    assert closed == []
    assert sessions.dropped == 1
