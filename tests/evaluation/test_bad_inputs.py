"""Bad input at the command line exits 2 with one message naming the file, the line or field and
the value — never a traceback, never a silent NaN (issue 12). Each case writes real files to
tmp_path; the `small_sim` fixture is only read, and copied where a case corrupts a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storelens.cli import app
from storelens.datasets.formats.mot import SeqInfo, write_seqinfo

runner = CliRunner()

GT_ROWS = "1,1,10,10,20,40,1,1,1\n2,1,12,10,20,40,1,1,1\n3,1,14,10,20,40,1,1,1\n"
RESULT_ROW = "1,1,10,10,20,40,1,-1,-1,-1"
DET_ROW = "1,-1,10,10,20,40,0.9,-1,-1,-1"


def _invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], terminal_width=200)


def _exits_2_saying(result, *parts: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    for part in parts:
        assert part in result.output, (part, result.output)


def _sequence(root: Path, det: str = DET_ROW + "\n") -> Path:
    """A 3-frame MOTChallenge sequence: seqinfo.ini, gt/gt.txt, det/det.txt."""
    write_seqinfo(root / "seqinfo.ini", SeqInfo(root.name, 25, 3, 640, 480))
    (root / "gt").mkdir()
    (root / "gt" / "gt.txt").write_text(GT_ROWS)
    (root / "det").mkdir()
    (root / "det" / "det.txt").write_text(det)
    return root


# --- MOTChallenge files through `track mot` and `eval tracking` -------------------------------


def test_track_mot_on_a_valid_sequence_works(tmp_path):
    seq = _sequence(tmp_path / "SEQ")
    result = _invoke("track", "mot", seq, "--out", tmp_path / "res.txt")
    assert result.exit_code == 0, result.output


def test_track_mot_names_a_bad_detection_row(tmp_path):
    det = "1,-1,10,10,20,40,0.9,-1,-1,-1\n2,-1,10,10,-3,40,0.9,-1,-1,-1\n"
    seq = _sequence(tmp_path / "SEQ", det)
    result = _invoke("track", "mot", seq, "--out", tmp_path / "res.txt")
    _exits_2_saying(result, f"{seq / 'det' / 'det.txt'} line 2: bb_width must be > 0 (got -3)")
    assert not (tmp_path / "res.txt").exists()


def test_track_mot_names_a_non_numeric_cell(tmp_path):
    seq = _sequence(tmp_path / "SEQ", "1,-1,10,ten,20,40,0.9,-1,-1,-1\n")
    result = _invoke("track", "mot", seq, "--out", tmp_path / "res.txt")
    _exits_2_saying(result, "det.txt line 1: bb_top is not a number (got 'ten')")


def test_track_mot_names_a_bad_seqinfo_value(tmp_path):
    seq = _sequence(tmp_path / "SEQ")
    ini = seq / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("frameRate=25", "frameRate=0"))
    result = _invoke("track", "mot", seq, "--out", tmp_path / "res.txt")
    _exits_2_saying(result, f"{ini} line 4: frameRate must be a positive number (got 0)")


def test_track_mot_names_a_missing_seqinfo_section(tmp_path):
    seq = _sequence(tmp_path / "SEQ")
    (seq / "seqinfo.ini").write_text("[Seq]\nname=SEQ\n")
    result = _invoke("track", "mot", seq, "--out", tmp_path / "res.txt")
    _exits_2_saying(result, "seqinfo.ini: no [Sequence] section (sections found: [Seq])")


@pytest.mark.parametrize(
    ("row2", "message"),
    [
        ("2,1,10,10,nan,40,1,-1,-1,-1", "line 2: bb_width must be a finite number (got nan)"),
        ("4,1,10,10,20,40,1,-1,-1,-1", "line 2: frame must be <= the sequence's seqLength 3"),
        ("2,1.5,10,10,20,40,1,-1,-1,-1", "line 2: id must be an integer (got 1.5)"),
        ("2,1,10,10,20,40", "line 2: expected 10 comma-separated columns (as on line 1), got 6"),
        ("0,1,10,10,20,40,1,-1,-1,-1", "line 2: frame must be >= 1 (got 0)"),
    ],
    ids=["nan-width", "beyond-seq-length", "fractional-id", "ragged", "frame-0"],
)
def test_eval_tracking_names_a_corrupt_results_file(tmp_path, row2, message):
    seq = _sequence(tmp_path / "SEQ")
    results = tmp_path / "SEQ.txt"
    results.write_text(f"{RESULT_ROW}\n{row2}\n")
    result = _invoke("eval", "tracking", seq, "--results", results, "--benchmark", "MOT15")
    _exits_2_saying(result, f"{results} {message}")


def test_eval_tracking_names_a_corrupt_ground_truth(tmp_path):
    seq = _sequence(tmp_path / "SEQ")
    (seq / "gt" / "gt.txt").write_text(GT_ROWS + "3,2,10,10,20,inf,1,1,1\n")
    results = tmp_path / "SEQ.txt"
    results.write_text(RESULT_ROW + "\n")
    result = _invoke("eval", "tracking", seq, "--results", results, "--benchmark", "MOT15")
    _exits_2_saying(result, f"{seq / 'gt' / 'gt.txt'} line 4: bb_height must be a finite number")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            f"{RESULT_ROW}\n1,1,50,10,20,40,1,-1,-1,-1\n",
            "Tracker predicts the same ID more than once in a single timestep",
        ),
        ("1,1,10,10,20,40,1,2,-1,-1\n", "Non pedestrian class (2) found in sequence SEQ"),
    ],
    ids=["duplicate-id-in-a-frame", "non-pedestrian-class"],
)
def test_what_trackeval_refuses_is_a_message_naming_the_files(tmp_path, rows, message):
    seq = _sequence(tmp_path / "SEQ")
    results = tmp_path / "SEQ.txt"
    results.write_text(rows)
    result = _invoke("eval", "tracking", seq, "--results", results, "--benchmark", "MOT17")
    _exits_2_saying(
        result, f"TrackEval cannot score {results} (ground truth {seq / 'gt' / 'gt.txt'})", message
    )


# --- runs: manifest.json, frames.csv, camera folders, tracks ---------------------------------


@pytest.fixture
def sim_copy(small_sim, tmp_path) -> Path:
    """A private copy of the small simulation to corrupt (videos included: they are small)."""
    return Path(shutil.copytree(small_sim, tmp_path / "sim"))


def _run_noisy(run_dir: Path, out: Path):
    return _invoke("run", run_dir, "--out", out, "--detections", "ground-truth-noisy")


def test_run_names_a_manifest_that_is_not_json(sim_copy, tmp_path):
    manifest = sim_copy / "manifest.json"
    manifest.write_text(manifest.read_text()[:-5])
    result = _run_noisy(sim_copy, tmp_path / "out")
    _exits_2_saying(result, f"{manifest} line ", ": not valid JSON (")


def test_run_names_a_manifest_without_cameras(sim_copy, tmp_path):
    manifest = sim_copy / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["cameras"]
    manifest.write_text(json.dumps(data))
    result = _run_noisy(sim_copy, tmp_path / "out")
    _exits_2_saying(result, f"{manifest}: lacks `cameras`")


def test_run_names_frame_times_that_do_not_increase(sim_copy, tmp_path):
    frames = sim_copy / "cameras" / "shelf-fruit" / "frames.csv"
    lines = frames.read_text().splitlines()
    cells = lines[10].split(",")  # frame 10, line 11
    cells[2] = lines[9].split(",")[2]  # the same camera time as frame 9
    lines[10] = ",".join(cells)
    frames.write_text("\n".join(lines) + "\n")
    result = _run_noisy(sim_copy, tmp_path / "out")
    _exits_2_saying(result, f"{frames} line 11: camera_time must increase from row to row (got ")


def test_run_names_a_non_finite_frame_time(sim_copy, tmp_path):
    frames = sim_copy / "cameras" / "ceil-sw" / "frames.csv"
    lines = frames.read_text().splitlines()
    cells = lines[3].split(",")
    cells[2] = "nan"
    lines[3] = ",".join(cells)
    frames.write_text("\n".join(lines) + "\n")
    result = _run_noisy(sim_copy, tmp_path / "out")
    _exits_2_saying(result, f"{frames} line 4: camera_time must be a finite number (got nan)")


def test_run_names_a_camera_folder_missing_its_video(sim_copy, tmp_path):
    (sim_copy / "cameras" / "ceil-sw" / "video.mp4").unlink()
    result = _run_noisy(sim_copy, tmp_path / "out")
    _exits_2_saying(result, f"{sim_copy / 'cameras' / 'ceil-sw'}: camera 'ceil-sw'", "no video.mp4")


def test_eval_names_a_corrupt_tracks_file(small_sim, tmp_path):
    out = tmp_path / "out"
    (out / "tracks").mkdir(parents=True)
    tracks = out / "tracks" / "ceil-sw.txt"
    tracks.write_text(f"{RESULT_ROW}\n2,1,10,10,20,40,1,-1,-1\n")
    result = _invoke("eval", small_sim, out)
    _exits_2_saying(result, f"{tracks} line 2: expected 10 comma-separated columns")


# --- scenario overrides -----------------------------------------------------------------------


def test_simulate_duration_override_gives_the_field_and_value(tmp_path):
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("base: easy.yaml\nduration_s: -5\n")
    shutil.copy(Path(__file__).parents[2] / "configs" / "scenarios" / "easy.yaml", tmp_path)
    from_file = _invoke("simulate", "--scenario", bad_file, "--out", tmp_path / "a", "--no-render")
    _exits_2_saying(from_file, "duration_s: Input should be greater than 0 (got -5)")
    result = _invoke("simulate", "--duration", "-5", "--out", tmp_path / "b", "--no-render")
    _exits_2_saying(
        result, "--duration -5:", "duration_s: Input should be greater than 0 (got -5.0)"
    )
    assert not (tmp_path / "b").exists()


def test_simulate_duration_nan_is_refused(tmp_path):
    result = _invoke("simulate", "--duration", "nan", "--out", tmp_path / "b", "--no-render")
    _exits_2_saying(result, "duration_s: Input should be less than or equal to 14400 (got nan)")


def test_demo_duration_override_gives_the_field_and_value(tmp_path):
    result = _invoke("demo", "--duration", "-5", "--out", tmp_path / "demo")
    _exits_2_saying(result, "duration_s: Input should be greater than 0 (got -5.0)")
    assert not (tmp_path / "demo").exists()


# --- output paths of the wrong kind -----------------------------------------------------------


def test_track_mot_out_that_is_a_folder(tmp_path):
    seq = _sequence(tmp_path / "SEQ")
    folder = tmp_path / "some_dir"
    folder.mkdir()
    result = _invoke("track", "mot", seq, "--out", f"{folder}/")
    _exits_2_saying(result, f"--out {folder}: is a folder; give the path of a file to write")


def test_track_mot_out_under_a_file(tmp_path):
    seq = _sequence(tmp_path / "SEQ")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = _invoke("track", "mot", seq, "--out", blocker / "res.txt")
    _exits_2_saying(result, f"--out {blocker / 'res.txt'}: {blocker} is a file")


def test_run_out_that_is_a_file(small_sim, tmp_path):
    existing = tmp_path / "existing_file"
    existing.write_text("keep me")
    result = _invoke("run", small_sim, "--out", existing)
    _exits_2_saying(result, f"--out {existing}: is a file; give a folder")
    assert existing.read_text() == "keep me"


def test_run_store_refuses_an_out_dir_that_is_a_file(small_sim, tmp_path):
    """The library check (for callers other than the CLI) raises before any work."""
    from storelens.evaluation.store_runner import run_store

    existing = tmp_path / "existing_file"
    existing.write_text("keep me")
    with pytest.raises(NotADirectoryError, match="existing_file: is a file"):
        run_store(small_sim, existing, detections="ground-truth-noisy", progress=False)


def test_simulate_out_that_is_a_file(tmp_path):
    existing = tmp_path / "existing_file"
    existing.write_text("keep me")
    result = _invoke("simulate", "--duration", "2", "--out", existing, "--no-render")
    _exits_2_saying(result, f"--out {existing}: is a file")
