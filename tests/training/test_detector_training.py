"""Detector training end to end, offline: simulate → export → train (sockets blocked) → MLflow
run → registry (candidate, champion) → evaluate → ONNX export checked against torch."""

import socket

import pytest
import yaml
from typer.testing import CliRunner

from storelens.cli import app
from storelens.config import ConfigError
from storelens.config import resolve_yaml
from storelens.training.config import load_train_config

runner = CliRunner()
pytestmark = pytest.mark.slow


class SocketGuard:
    """Refuses every network (IPv4/IPv6) connection and remembers who tried; local IPC between
    processes (Unix sockets, used by the simulator's worker pool) still works."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def install(self, mp: pytest.MonkeyPatch) -> None:
        guard = self
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

        def is_network(sock) -> bool:  # noqa: ANN001
            return sock is None or sock.family in (socket.AF_INET, socket.AF_INET6)

        def refuse(sock, address):  # noqa: ANN001
            guard.attempts.append(str(address))
            raise OSError(f"outbound connection to {address} blocked by the test")

        def connect(sock, address):  # noqa: ANN001
            return refuse(sock, address) if is_network(sock) else real_connect(sock, address)

        def connect_ex(sock, address):  # noqa: ANN001
            return refuse(sock, address) if is_network(sock) else real_connect_ex(sock, address)

        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        mp.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    tmp = tmp_path_factory.mktemp("train")
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
            ["train", "detector", "--config", str(repo_root / "configs/train/tiny.yaml")],
            terminal_width=200,
        )
        yield {"result": result, "tmp": tmp, "attempts": guard.attempts, "mp": mp}
    finally:
        mp.undo()


def test_training_runs_with_outbound_sockets_blocked(trained):
    result = trained["result"]
    assert result.exit_code == 0, result.output
    assert trained["attempts"] == [], f"network was attempted: {trained['attempts']}"
    assert "registered: models:/storelens-detector-tiny/1" in result.output


def test_one_mlflow_run_with_params_epoch_metrics_and_artifacts(trained):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["detector"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["epochs"] == "2" and run.data.params["sim.scenario"] == "easy"
    assert len(run.data.params["data_fingerprint"]) == 64
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "metrics/mAP50-95_B")
    assert sorted(m.step for m in history) == [0, 1]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "train")}
    assert {"train/weights", "train/storelens_config.yaml", "train/results.csv"} <= artifacts
    weights = {
        a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "train/weights")
    }
    assert "train/weights/best.pt" in weights


def test_results_table_gives_the_same_epoch_metrics_as_the_callbacks(trained):
    """The DDP fallback (per-epoch metrics read from results.csv) agrees with what the
    in-process callback logged."""
    import mlflow

    from storelens.training.detector import epoch_metrics_from_results

    mlflow.set_tracking_uri(f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["detector"], output_format="list")
    client = mlflow.MlflowClient()
    table = client.download_artifacts(run.info.run_id, "train/results.csv", str(trained["tmp"]))
    from_table = epoch_metrics_from_results(__import__("pathlib").Path(table))
    assert [step for step, _ in from_table] == [0, 1]
    for key in ("metrics/mAP50-95_B", "metrics/precision_B", "train/box_loss"):
        logged = {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}
        assert logged == pytest.approx({step: values[key] for step, values in from_table}, rel=1e-4)


def test_registry_candidate_then_champion_loads_by_alias(trained):
    import mlflow

    from storelens.inference.loading import load_detector

    mlflow.set_tracking_uri(f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    assert (
        str(client.get_model_version_by_alias("storelens-detector-tiny", "candidate").version)
        == "1"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    try:
        result = runner.invoke(app, ["models", "promote", "storelens-detector-tiny", "1"])
        assert result.exit_code == 0, result.output
        bad = runner.invoke(
            app, ["models", "promote", "storelens-detector-tiny", "7"], terminal_width=200
        )
        assert bad.exit_code == 2 and "version '7'" in bad.output
        assert (
            str(client.get_model_version_by_alias("storelens-detector-tiny", "champion").version)
            == "1"
        )
        model = load_detector("models:/storelens-detector-tiny@champion")
        image = next((trained["tmp"] / "runs" / "train-data").rglob("images/val/*.jpg"))
        boxes = model.predict(str(image), imgsz=320, conf=0.001, verbose=False)[0].boxes
        assert boxes.xyxy.shape[1] == 4
    finally:
        mp.undo()


def test_eval_detector_prints_coco_map_per_class(trained):
    data = next((trained["tmp"] / "runs" / "train-data").rglob("data.yaml"))
    weights = next((trained["tmp"] / "runs" / "train").rglob("best.pt"))
    result = runner.invoke(
        app, ["eval", "detector", "--model", str(weights), "--data", str(data)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "mAP50-95" in result.output and "all" in result.output


def test_onnx_export_gives_the_torch_models_boxes(trained):
    from storelens.training.export import check_export, export_detector

    weights = next((trained["tmp"] / "runs" / "train").rglob("best.pt"))
    images = sorted((trained["tmp"] / "runs" / "train-data").rglob("images/val/*.jpg"))[:3]
    onnx = export_detector(weights, "onnx", imgsz=320)
    assert onnx.suffix == ".onnx" and onnx.is_file()
    check = check_export(weights, onnx, images, imgsz=320)
    # a 2-epoch model is barely confident: the raw (pre-NMS) outputs carry the comparison
    assert check.max_raw_diff < 1e-3 and check.ok, check


def test_configs_merge_over_their_base_and_bad_ones_are_named(tmp_path, repo_root):
    merged = resolve_yaml(repo_root / "configs/train/tiny.yaml")
    base = yaml.safe_load((repo_root / "configs/train/base.yaml").read_text())
    assert merged["epochs"] == 2 and merged["imgsz"] == base["imgsz"]
    assert (
        merged["sim"]["cameras"] == ["ceil-sw", "shelf-fruit"]
        and merged["sim"]["class_set"] == "coarse"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {repo_root / 'configs/train/base.yaml'}\nepochs: 0\n")
    with pytest.raises(
        ConfigError, match=r"epochs: Input should be greater than or equal to 1 \(got 0\)"
    ):
        load_train_config(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        resolve_yaml(loop)


def test_missing_local_weights_are_refused_not_downloaded(tmp_path):
    from storelens.training.config import TrainDetectorConfig
    from storelens.training.detector import train_detector

    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        train_detector(
            TrainDetectorConfig(model=str(tmp_path / "yolo11n.pt"), data=str(tmp_path / "d.yaml"))
        )


def test_offline_setup_provides_the_font_ultralytics_looks_for(tmp_path):
    from storelens.inference.ultralytics_offline import ensure_offline

    user_dir = ensure_offline(tmp_path / "cfg")
    assert (user_dir / "Arial.ttf").stat().st_size > 100_000
