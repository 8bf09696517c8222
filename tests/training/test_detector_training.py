"""Detector training end to end, offline: simulate → export → train (sockets blocked) → MLflow
run → registry (candidate, champion) → evaluate → ONNX export checked against torch.

`tiny.yaml` trains on easy seed 0, selects best.pt on a separate validation simulation (seed 1)
and scores it on seed 2 after training."""

import json
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from storelens.cli import app
from storelens.config import ConfigError, resolve_yaml
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


def _train_data(trained) -> Path:  # noqa: ANN001
    (data_yaml,) = (trained["tmp"] / "runs" / "train-data").glob("*/yolo/data.yaml")
    return data_yaml


def _label_texts(folder: Path) -> dict[str, str]:
    return {f.name: f.read_text() for f in sorted(folder.glob("*.txt"))}


def test_val_split_is_the_validation_simulation_not_the_training_run(trained, tmp_path):
    """train: every exported frame of seed 0; val: every exported frame of seed 1, label for
    label what that simulation exports; nothing of the training run is in val."""
    from storelens.datasets.formats.yolo import export_yolo

    assert trained["result"].exit_code == 0, trained["result"].output
    data_yaml = _train_data(trained)
    root = data_yaml.parent.parent
    assert json.loads((root / "sim" / "manifest.json").read_text())["seed"] == 0
    assert json.loads((root / "sim-val" / "manifest.json").read_text())["seed"] == 1
    data = yaml.safe_load(data_yaml.read_text())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    yolo = data_yaml.parent
    train = _label_texts(yolo / "labels" / "train")
    val = _label_texts(yolo / "labels" / "val")
    assert {p.stem for p in (yolo / "images" / "val").glob("*.jpg")} == {Path(n).stem for n in val}
    assert train and all(n.startswith("easy-s0_") for n in train)
    assert val and all(n.startswith("easy-s1_") for n in val)

    def whole_run(sim: Path, prefix: str) -> dict[str, str]:
        out = export_yolo(sim, tmp_path / sim.name, every=3).parent
        labels = {**_label_texts(out / "labels" / "train"), **_label_texts(out / "labels" / "val")}
        return {f"{prefix}_{name}": text for name, text in labels.items()}

    from_val_run = whole_run(root / "sim-val", "easy-s1")
    from_train_run = whole_run(root / "sim", "easy-s0")
    assert val == from_val_run and train == from_train_run  # whole runs, no time split
    same_frame = {n.removeprefix("easy-s1_"): t for n, t in val.items()}
    training_frames = {n.removeprefix("easy-s0_"): t for n, t in train.items()}
    assert same_frame.keys() == training_frames.keys()
    assert any(same_frame[n] != training_frames[n] for n in same_frame)  # another run


def test_params_say_which_seed_selected_the_checkpoint_and_tests_are_logged(trained):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["detector"], output_format="list")
    params = run.data.params
    assert params["selection_protocol"] == "validation_simulation"
    assert (params["selection_scenario"], params["selection_seed"]) == ("easy", "1")
    assert params["sim.val_seed"] == "1" and params["sim.seed"] == "0"
    assert "easy seed 1" in params["checkpoint_selected_on"]
    assert run.data.tags["checkpoint_selected_on"] == params["checkpoint_selected_on"]
    assert params["test.0"] == "easy seed 2, 0-6 s"
    metrics = run.data.metrics
    assert 0 <= metrics["test/easy-s2/mAP50-95"] <= metrics["test/easy-s2/mAP50"] <= 1
    assert "test/easy-s2/mAP50/person" in metrics
    assert "test/easy-s2/mAP50-95" in trained["result"].output


def test_without_a_validation_seed_the_time_split_is_said_in_the_params():
    from storelens.configs import builtin_config
    from storelens.training.config import SimData, TrainDetectorConfig
    from storelens.training.detector import selection_params

    config = load_train_config(builtin_config("train", "sim_coarse_shipped.yaml"))
    params = selection_params(config)
    assert params["selection_protocol"] == "time_split"
    assert (params["selection_scenario"], params["selection_seed"]) == ("crowded", "0")
    assert "last 20 %" in params["checkpoint_selected_on"]
    assert "selected on the images it is scored on" in params["checkpoint_selected_on"]
    with_val = TrainDetectorConfig(sim=SimData(scenario="crowded", seed=0, val_seed=1))
    assert selection_params(with_val)["selection_seed"] == "1"
    other = TrainDetectorConfig(sim=SimData(seed=0, val_seed=0, val_scenario="occluded"))
    assert selection_params(other)["selection_scenario"] == "occluded"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sim": {"val_seed": 0}}, "is the training run's seed"),
        ({"sim": {"val_scenario": "easy"}}, "needs sim.val_seed"),
        ({"test": [{"scenario": "crowded", "seed": 0}]}, "is the training run"),
        ({"sim": {"val_seed": 1}, "test": [{"scenario": "crowded", "seed": 1}]}, "validation run"),
        ({"test": [{"scenario": "easy", "seed": 2, "duration_s": 10, "start_s": 10}]}, "start_s"),
    ],
)
def test_validation_and_test_runs_must_be_runs_it_never_trained_on(changes, message):
    from storelens.config import override
    from storelens.training.config import TrainDetectorConfig

    with pytest.raises(ConfigError, match=message):
        override(TrainDetectorConfig(), changes)


def test_evaluate_on_simulation_gives_the_shipped_detectors_figures_per_class(trained, repo_root):
    """The tiny run's test simulation (easy seed 2, 6 s, two cameras; cached) exported whole as
    val, scored with the detector shipped in models/detector."""
    from storelens.training.detector_eval import evaluate_on_simulation

    shipped = repo_root / "models" / "detector" / "sim-coarse-yolo11n.pt"
    m = evaluate_on_simulation(shipped, "easy", 2, 6.0, ["ceil-sw", "shelf-fruit"], every=3)
    assert set(m.per_class) <= {"person", "hand", "product"}
    assert {"person", "product"} <= set(m.per_class)
    for ap, ap50 in m.per_class.values():
        assert 0 <= ap <= ap50 <= 1
    assert m.instances["person"] > 0 and m.instances["product"] > 0
    assert m.per_class["person"][1] > 0.5  # it finds the people of a store it never saw
    yolo = m.data_yaml.parent
    val = sorted((yolo / "images" / "val").glob("*.jpg"))
    assert len(val) == 2 * 20 and all(p.name.startswith("easy-s2_") for p in val)
    assert not list((yolo / "images" / "train").iterdir())
    later = evaluate_on_simulation(
        shipped, "easy", 2, 6.0, ["ceil-sw", "shelf-fruit"], every=3, start_s=3.0
    )
    window = sorted(later.data_yaml.parent.glob("images/val/*.jpg"))
    assert len(window) == 2 * 10 and all(int(p.stem[-6:]) > 30 for p in window)
    sims = list((trained["tmp"] / "runs" / "eval-data" / "sims").iterdir())
    assert len(sims) == 1  # one simulation, shared by the training's test, both windows


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
