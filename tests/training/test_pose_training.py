"""The pose job end to end, offline: simulate → person crops with keypoints → YOLO-pose trained
from its yaml (sockets blocked) → MLflow run → registry → keypoint mAP and wrist PCK on a
simulation it never saw. `pose_tiny.yaml` is one epoch at 64 px: the figures are checked for
being measured, not for being good (the shipped model's card has those)."""

import math

import pytest
import yaml
from typer.testing import CliRunner

from storelens.cli import app
from storelens.training.config import load_train_config
from tests.training.test_detector_training import SocketGuard

runner = CliRunner()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    tmp = tmp_path_factory.mktemp("pose")
    mp = pytest.MonkeyPatch()
    guard = SocketGuard()
    try:
        mp.setenv("STORELENS_RUNS_DIR", str(tmp / "runs"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        mp.setenv("STORELENS_ULTRALYTICS_DIR", str(tmp / "ultralytics"))
        mp.chdir(tmp)
        guard.install(mp)
        result = runner.invoke(
            app,
            ["train", "pose", "--config", str(repo_root / "configs/train/pose_tiny.yaml")],
            terminal_width=200,
        )
        yield {"result": result, "tmp": tmp, "attempts": guard.attempts}
    finally:
        mp.undo()


def test_pose_training_runs_offline_and_registers(trained):
    result = trained["result"]
    assert result.exit_code == 0, result.output
    assert trained["attempts"] == []
    assert "registered: models:/storelens-pose-tiny/1" in result.output


def test_the_run_logs_keypoint_map_and_wrist_pck_on_the_unseen_run(trained):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["pose"], output_format="list")
    metrics = run.data.metrics
    for key in ("pose-mAP50-95", "wrist-PCK10px", "wrist-PCK10px-visible"):
        value = metrics[f"test/easy-s2/{key}"]
        assert 0.0 <= value <= 1.0 and not math.isnan(value), key
    assert "metrics/mAP50-95_P" in metrics  # ultralytics' keypoint mAP, per epoch
    (data_yaml,) = (trained["tmp"] / "runs" / "train-data").glob("*/yolo/data.yaml")
    data = yaml.safe_load(data_yaml.read_text())
    assert data["kpt_shape"] == [17, 3] and len(data["flip_idx"]) == 17
    val_names = [p.name for p in (data_yaml.parent / "images" / "val").glob("*.jpg")]
    assert val_names and all(n.startswith("easy-s1_") and "_id" in n for n in val_names)


def test_wrist_pck_of_the_trained_model(trained):
    from storelens.training.pose_eval import wrist_pck

    (weights,) = (trained["tmp"] / "runs" / "train" / "pose").glob("*/weights/best.pt")
    (data_yaml,) = (trained["tmp"] / "runs" / "train-data").glob("*/yolo/data.yaml")
    pck = wrist_pck(weights, data_yaml, imgsz=64, threshold_px=10.0)
    loose = wrist_pck(weights, data_yaml, imgsz=64, threshold_px=1e6)
    assert pck.crops > 0 and pck.n_labelled >= pck.n_visible > 0
    assert pck.labelled <= loose.labelled  # a looser threshold never finds fewer


def test_a_detector_config_is_refused_by_the_pose_job(repo_root):
    from storelens.training.detector import train_pose

    with pytest.raises(ValueError, match="sim.class_set: 'coarse'"):
        train_pose(load_train_config(repo_root / "configs/train/tiny.yaml"))
    config = load_train_config(repo_root / "configs/train/pose_tiny.yaml")
    with pytest.raises(ValueError, match="not a pose model"):
        train_pose(config.model_copy(update={"model": "yolo11n.yaml"}))
