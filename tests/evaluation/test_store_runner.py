"""`storelens run` and `storelens eval` over a simulated store and over a recorded one (videos
only, no ground truth), through the real pipeline, detector and TrackEval."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from storelens.attribution.paths import FloorPaths
from storelens.cli import app
from storelens.datasets.formats.mot import read_mot

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], terminal_width=200)


@pytest.fixture(scope="module")
def noisy_run(small_sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "noisy"
    result = _invoke("run", small_sim, "--out", out, "--detections", "ground-truth-noisy")
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_each_stage_and_eval_scores_it(small_sim, noisy_run):
    summary = json.loads((noisy_run / "run.json").read_text())
    assert summary["detections"] == "ground-truth-noisy" and summary["lookahead_s"] == 0.0
    assert summary["steps"] == 80 and summary["cameras"] == ["ceil-sw", "shelf-fruit"]
    for cam in summary["cameras"]:
        tracks = read_mot(noisy_run / "tracks" / f"{cam}.txt")
        assert len(tracks) > 50 and (tracks.track_id > 0).all()
        assert len(read_mot(noisy_run / "detections" / f"{cam}.txt")) >= len(tracks) * 0.5
    result = _invoke("eval", small_sim, noisy_run)
    assert result.exit_code == 0, result.output
    assert "tracking: persons" in result.output and "COMBINED" in result.output
    metrics = json.loads((noisy_run / "metrics.json").read_text())
    tracking = metrics["tracking"]
    assert {"hota", "idf1", "mota"} <= set(tracking) and set(tracking["per_camera"]) == {
        "ceil-sw",
        "shelf-fruit",
    }
    assert tracking["hota"] > 0.6 and tracking["idf1"] > 0.7, tracking
    # the shoppers stage: one global id per person over both cameras, scored end to end
    assert "shoppers: global ids" in result.output
    mtmc = metrics["mtmc"]
    assert {"idf1", "hota", "online"} <= set(mtmc) and mtmc["gt_ids"] >= 1
    assert mtmc["idf1"] > 0.5, mtmc
    for cam in summary["cameras"]:
        shoppers = read_mot(noisy_run / "shoppers" / f"{cam}.txt")
        assert len(shoppers) == len(read_mot(noisy_run / "tracks" / f"{cam}.txt"))
    # the sessions stage: visits and floor paths written, scored against the true ones
    assert "sessions: visits" in result.output
    sessions = metrics["sessions"]
    assert sessions["true"] >= 1 and sessions["found"] == summary["sessions"]
    names, t, xy = (
        FloorPaths.load(noisy_run / "floor_paths.npz").__dict__[k]
        for k in ("shopper_id", "t", "xy")
    )
    assert len(t) > 0 and np.isfinite(xy).all()


def test_eval_says_which_cameras_it_did_not_score(small_sim, noisy_run, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    partial = tmp_path / "partial"
    shutil.copytree(noisy_run, partial)
    (partial / "tracks" / "shelf-fruit.txt").unlink()
    assert _invoke("eval", "--mlflow", small_sim, partial).exit_code == 0  # options first work
    metrics = json.loads((partial / "metrics.json").read_text())
    assert set(metrics["tracking"]["per_camera"]) == {"ceil-sw"}
    assert "shelf-fruit" in metrics["skipped"]["tracking.cameras"]


def test_run_is_deterministic_and_ids_never_collide_across_cameras(small_sim, noisy_run, tmp_path):
    again = tmp_path / "again"
    assert (
        _invoke("run", small_sim, "--out", again, "--detections", "ground-truth-noisy").exit_code
        == 0
    )
    ids = {}
    for cam in ("ceil-sw", "shelf-fruit"):
        a = (noisy_run / "tracks" / f"{cam}.txt").read_text()
        assert a == (again / "tracks" / f"{cam}.txt").read_text()
        ids[cam] = set(read_mot(noisy_run / "tracks" / f"{cam}.txt").track_id.tolist())
    assert not ids["ceil-sw"] & ids["shelf-fruit"]


def test_run_with_the_shipped_detector_by_default(small_sim, tmp_path):
    out = tmp_path / "model"
    result = _invoke("run", small_sim, "--out", out)
    assert result.exit_code == 0, result.output
    assert "sim-coarse-yolo11n.pt" in json.loads((out / "run.json").read_text())["model"]
    assert _invoke("eval", small_sim, out).exit_code == 0
    tracking = json.loads((out / "metrics.json").read_text())["tracking"]
    assert tracking["hota"] > 0.5 and tracking["recall"] > 0.6, tracking


def test_a_recorded_store_runs_and_eval_says_what_it_cannot_score(small_sim, tmp_path):
    recorded = tmp_path / "recorded"
    for cam in ("ceil-sw", "shelf-fruit"):
        (recorded / "cameras" / cam).mkdir(parents=True)
        shutil.copy(small_sim / "cameras" / cam / "video.mp4", recorded / "cameras" / cam)
    out = tmp_path / "out"
    result = _invoke("run", recorded, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["steps"] == 80
    assert len(read_mot(out / "tracks" / "ceil-sw.txt")) > 0
    result = _invoke("eval", recorded, out)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert "tracking" not in metrics and "no ground truth" in metrics["skipped"]["tracking"]
    frames = read_mot(out / "tracks" / "ceil-sw.txt").frame
    assert frames.min() >= 1 and frames.max() <= 80
    noisy = _invoke("run", recorded, "--out", tmp_path / "x", "--detections", "ground-truth-noisy")
    assert noisy.exit_code == 2 and "no gt/gt.txt" in noisy.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "{tmp}/nowhere", "--out", "{tmp}/o"], "not a store run"),
        (["run", "{sim}", "--out", "{tmp}/o", "--detections", "magic"], "is not one of"),
        (["run", "{sim}", "--out", "{tmp}/o", "--model", "nope.pt"], "nope.pt: no such weights"),
        (["eval", "{sim}", "{tmp}/never-run"], "no such output folder"),
    ],
)
def test_bad_input_exits_2_with_a_message(small_sim, tmp_path, args, message):
    result = _invoke(*(a.format(tmp=tmp_path, sim=small_sim) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
