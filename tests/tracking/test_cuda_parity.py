"""Parity of the tracker on the CUDA kernels with the numpy reference: the scenarios of
test_tracker.py (and the options that use the Kalman gate and appearance) run through two
`StoreTracker`s, numpy and cuda-shim (and the GPU when there is one), on the same detections;
every frame must report the same track ids for the same detections, with boxes and Kalman
states within rounding."""

from __future__ import annotations

import numpy as np
import pytest

from storelens import Detections
from storelens.tracking.association import Blocks, assign
from storelens.tracking.config import TrackerConfig
from storelens.tracking.kernels import find_compiler, gpu_loader
from storelens.tracking.tracker import IdCounter, StoreTracker
from tests.tracking.test_tracker import FPS, frame, person_box, random_scene

pytestmark = pytest.mark.skipif(
    find_compiler() is None, reason="no C++ compiler ($CXX or g++): the cuda-shim cannot be built"
)

Step = tuple[Detections, float | None]


def empty_frames() -> list[Step]:
    steps: list[Step] = [(Detections.empty(), None)] * 3
    steps += [(frame([person_box(100 + 5 * k)], k / FPS), None) for k in range(3, 6)]
    steps += [(Detections.empty(), k / FPS) for k in (6, 7)]
    return steps + [(frame([person_box(140)], 8 / FPS), None)]


def crossing() -> list[Step]:
    steps = []
    for k in range(40):
        xa, xb = 50 + 12 * k, 530 - 12 * k
        boxes = ([] if 18 <= k < 23 else [person_box(xa)]) + [person_box(xb, y=205)]
        steps.append((frame(boxes, k / FPS), None))
    return steps


def stop_while_hidden() -> list[Step]:
    steps: list[Step] = []
    for k in range(30):
        if 10 <= k < 16:
            steps.append((Detections.empty(), k / FPS))
        else:
            steps.append((frame([person_box(50 + 15 * min(k, 10))], k / FPS), None))
    return steps


def re_entry() -> list[Step]:
    steps = []
    for k in range(60):
        boxes = [person_box(400)]
        if k < 10 or k >= 45:
            boxes.append(person_box(60 if k < 10 else 200, y=50))
        steps.append((frame(boxes, k / FPS), None))
    return steps


def uneven_rate() -> list[Step]:
    times = [0.0, 0.1, 0.2, 0.3, 0.8, 0.9, 1.6, 1.7, 1.8, 2.6, 2.7]
    return [(frame([person_box(20 + 150.0 * t)], t), None) for t in times]


def two_cameras_and_classes() -> list[Step]:
    steps = []
    for k in range(8):
        parts = [frame([person_box(100 + 4 * k)], k / FPS, camera=c) for c in ("cam-a", "cam-b")]
        parts.append(frame([[110 + 2 * k, 250, 130 + 2 * k, 270]], k / FPS, cls=1))
        parts.append(frame([person_box(104 + 3 * k)], k / FPS, score=0.3))  # low score
        steps.append((Detections.concatenate(parts), None))
    return steps


def crowd(seed: int = 1) -> list[Step]:
    return [
        (Detections.concatenate(parts), None)
        for parts in random_scene(n_cams=6, n_people=8, n_frames=25, seed=seed)
    ]


def swap_with_embeddings() -> list[Step]:
    emb = np.eye(2, 16)
    steps = []
    for k in range(6):
        boxes = [person_box(100), person_box(120)]
        steps.append(
            (
                Detections(
                    xyxy=boxes if k != 4 else boxes[::-1],
                    confidence=[0.9, 0.9],
                    embedding=emb,
                    camera_id="c",
                    timestamp=k / FPS,
                ),
                None,
            )
        )
    return steps


def crowd_with_embeddings() -> list[Step]:
    rng = np.random.default_rng(4)
    identity = rng.normal(size=(6, 8, 24))
    steps = []
    for k, parts in enumerate(random_scene(n_cams=6, n_people=8, n_frames=20, seed=4)):
        dets = Detections.concatenate(parts)
        emb = identity.reshape(-1, 24)[: len(dets)] + rng.normal(0, 0.2, (len(dets), 24))
        steps.append((dets.with_fields(embedding=emb) if k else dets, None))
    return steps


SCENARIOS = {
    "empty frames": (empty_frames, TrackerConfig()),
    "crossing with occlusion": (crossing, TrackerConfig()),
    "stop while hidden": (stop_while_hidden, TrackerConfig()),
    "re-entry after the buffer": (re_entry, TrackerConfig(lost_track_buffer_s=1.0)),
    "uneven frame rate": (uneven_rate, TrackerConfig(lost_track_buffer_s=1.5)),
    "two cameras, classes, low scores": (two_cameras_and_classes, TrackerConfig()),
    "crowd of 6 cameras": (crowd, TrackerConfig()),
    "crowd, motion gate and direction": (
        crowd,
        TrackerConfig(motion_gate=True, direction_weight=0.2, freeze_size_when_lost=False),
    ),
    "crowd, detection boxes, min_hits 1": (
        crowd,
        TrackerConfig(output_box="detection", min_hits=1, observation_recovery=False),
    ),
    "swap told apart by appearance": (
        swap_with_embeddings,
        TrackerConfig(
            appearance_weight=0.9, appearance_gate=0.3, appearance_proximity=1.0, match_cost=1.0
        ),
    ),
    "crowd with appearance": (crowd_with_embeddings, TrackerConfig(appearance_weight=0.5)),
}


def other_backends() -> list:
    loader, reasons = gpu_loader()
    gpu = pytest.param(
        "cuda",
        marks=[pytest.mark.gpu]
        + ([] if loader else [pytest.mark.skip(reason="no CUDA GPU: " + "; ".join(reasons))]),
    )
    return ["cuda-shim", gpu]


def assert_same_tracking(steps: list[Step], config: TrackerConfig, backend: str) -> int:
    """Run both trackers; returns how many tracks were reported in all (so a test can check
    the scenario really tracked something)."""
    ref = StoreTracker(config, id_counter=IdCounter(), backend="numpy")
    got = StoreTracker(config, id_counter=IdCounter(), backend=backend)
    reported = 0
    for k, (dets, now) in enumerate(steps):
        want, have = ref.update(dets, now), got.update(dets, now)
        where = f"frame {k}"
        np.testing.assert_array_equal(have.tracker_id, want.tracker_id, err_msg=where)
        np.testing.assert_array_equal(
            have.data["detection_index"], want.data["detection_index"], err_msg=where
        )
        np.testing.assert_allclose(have.xyxy, want.xyxy, rtol=1e-9, atol=1e-9, err_msg=where)
        np.testing.assert_array_equal(got.tracks.track_id, ref.tracks.track_id, err_msg=where)
        np.testing.assert_array_equal(got.tracks.state, ref.tracks.state, err_msg=where)
        np.testing.assert_allclose(got.tracks.mean, ref.tracks.mean, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got.tracks.cov, ref.tracks.cov, rtol=1e-9, atol=1e-9)
        reported += len(want)
    return reported


@pytest.mark.parametrize("backend", other_backends())
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_tracks_as_numpy(scenario, backend):
    make, config = SCENARIOS[scenario]
    assert assert_same_tracking(make(), config, backend) > 0


@pytest.mark.parametrize("backend", other_backends())
def test_a_checkpoint_from_numpy_resumes_on_the_kernels(backend):
    """The backend is not part of a checkpoint: numpy's state carries on, unchanged, on cuda."""
    steps = crowd(seed=2)
    ref = StoreTracker(id_counter=IdCounter())
    for dets, now in steps[:12]:
        ref.update(dets, now)
    resumed = StoreTracker(TrackerConfig(backend=backend), id_counter=IdCounter())
    resumed.load_state_dict(ref.state_dict())
    for dets, now in steps[12:]:
        want, have = ref.update(dets, now), resumed.update(dets, now)
        np.testing.assert_array_equal(have.tracker_id, want.tracker_id)
        np.testing.assert_allclose(have.xyxy, want.xyxy, rtol=1e-9, atol=1e-9)


def test_ties_are_broken_the_same_way_every_time():
    """Equal costs: `lap.lapjv` is deterministic (it scans rows and columns in index order),
    so one cost matrix always gives one matching — on every backend, since all of them feed it
    the same matrix (the IoU blocks are numpy's bit for bit)."""
    cost = np.full((1, 3, 3), 0.5)
    blocks = Blocks(np.zeros(1, int), np.arange(3)[None, :])
    first = assign(cost, blocks, blocks, limit=0.8)
    assert sorted(first[0].tolist()) == [0, 1, 2] and sorted(first[1].tolist()) == [0, 1, 2]
    for _ in range(5):
        again = assign(cost.copy(), blocks, blocks, limit=0.8)
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1], first[1])


@pytest.mark.parametrize("backend", other_backends())
def test_identical_people_side_by_side_get_the_same_ids_on_every_backend(backend):
    """Two tracks equally close to two detections (a tie in every cost): same ids as numpy."""
    steps = [(frame([person_box(100), person_box(100)], k / FPS), None) for k in range(6)]
    assert assert_same_tracking(steps, TrackerConfig(), backend) > 0
