"""The detector's hyperparameter search on a local Ray: 2 trials x 1 epoch, one parent MLflow run
with a nested run per trial, the best trial's weights registered."""

import pytest
from typer.testing import CliRunner

from storelens.cli import app
from storelens.config import ConfigError
from storelens.training.tune import load_tune_config

runner = CliRunner()


def test_tune_configs_resolve_their_training_config(repo_root):
    config = load_tune_config(repo_root / "configs/train/tune_tiny.yaml")
    assert config.trials == 2 and config.epochs == 1
    assert config.train == str(repo_root / "configs/train/tiny.yaml")
    assert set(config.space) >= {"lr0", "mosaic"}  # the search space comes from tune.yaml


def test_a_bad_search_dimension_names_the_field(tmp_path):
    path = tmp_path / "tune.yaml"
    path.write_text("train: tiny.yaml\nspace:\n  lr0: {kind: gaussian, values: [0.1, 0.2]}\n")
    with pytest.raises(ConfigError, match=r"space\.lr0\.kind.*gaussian"):
        load_tune_config(path)


@pytest.mark.slow
def test_two_trials_of_one_epoch_on_local_ray(repo_root, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("STORELENS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("STORELENS_ULTRALYTICS_DIR", str(tmp_path / "ultralytics"))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        ["train", "tune", "--config", str(repo_root / "configs/train/tune_tiny.yaml")],
        terminal_width=250,
    )
    assert result.exit_code == 0, result.output
    assert "registered: version 1 (alias candidate)" in result.output
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["detector-tune"], output_format="list")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 2
    lrs = {float(r.data.params["lr0"]) for r in children}
    assert len(lrs) == 2 and all(0.001 <= lr <= 0.03 for lr in lrs)
    assert all("metrics/mAP50-95_B" in r.data.metrics for r in children)
    best = parents[0].data.params["best.lr0"]
    assert float(best) in lrs
