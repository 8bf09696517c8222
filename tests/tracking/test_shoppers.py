"""The shoppers stage: camera person tracks fused into global ids on the floor, and the
multi-camera metric that scores them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from storelens.datasets.formats.mot import MotTable, write_mot
from storelens.datasets.recording import StoreRecording
from storelens.detections import PERSON, Detections
from storelens.evaluation.mtmc_metrics import evaluate_mtmc
from storelens.geometry import CameraGeometry
from storelens.tracking.shoppers import ShopperConfig, ShopperTracker

SCALE = 0.01  # both test cameras: 100 px per metre, camera B shifted 2 m along x


def _cameras() -> dict[str, CameraGeometry]:
    a = np.diag([SCALE, SCALE, 1.0])
    b = np.array([[SCALE, 0, -2.0], [0, SCALE, 0], [0, 0, 1]])
    return {
        "a": CameraGeometry(800, 600, image_to_floor_H=a),
        "b": CameraGeometry(800, 600, image_to_floor_H=b),
    }


def _box(camera: str, floor_xy: tuple[float, float]) -> list[float]:
    """A person box whose foot point lands on `floor_xy` in `camera`."""
    x = floor_xy[0] / SCALE + (200 if camera == "b" else 0)
    y = floor_xy[1] / SCALE
    return [x - 20, y - 150, x + 20, y]


def _tracks(t: float, seen: list[tuple[str, int, tuple[float, float]]]) -> Detections:
    return Detections(
        xyxy=np.array([_box(c, xy) for c, _, xy in seen]).reshape(-1, 4),
        class_id=np.full(len(seen), PERSON),
        tracker_id=[tid for _, tid, _ in seen],
        camera_id=[c for c, _, _ in seen],
        timestamp=np.full(len(seen), t),
    )


def test_one_person_keeps_one_id_across_cameras_and_a_new_track():
    shoppers = ShopperTracker(_cameras())
    ids = []
    for k in range(40):
        t = k * 0.1
        p, q = (1.0 + 0.05 * k, 2.0), (4.0 - 0.05 * k, 4.0)  # two people walking past each other
        b_track = 3 if k < 20 else 9  # camera b loses person p and re-finds it as track 9
        seen = [("a", 1, p), ("a", 2, q), ("b", b_track, p), ("b", 4, q)]
        step = shoppers.update(t, _tracks(t, seen))
        ids.append(step.shopper_id)
    ids = np.array(ids)
    assert (ids[:, 0] == ids[0, 0]).all() and (ids[:, 2] == ids[0, 0]).all()
    assert (ids[:, 1] == ids[0, 1]).all() and (ids[:, 3] == ids[0, 1]).all()
    assert ids[0, 0] != ids[0, 1]
    assert shoppers.corrections == []


def test_two_tracks_of_one_camera_are_two_people_even_side_by_side():
    shoppers = ShopperTracker(_cameras())
    for k in range(30):
        t = k * 0.1
        step = shoppers.update(t, _tracks(t, [("a", 1, (2.0, 2.0)), ("a", 2, (2.2, 2.0))]))
        assert step.shopper_id[0] != step.shopper_id[1]
    assert not [c for c in shoppers.corrections if c.kind == "merge"]


def test_shoppers_started_apart_are_merged_and_recorded():
    config = ShopperConfig(merge_steps=5)
    shoppers = ShopperTracker(_cameras(), config)
    first = None
    for k in range(30):
        t = k * 0.1
        off = max(1.5 - 0.15 * k, 0.0)  # camera b's floor point starts 1.5 m off, then agrees
        step = shoppers.update(t, _tracks(t, [("a", 1, (2.0, 2.0)), ("b", 7, (2.0 + off, 2.0))]))
        if first is None:
            first = step.shopper_id.copy()
    assert first is not None and first[0] != first[1]  # too far apart to be one at first
    merges = [c for c in shoppers.corrections if c.kind == "merge"]
    assert len(merges) == 1 and merges[0].kept == first[0] and merges[0].removed == first[1]
    assert step.shopper_id[0] == step.shopper_id[1] == first[0]
    assert shoppers.resolve(first[1]) == first[0]  # the earlier answer maps to the merged id


def test_a_track_joined_wrongly_is_split_off():
    config = ShopperConfig(split_steps=3)
    shoppers = ShopperTracker(_cameras(), config)
    for k in range(25):
        t = k * 0.1
        walk = 0.0 if k < 5 else 0.3 * (k - 5)  # b's track walks away from where a sees its person
        step = shoppers.update(t, _tracks(t, [("a", 1, (2.0, 2.0)), ("b", 5, (2.0 + walk, 2.0))]))
    splits = [c for c in shoppers.corrections if c.kind == "split"]
    assert len(splits) == 1 and (splits[0].camera_id, splits[0].track_id) == ("b", 5)
    assert step.shopper_id[0] != step.shopper_id[1]


def test_mtmc_scores_one_global_id_per_person_and_punishes_per_camera_ids(small_sim, tmp_path):
    recording = StoreRecording(small_sim)
    perfect, per_camera = {}, {}
    for k, camera in enumerate(recording.camera_ids):
        gt = recording.ground_truth(camera)
        people = gt.select(gt.class_id == PERSON)
        results = MotTable(
            people.frame,
            people.track_id,
            people.tlwh,
            np.ones(len(people)),
            people.class_id,
            np.ones(len(people)),
        )
        perfect[camera] = write_mot(tmp_path / "ok" / f"{camera}.txt", results, "results")
        shifted = replace(results, track_id=results.track_id + 1000 * (k + 1))
        per_camera[camera] = write_mot(tmp_path / "cam" / f"{camera}.txt", shifted, "results")
    assert evaluate_mtmc(recording, perfect).idf1 > 0.99
    multi = [c for c in recording.camera_ids if len(recording.ground_truth(c))]
    assert len(multi) >= 2
    assert evaluate_mtmc(recording, per_camera).idf1 < 0.9
