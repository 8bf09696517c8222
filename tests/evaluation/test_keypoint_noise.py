"""Noisy keypoints: the fit to the shipped pose model, the generator reproducing what it fitted
on the rows it fitted, determinism and persistence, and `storelens run --keypoints
ground-truth-noisy` giving tracks skeletons and hands."""

import json

import numpy as np
import pytest

from storelens.datasets.formats.keypoints import (
    KeypointFormatError,
    keypoint_rows,
    read_keypoints,
    write_keypoints,
)
from storelens.datasets.formats.mot import read_mot
from storelens.datasets.recording import StoreRecording
from storelens.evaluation import keypoint_noise_fit as kf
from storelens.evaluation.keypoint_crops import PoseCrops, pose_on_crops
from storelens.evaluation.noise_fit import RESERVED_SEEDS
from storelens.evaluation.synthetic_keypoints import (
    KeypointNoiseSource,
    noisy_keypoints,
    shipped_keypoint_noise,
)
from storelens.inference.blazepose import pose_model_sha256, pose_unavailable

needs_pose = pytest.mark.skipif(pose_unavailable() is not None, reason=str(pose_unavailable()))


def test_the_shipped_keypoint_noise_is_fitted_to_the_shipped_pose_model():
    noise = shipped_keypoint_noise()
    assert noise.source.model_sha256 == pose_model_sha256(), (
        f"models/pose changed: refit with `{kf.COMMAND}`"
    )
    assert not set(noise.source.seeds) & set(RESERVED_SEEDS)
    assert not set(noise.source.seeds) & set(kf.HELD_OUT_SEEDS)
    assert noise.source.crops > 1000


@pytest.fixture(scope="module")
def crops(small_sim, tmp_path_factory) -> PoseCrops:
    if pose_unavailable():
        pytest.skip(str(pose_unavailable()))
    return pose_on_crops(small_sim, tmp_path_factory.mktemp("kp") / "c.npz", progress=False)


def _source(crops: PoseCrops) -> KeypointNoiseSource:
    return KeypointNoiseSource(
        model="pose_landmark_full.tflite",
        model_sha256="test",
        scenario="easy",
        seeds=[3],
        duration_s=8.0,
        cameras=sorted(set(crops.camera.tolist())),
        crops=len(crops),
        frames="test",
        command="test",
    )


@needs_pose
def test_generated_keypoints_reproduce_the_fitted_model_on_its_own_rows(crops):
    noise = kf.fit_keypoint_noise(crops, _source(crops))
    real = kf.summarise(crops)
    pooled = PoseCrops.concatenate([kf.synthetic_crops(crops, noise, seed=s) for s in range(8)])
    synth = kf.summarise(pooled)
    assert abs(synth.found - real.found) < 0.1
    for (r, n), (g, _) in zip(real.body_miss, synth.body_miss, strict=True):
        if n >= 30:
            assert abs(r - g) < 0.15, (real.body_miss, synth.body_miss)


def _rows(n_tracks=6, n_frames=40, height=120.0):
    track = np.repeat(np.arange(1, n_tracks + 1), n_frames)
    frame = np.tile(np.arange(1, n_frames + 1), n_tracks)
    kp = np.zeros((len(track), 17, 3))
    kp[:, 5:, 0] = 100 + 10 * np.arange(12)
    kp[:, 5:, 1] = 50 + 8 * np.arange(12)
    kp[:, 5:, 2] = 2
    kp[:, 9, 2] = 1  # the left wrist hidden
    return track, frame, kp, np.full(len(track), height)


def test_noisy_keypoints_are_deterministic_and_leave_unlabelled_joints_empty():
    track, frame, kp, h = _rows()
    kp[:3, 10] = 0  # unlabelled right wrist in a few rows
    a = noisy_keypoints(track, frame, kp, h, seed=1)
    b = noisy_keypoints(track, frame, kp, h, seed=1)
    c = noisy_keypoints(track, frame, kp, h, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a[:, :5] == 0).all() and (a[:3, 10] == 0).all()
    assert ((a[..., 2] >= 0) & (a[..., 2] <= 1)).all()
    # rows keep their order: shuffling the input shuffles the output the same way
    perm = np.random.default_rng(0).permutation(len(track))
    d = noisy_keypoints(track[perm], frame[perm], kp[perm], h[perm], seed=1)
    assert np.array_equal(d, a[perm])


def test_a_hits_error_persists_from_frame_to_frame():
    track, frame, kp, h = _rows(n_tracks=40, n_frames=30)
    noise = shipped_keypoint_noise()
    out = noisy_keypoints(track, frame, kp, h, noise, seed=3)
    err = (out[:, 6, :2] - kp[:, 6, :2]) / h[:, None]  # right shoulder
    hit = (out[:, 6, 2] > 0) & (np.linalg.norm(err, axis=1) < noise.miss_radius)
    same = (track[1:] == track[:-1]) & hit[1:] & hit[:-1]
    a, b = err[:-1][same, 0], err[1:][same, 0]
    assert len(a) > 50
    assert np.corrcoef(a, b)[0, 1] > 0.5  # the fit's coefficients are ~0.9


def test_scored_keypoint_files_round_trip_and_bad_scores_are_named(tmp_path):
    kp = np.zeros((2, 17, 3))
    kp[:, 5:, :2] = 40.0
    kp[:, 5:, 2] = 0.75
    path = write_keypoints(tmp_path / "k.txt", [keypoint_rows(3, np.array([7, 9]), kp)], True)
    table = read_keypoints(path)
    assert table.scored and table.track_id.tolist() == [7, 9]
    assert np.allclose(table.keypoints, kp)
    text = path.read_text().replace("0.750", "1.500", 1)
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(KeypointFormatError, match=r"line 2.*left_shoulder_score.*1.5"):
        read_keypoints(tmp_path / "bad.txt")


def test_storelens_run_gives_tracks_skeletons_and_hands(small_sim, tmp_path):
    from storelens.evaluation.store_runner import run_store

    out = tmp_path / "out"
    run_store(
        small_sim,
        out,
        detections="ground-truth-noisy",
        keypoints="ground-truth-noisy",
        progress=False,
    )
    recording = StoreRecording(small_sim)
    total_hands = 0
    for camera in recording.camera_ids:
        skeletons = read_keypoints(out / "keypoints" / f"{camera}.txt")
        tracks = read_mot(out / "tracks" / f"{camera}.txt")
        assert skeletons.scored and len(skeletons) == len(tracks)
        key = set(zip(tracks.frame.tolist(), tracks.track_id.tolist(), strict=True))
        assert set(zip(skeletons.frame.tolist(), skeletons.track_id.tolist(), strict=True)) == key
        hands = np.loadtxt(out / "hands" / f"{camera}.csv", delimiter=",", skiprows=1, ndmin=2)
        total_hands += len(hands)
        if len(hands):
            assert set(hands[:, 1].astype(int)) <= set(tracks.track_id.tolist())
            assert set(np.unique(hands[:, 2])) <= {0, 1}
    assert total_hands > 0
    # a track's skeleton sits on the person it tracks
    camera = recording.camera_ids[0]
    skeletons = read_keypoints(out / "keypoints" / f"{camera}.txt")
    tracks = read_mot(out / "tracks" / f"{camera}.txt")
    seen = skeletons.keypoints[:, 5:7, 2].min(axis=1) > 0
    assert seen.sum() > 10
    centre = tracks.tlwh[:, :2] + tracks.tlwh[:, 2:] / 2
    shoulders = skeletons.keypoints[:, 5:7, :2].mean(axis=1)
    inside = np.abs(shoulders - centre) < tracks.tlwh[:, 2:] * 0.75
    assert inside[seen].all(axis=1).mean() > 0.8
    # the shelf events it found: core records whose evidence frames its hands were seen in
    from storelens.datasets.sim.writer import read_records
    from storelens.evaluation.stage_eval import evaluate_run
    from storelens.records import ObservedShelfEvent

    events = read_records(out / "events.jsonl", ObservedShelfEvent)
    assert json.loads((out / "run.json").read_text())["events"] == len(events)
    for e in events:
        assert e.t_start <= e.t <= e.decided_at
        assert e.shopper_id.split(":")[0] in recording.camera_ids
    evaluate_run(small_sim, out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["events"]["precision"] is None or 0 <= metrics["events"]["precision"] <= 1
