import json

from typer.testing import CliRunner

from storelens.cli import app

runner = CliRunner()


def test_simulate_records_only_then_render_a_camera_and_export(tmp_path):
    out = tmp_path / "sim"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--scenario",
            "theft",
            "--duration",
            "20",
            "--seed",
            "5",
            "--out",
            str(out),
            "--no-render",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rendered"] is False and manifest["cameras"] == []
    assert (out / "sessions.jsonl").read_text().strip()

    out2 = tmp_path / "sim2"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--duration",
            "3",
            "--out",
            str(out2),
            "--cameras",
            "shelf-back",
            "--preview",
            "--workers",
            "1",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert (out2 / "preview.png").is_file() and (
        out2 / "cameras" / "shelf-back" / "video.mp4"
    ).is_file()
    result = runner.invoke(
        app,
        ["dataset", "export-yolo", str(out2), "--out", str(tmp_path / "y"), "--every", "3"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "y" / "data.yaml").is_file()


def test_simulate_bad_inputs_exit_2_with_a_message(tmp_path):
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path), "--scenario", "nope"], terminal_width=200
    )
    assert result.exit_code == 2 and "neither a preset" in result.output
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path), "--cameras", "ceil-x"], terminal_width=200
    )
    assert result.exit_code == 2 and "no camera 'ceil-x'" in result.output
    result = runner.invoke(
        app,
        ["dataset", "export-yolo", str(tmp_path / "missing"), "--out", str(tmp_path)],
        terminal_width=200,
    )
    assert result.exit_code == 2 and "not a store run" in result.output
