"""The store pipeline: causal (one call over a run == frame-by-frame stepping; output up to frame
k never depends on later frames), resumable from a checkpoint, and nothing biometric persisted.
Runs on the small rendered simulation (two cameras, 8 s) through the real tracker."""

import numpy as np
import pytest

from storelens.datasets.formats.mot import write_mot
from storelens.datasets.recording import StoreRecording
from storelens.detections import Detections
from storelens.evaluation.mot_runner import mot_tables
from storelens.evaluation.store_runner import noisy_steps, run_store, video_steps
from storelens.frames import FrameBatch
from storelens.tracking.config import TrackerConfig
from storelens.tracking.pipeline import StorePipeline
from storelens.tracking.tracker import StoreTracker


def _rows(outputs) -> np.ndarray:
    """Every reported track box of a list of step outputs as one comparable array."""
    tracks = Detections.concatenate([o.tracks for o in outputs])
    return np.column_stack(
        [
            tracks.data["frame_index"],
            tracks.tracker_id,
            np.unique(tracks.camera_id, return_inverse=True)[1],
            tracks.timestamp,
            tracks.xyxy,
        ]
    )


@pytest.fixture(scope="module")
def steps(small_sim):
    return list(noisy_steps(StoreRecording(small_sim), seed=1))


def test_one_call_over_the_run_equals_stepping_frame_by_frame(small_sim, steps, tmp_path):
    """`run_store` (one call: reads the run, steps, writes tracks/) against a loop that steps a
    fresh pipeline one frame at a time, as a live worker does, and writes the same files."""
    run_store(
        small_sim, tmp_path / "whole", detections="ground-truth-noisy", seed=1, progress=False
    )
    stepper = StorePipeline()
    tracks = []
    for frames, dets in steps:
        tracks.append(stepper.step(frames, dets).tracks)
    stepped = mot_tables(Detections.concatenate(tracks))
    assert sum(len(t) for t in stepped.values()) > 100
    for camera, table in stepped.items():
        path = write_mot(tmp_path / "stepped" / f"{camera}.txt", table, kind="results")
        assert path.read_text() == (tmp_path / "whole" / "tracks" / f"{camera}.txt").read_text()


@pytest.mark.parametrize("k", [5, 37, 61])
def test_output_up_to_frame_k_does_not_depend_on_later_frames(steps, k):
    pipeline = StorePipeline()
    assert pipeline.lookahead_s == 0.0  # declared: a reported track is final at once
    full = list(pipeline.run(steps))
    truncated = list(StorePipeline().run(steps[:k]))
    np.testing.assert_array_equal(_rows(full[:k]), _rows(truncated))


@pytest.mark.parametrize("k", [1, 30, 55])
def test_resuming_from_a_checkpoint_file_gives_the_uninterrupted_tracks(steps, tmp_path, k):
    config = TrackerConfig()
    uninterrupted = list(StorePipeline(StoreTracker(config)).run(steps))
    first = StorePipeline(StoreTracker(config))
    head = list(first.run(steps[:k]))
    path = first.save_checkpoint(tmp_path / "pipeline.npz")
    resumed = StorePipeline(StoreTracker(config))
    resumed.load_checkpoint(path)
    assert resumed.steps == k
    tail = list(resumed.run(steps[k:]))
    np.testing.assert_array_equal(_rows(uninterrupted), _rows(head + tail))


def _colour_embedder(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """A real (if weak) appearance feature: each box's 4x4x4 colour histogram, unit length."""
    h, w = image.shape[:2]
    feats = []
    for x1, y1, x2, y2 in np.clip(np.round(xyxy), 0, [w, h, w, h]).astype(int):
        crop = image[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)].reshape(-1, 3) // 64
        hist = np.bincount(crop[:, 0] * 16 + crop[:, 1] * 4 + crop[:, 2], minlength=64)
        feats.append(hist / max(np.linalg.norm(hist), 1e-9))
    return np.asarray(feats, np.float32).reshape(len(xyxy), 64)


def test_a_checkpoint_with_appearance_on_holds_no_embedding(small_sim, steps, tmp_path):
    """Appearance is used while running, never persisted; after a resume it is rebuilt."""
    frames = [f for f, _ in video_steps(StoreRecording(small_sim))][:40]
    inputs = [(f, d) for f, (_, d) in zip(frames, steps, strict=False)]
    config = TrackerConfig(appearance_weight=0.3)
    pipeline = StorePipeline(StoreTracker(config), embedder=_colour_embedder)
    outputs = list(pipeline.run(inputs[:30]))
    used = Detections.concatenate([o.detections for o in outputs]).embedding
    assert used is not None and used.shape[1] == 64 and np.abs(used).sum() > 0
    path = pipeline.save_checkpoint(tmp_path / "ckpt.npz")
    with np.load(path, allow_pickle=False) as saved:
        assert not [k for k in saved.files if "embed" in k.lower()]
        for key in saved.files:
            arr = saved[key]
            assert not (arr.ndim >= 2 and arr.shape[-1] == 64), key
            if arr.dtype.kind == "f" and arr.size:
                assert not np.isin(used[np.abs(used) > 1e-3], arr).any(), key
    resumed = StorePipeline(StoreTracker(config), embedder=_colour_embedder)
    resumed.load_checkpoint(path)
    rest = list(resumed.run(inputs[30:]))
    assert sum(len(o.tracks) for o in rest) > 0


def test_bad_input_is_refused_with_a_clear_message(steps):
    frames, dets = steps[10]
    pipeline = StorePipeline()
    with pytest.raises(ValueError, match="no detector"):
        pipeline.step(frames)
    other = FrameBatch.of(["ceil-sw"], [frames.timestamp[0]], [frames.frame_index[0]])
    with pytest.raises(ValueError, match="shelf-fruit"):
        pipeline.step(other, dets)
    with pytest.raises(ValueError, match="appears twice"):
        FrameBatch.of(["a", "a"], [0.0, 0.0], [1, 1])
    with pytest.raises(ValueError, match="not a storelens pipeline checkpoint"):
        pipeline.load_state_dict({"format": "something-else"})
