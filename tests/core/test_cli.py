"""The `storelens` command, run for real: through typer's runner and as an installed script."""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from storelens import __version__
from storelens.cli import app

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"storelens {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("store", "demo", "bench"):
        assert command in result.output


def test_store_validate_prints_summary_and_draws_floor_plan(tmp_path, demo_store_path):
    png = tmp_path / "plan.png"
    result = runner.invoke(
        app, ["store", "validate", str(demo_store_path), "--out", str(png)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "demo-store" in result.output and "42 SKUs on shelves" in result.output
    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] > 400 and image.shape[1] > 600
    # a real drawing: shelf brown and several camera colours, not a blank canvas
    colours = np.unique(image.reshape(-1, 3) // 32, axis=0)
    assert len(colours) > 20


def test_store_validate_bad_file_exits_2_with_the_field(tmp_path, demo_store_path):
    data = yaml.safe_load(demo_store_path.read_text())
    data["cameras"][0]["fps"] = "fast"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["store", "validate", str(bad)], terminal_width=200)
    assert result.exit_code == 2
    assert "cameras[0].fps" in result.output and "'fast'" in result.output
    assert "Traceback" not in result.output


def test_demo_runs_end_to_end_on_the_shipped_detector(tmp_path):
    result = runner.invoke(
        app,
        ["demo", "--offline", "--out", str(tmp_path), "--duration", "12"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "floor_plan.png").stat().st_size > 10_000
    assert "store pipeline" in result.output and "sim-coarse-yolo11n.pt" in result.output
    detections = sorted((tmp_path / "track" / "detections").glob("*.txt"))
    assert len(detections) == 6 and all(p.stat().st_size > 0 for p in detections)
    assert (tmp_path / "track" / "tracks.png").is_file()
    # the shipped detector finds the shoppers well enough for the tracker to follow them
    combined = json.loads((tmp_path / "track" / "metrics.json").read_text())["tracking"]
    assert combined["hota"] > 0.3 and combined["recall"] > 0.5, combined
    # and fewer errors (misses + false positives + id switches) than true boxes: a negative MOTA
    # fails however high the recall
    assert combined["mota"] > 0.0, combined


@pytest.mark.slow
def test_demo_runs_the_live_service_and_scores_the_baskets(tmp_path):
    """`storelens demo` as a user runs it: the live path (RTSP where a server can run, else the
    files), a shopper who pays and leaves within 30 s, the baskets printed beside the truth."""
    result = runner.invoke(
        app,
        ["demo", "--out", str(tmp_path), "--duration", "30", "--rate", "2"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "attribution through the live service" in result.output
    assert "receipts exactly right: 1.000" in result.output, result.output
    live = json.loads((tmp_path / "live" / "result.json").read_text())
    assert live["metrics"]["receipt_accuracy"] == 1.0 and live["status"]["finished"]
    assert (tmp_path / "live" / "live_paths.png").stat().st_size > 10_000
    assert list((tmp_path / "live").glob("live_*.mp4"))


def test_demo_names_a_missing_detector_file(tmp_path):
    result = runner.invoke(
        app,
        ["demo", "--out", str(tmp_path), "--duration", "4", "--detector", "nope.pt"],
        terminal_width=200,
    )
    assert result.exit_code == 2
    assert "nope.pt: no such weights file" in result.output


def test_installed_script_runs_without_heavy_imports():
    exe = shutil.which("storelens", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe, "the storelens console script is not installed in this environment"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"storelens {__version__}"
    probe = (
        "import sys, storelens, storelens.cli, storelens.layout, storelens.geometry; "
        "print(sorted(m for m in ('torch', 'ray', 'fastapi', 'mlflow', 'ultralytics') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_bench_help_names_exactly_the_suites_that_exist():
    from storelens.cli.bench import SUITES
    from storelens.evaluation.bench.suites import suites

    assert SUITES == tuple(suites())
