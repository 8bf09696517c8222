"""Shelf events: the facings' image regions, their change score on a rendered shelf camera, and
the events stage deciding picks, put-backs and touches from hands and those changes."""

import cv2
import numpy as np
import pytest

from storelens.datasets.recording import StoreRecording
from storelens.facings import facing_volumes
from storelens.layout import StoreLayout
from storelens.tracking.events import EventConfig, ShelfEventStage
from storelens.tracking.facing_changes import FacingChangeDetector
from storelens.tracking.shelf_change import ShelfChangeMonitor, facing_regions

CAMERA = "shelf-fruit"
STEP = 0.1


@pytest.fixture(scope="module")
def shelf_view(small_sim):
    """The small run's store, its geometries and the first frame of its shelf camera."""
    layout = StoreLayout.from_yaml(small_sim / "store.yaml")
    geometries = {c.camera_id: c.geometry() for c in layout.cameras if c.camera_id == CAMERA}
    cap = cv2.VideoCapture(str(StoreRecording(small_sim).video(CAMERA)))
    ok, image = cap.read()
    cap.release()
    assert ok
    return layout, geometries, image


def _paint(image, quad, colour=(120, 120, 120)):
    """The facing's left half painted over, as when its front units are gone."""
    out = image.copy()
    q = quad.astype(np.float32)
    left = np.array([q[0], (q[0] + q[1]) / 2, (q[3] + q[2]) / 2, q[3]], np.int32)
    cv2.fillPoly(out, [left], colour)
    return out


def test_regions_lie_on_the_facings_the_camera_sees(shelf_view):
    layout, geometries, image = shelf_view
    volumes = facing_volumes(layout)
    region = facing_regions(volumes, geometries, layout)[CAMERA]
    assert len(region) >= 20
    h, w = image.shape[:2]
    assert (region.corners[..., 0] >= 0).all() and (region.corners[..., 0] < w).all()
    assert (region.corners[..., 1] >= 0).all() and (region.corners[..., 1] < h).all()
    centre, _ = geometries[CAMERA].project(volumes.centres()[region.facing])
    for quad, c in zip(region.corners, centre, strict=True):  # a few dozen facings
        assert cv2.pointPolygonTest(quad.astype(np.float32), tuple(map(float, c)), False) > 0


def test_change_score_ignores_lighting_sees_a_removed_unit_and_skips_hidden_views(shelf_view):
    layout, geometries, image = shelf_view
    volumes = facing_volumes(layout)
    regions = facing_regions(volumes, geometries, layout)
    region = regions[CAMERA]
    target, other = int(region.facing[0]), int(region.facing[-1])
    monitor = ShelfChangeMonitor(regions, sample_s=0.0)
    none = np.zeros((0, 4))
    monitor.update(CAMERA, 0.0, image, none)
    darker = np.clip(image.astype(float) * [0.8, 0.85, 0.9] + 10, 0, 255).astype(np.uint8)
    monitor.update(CAMERA, 1.0, darker, none)
    assert monitor.change(target, 0.5, 0.5) < 0.05  # exposure and white balance drift
    # someone stands in front of the target: that view is not clear, the next one is
    changed = _paint(image, region.corners[0])
    x0, y0 = region.corners[0].min(axis=0)
    x1, y1 = region.corners[0].max(axis=0)
    monitor.update(CAMERA, 2.0, changed, np.array([[x0 - 5, y0 - 5, x1 + 5, y1 + 5]]))
    assert monitor.change(target, 1.5, 1.5) is None
    monitor.update(CAMERA, 3.0, changed, none)
    assert monitor.change(target, 1.5, 1.5) > 0.3
    assert monitor.change(other, 1.5, 1.5) < 0.05
    assert monitor.change(target, 1.5, 1.5, t_until=2.5) is None  # the next reach came first


class _Shelf:
    """A scripted shelf camera and hands for the events stage: the stage sees the frame
    `image_at(t)` and the hands `hands_at(t)` every STEP seconds."""

    def __init__(self, layout, geometries, image):
        self.stage = ShelfEventStage(layout, geometries, config=EventConfig(sample_s=0.0))
        self.region = self.stage.monitor.regions[CAMERA]
        self.volumes = self.stage.facings
        self.image = image

    def facing(self, row):
        return int(self.region.facing[row])

    def point(self, facing):
        return self.volumes.centres()[facing]

    def run(self, until, image_at, hands_at, camera_lost=(0.0, 0.0)):
        """Every step to `until`; the shelf camera's frames in `camera_lost` never arrive."""
        events = []
        for t in np.arange(0.0, until, STEP):
            if not camera_lost[0] <= t < camera_lost[1]:
                self.stage.monitor.update(CAMERA, t, image_at(t), np.zeros((0, 4)))
            person, side, xyz = hands_at(t)
            events += self.stage.update_points(
                t, np.asarray(person, int), np.asarray(side, int), np.asarray(xyz, float)
            )
        return events + self.stage.finish(until)


def _reach(facing_points, windows):
    """Hands of person 1 (right) at `facing_points[k]` inside `windows[k]` = (start, end)."""

    def hands_at(t):
        for point, (a, b) in zip(facing_points, windows, strict=True):
            if a <= t <= b:
                return [1], [1], point.reshape(1, 3)
        return [], [], np.zeros((0, 3))

    return hands_at


@pytest.fixture
def shelf(shelf_view):
    return _Shelf(*shelf_view)


def test_a_reach_that_changes_the_facing_is_a_pick_of_its_sku(shelf):
    f = shelf.facing(2)
    changed = _paint(shelf.image, shelf.region.corners[2])
    events = shelf.run(
        4.0,
        lambda t: shelf.image if t < 1.0 else changed,
        _reach([shelf.point(f)], [(1.0, 1.5)]),
    )
    assert len(events) == 1
    e = events[0]
    assert (e.kind, e.sku, e.shelf_id, e.level, e.slot) == (
        "pick", shelf.volumes.sku[f], shelf.volumes.shelf_id[f],
        shelf.volumes.level[f], shelf.volumes.slot[f],
    )  # fmt: skip
    assert e.t_start == pytest.approx(1.0) and e.t == pytest.approx(1.5)
    assert e.change_score > 2 * EventConfig().change_threshold and e.hand == "right"
    assert e.decided_at - e.t <= 1.0  # a first answer within a second of the hand leaving


def test_a_reach_that_leaves_the_facing_as_it_was_is_a_touch(shelf):
    f = shelf.facing(2)
    events = shelf.run(4.0, lambda t: shelf.image, _reach([shelf.point(f)], [(1.0, 1.5)]))
    assert events == []
    assert len(shelf.stage.touches) == 1 and shelf.stage.touches[0].facing == f


def test_putting_the_item_back_restores_the_facing_and_is_a_put_back(shelf):
    f = shelf.facing(2)
    changed = _paint(shelf.image, shelf.region.corners[2])
    events = shelf.run(
        6.0,
        lambda t: changed if 1.0 <= t < 3.0 else shelf.image,
        _reach([shelf.point(f)] * 2, [(1.0, 1.5), (3.0, 3.4)]),
    )
    assert [e.kind for e in events] == ["pick", "put_back"]
    assert events[1].sku == events[0].sku and events[1].shopper_id == events[0].shopper_id


def test_a_second_pick_at_the_same_facing_is_a_pick(shelf):
    f = shelf.facing(2)
    first = _paint(shelf.image, shelf.region.corners[2])
    second = cv2.rectangle(
        first.copy(),
        tuple(shelf.region.corners[2][1].astype(int) - [12, 12]),
        tuple(shelf.region.corners[2][2].astype(int) + [0, 4]),
        (60, 200, 60),
        -1,
    )
    events = shelf.run(
        6.0,
        lambda t: shelf.image if t < 1.0 else (first if t < 3.0 else second),
        _reach([shelf.point(f)] * 2, [(1.0, 1.5), (3.0, 3.4)]),
    )
    assert [e.kind for e in events] == ["pick", "pick"]


def test_a_hand_briefly_unseen_and_a_dropped_frame_give_one_event(shelf):
    f = shelf.facing(2)
    changed = _paint(shelf.image, shelf.region.corners[2])
    inside = _reach([shelf.point(f)], [(1.0, 1.8)])

    def with_dropout(t):
        return ([], [], np.zeros((0, 3))) if 1.3 <= t < 1.5 else inside(t)

    events = shelf.run(
        4.0,
        lambda t: shelf.image if t < 1.0 else changed,
        with_dropout,
        camera_lost=(1.9, 2.1),  # the shelf camera's frames just after the reach
    )
    assert len(events) == 1 and events[0].kind == "pick"
    assert events[0].t_start == pytest.approx(1.0) and events[0].t == pytest.approx(1.8)


def test_two_shoppers_at_one_shelf_give_two_events_with_their_own_shoppers(shelf):
    rows = [0, len(shelf.region) - 1]
    f, g = (shelf.facing(r) for r in rows)
    assert not shelf.stage.neighbours[f, g]
    changed = _paint(
        _paint(shelf.image, shelf.region.corners[rows[0]]), shelf.region.corners[rows[1]]
    )

    def hands_at(t):
        if 1.0 <= t <= 1.5:
            return [1, 2], [1, 0], np.stack([shelf.point(f), shelf.point(g)])
        return [], [], np.zeros((0, 3))

    events = shelf.run(4.0, lambda t: shelf.image if t < 1.0 else changed, hands_at)
    assert sorted((e.shelf_id, e.level, e.slot) for e in events) == sorted(
        (shelf.volumes.shelf_id[x], shelf.volumes.level[x], shelf.volumes.slot[x]) for x in (f, g)
    )
    assert len({e.shopper_id for e in events}) == 2


def test_a_change_seen_twice_is_confirmed_a_passing_one_is_not_and_a_refill_restores(shelf_view):
    layout, geometries, image = shelf_view
    regions = facing_regions(facing_volumes(layout), geometries, layout)
    region = regions[CAMERA]
    detector = FacingChangeDetector(regions, threshold=0.3, sample_s=0.3)
    row = int(np.argmax(region.area_px))
    facing = int(region.facing[row])
    emptied = _paint(image, region.corners[row])
    x0, y0 = region.corners[row].min(axis=0) - 5
    x1, y1 = region.corners[row].max(axis=0) + 5
    person = np.array([[x0, y0, x1, y1]])
    none = np.zeros((0, 4))
    script = [  # (image, person boxes) every 0.3 s
        (image, none), (image, none),
        (emptied, none), (image, none),  # seen changed once only: a passing arm
        (emptied, person), (emptied, person),  # hidden: not judged
        (emptied, none), (emptied, none),  # changed and it stays: confirmed
        (image, none), (image, none),  # the earlier look again: restored
    ]  # fmt: skip
    changes = []
    for i, (picture, boxes) in enumerate(script):
        changes += detector.update(CAMERA, 0.3 * i, picture, boxes)
    mine = [c for c in changes if c.facing == facing]
    assert [(round(c.t_before, 1), round(c.t_after, 1), c.restores) for c in mine] == [
        (0.9, 1.8, False),
        (2.1, 2.4, True),
    ]
    assert all(c.score >= 0.3 for c in mine)
    assert all(c.facing == facing for c in changes)  # the painted facing only
    assert detector.settled_since(CAMERA)[facing] == 0.3 * 9
