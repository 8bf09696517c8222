"""Readers at the edge never crash or lie: MOTChallenge files, `seqinfo.ini`, `frames.csv` and
`manifest.json` that break their format raise a typed error naming the file, the line, the field
and the value as written (issue 12). Every file here is a real file in tmp_path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from storelens.datasets.formats.mot import (
    MotFormatError,
    MotTable,
    SeqInfo,
    read_mot,
    read_seqinfo,
    write_mot,
    write_seqinfo,
)
from storelens.datasets.recording import RecordingError, StoreRecording, frame_times

DET = "1,-1,10,10,20,40,0.9,-1,-1,-1"  # a det / results row (10 columns)
GT = "1,7,10,10,20,40,1,1,0.8"  # a gt row (9 columns: class, visibility)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# --- MOTChallenge det / gt / results ----------------------------------------------------------


def test_valid_files_read_as_before(tmp_path):
    table = MotTable(
        np.array([1, 1, 2]),
        np.array([3, 4, 3]),
        np.array([[1, 2, 3, 4], [5, 6, 7, 8], [1.5, 2.5, 3.5, 4.5]], float),
        np.ones(3),
        np.array([1, 2, 1]),
        np.array([1.0, 0.5, 0.25]),
    )
    gt = read_mot(write_mot(tmp_path / "gt.txt", table, "gt"), kind="gt", seq_length=2)
    assert gt.frame.tolist() == [1, 1, 2] and gt.class_id.tolist() == [1, 2, 1]
    assert np.allclose(gt.tlwh, table.tlwh) and np.allclose(gt.visibility, table.visibility)
    res = read_mot(write_mot(tmp_path / "res.txt", table, "results"), kind="results")
    assert res.track_id.tolist() == [3, 4, 3] and res.class_id.tolist() == [1, 1, 1]
    # blank lines, CRLF, spaces after commas and one trailing comma (TrackEval takes those too)
    messy = _write(
        tmp_path / "messy.txt", f"\r\n{DET},\r\n\r\n2, -1, 1, 2, 3, 4, 0.5, -1, -1, -1\r\n"
    )
    assert read_mot(messy, kind="det").frame.tolist() == [1, 2]
    assert len(read_mot(_write(tmp_path / "empty.txt", "\n \n"))) == 0  # no rows is valid


@pytest.mark.parametrize(
    ("name", "text", "kind", "message", "line", "field", "value"),
    [
        (
            "det.txt",
            f"{DET}\n2,-1,10,abc,20,40,0.9,-1,-1,-1\n",
            "det",
            "det.txt line 2: bb_top is not a number (got 'abc')",
            2,
            "bb_top",
            "abc",
        ),
        (
            "det.txt",
            f"{DET}\n{DET}\n2,-1,10,10,20,40,0.9,-1\n",
            "det",
            "det.txt line 3: expected 10 comma-separated columns (as on line 1), got 8: "
            "'2,-1,10,10,20,40,0.9,-1'",
            3,
            None,
            None,
        ),
        (
            "det.txt",
            "1,2,3\n",
            "det",
            "det.txt line 1: expected 6 to 10 comma-separated columns, got 3",
            1,
            None,
            None,
        ),
        (
            "res.txt",
            f"{DET}\n2,1,10,10,nan,40,0.9,-1,-1,-1\n",
            "results",
            "res.txt line 2: bb_width must be a finite number (got nan)",
            2,
            "bb_width",
            "nan",
        ),
        (
            "res.txt",
            "1,1,10,10,20,inf,0.9,-1,-1,-1\n",
            "results",
            "res.txt line 1: bb_height must be a finite number (got inf)",
            1,
            "bb_height",
            "inf",
        ),
        (
            "det.txt",
            "\n".join([DET] * 16 + ["17,-1,10,10,-3.0,40,0.9,-1,-1,-1"]) + "\n",
            "det",
            "det.txt line 17: bb_width must be > 0 (got -3.0)",
            17,
            "bb_width",
            "-3.0",
        ),
        (
            "gt.txt",
            "1,7,10,10,20,0,1,1,0.8\n",
            "gt",
            "gt.txt line 1: bb_height must be > 0 (got 0)",
            1,
            "bb_height",
            "0",
        ),
        (
            "det.txt",
            "0,-1,10,10,20,40,0.9,-1,-1,-1\n",
            "det",
            "det.txt line 1: frame must be >= 1 (got 0)",
            1,
            "frame",
            "0",
        ),
        (
            "det.txt",
            "2.5,-1,10,10,20,40,0.9,-1,-1,-1\n",
            "det",
            "det.txt line 1: frame must be an integer (got 2.5)",
            1,
            "frame",
            "2.5",
        ),
        (
            "gt.txt",
            f"{GT}\n2,7.5,10,10,20,40,1,1,0.8\n",
            "gt",
            "gt.txt line 2: id must be an integer (got 7.5)",
            2,
            "id",
            "7.5",
        ),
        (
            "gt.txt",
            "1,7,10,10,20,40,1,2.5,0.8\n",
            "gt",
            "gt.txt line 1: class must be an integer (got 2.5)",
            1,
            "class",
            "2.5",
        ),
    ],
    ids=[
        "non-numeric",
        "ragged-columns",
        "too-few-columns",
        "nan",
        "inf",
        "negative-width",
        "zero-height",
        "frame-0",
        "fractional-frame",
        "fractional-gt-id",
        "fractional-class",
    ],
)
def test_a_bad_row_names_file_line_field_and_value(
    tmp_path, name, text, kind, message, line, field, value
):
    path = _write(tmp_path / name, text)
    with pytest.raises(MotFormatError) as err:
        read_mot(path, kind=kind)
    assert str(err.value) == f"{tmp_path}/{message}"
    assert (err.value.path, err.value.line, err.value.field, err.value.value) == (
        path,
        line,
        field,
        value,
    )
    assert isinstance(err.value, ValueError)  # what `user_errors` turns into exit 2


def test_the_first_bad_row_is_named_and_the_rest_counted(tmp_path):
    rows = [DET, "2,-1,10,10,20,-1,0.9,-1,-1,-1", "3,-1,10,10,0,40,0.9,-1,-1,-1", "0" + DET[1:]]
    path = _write(tmp_path / "det.txt", "\n".join(rows) + "\n")
    with pytest.raises(MotFormatError, match=r"line 2: bb_height must be > 0 \(got -1\); 2 more"):
        read_mot(path)


def test_a_frame_beyond_seq_length_is_refused_when_the_caller_knows_it(tmp_path):
    path = _write(tmp_path / "det.txt", f"{DET}\n5,-1,10,10,20,40,0.9,-1,-1,-1\n")
    assert read_mot(path, kind="det").frame.max() == 5  # no seqLength given: nothing to check
    with pytest.raises(MotFormatError) as err:
        read_mot(path, kind="det", seq_length=3)
    assert str(err.value) == f"{path} line 2: frame must be <= the sequence's seqLength 3 (got 5)"


def test_det_ids_are_not_checked_but_gt_and_results_ids_are(tmp_path):
    path = _write(tmp_path / "det.txt", "1,2.5,10,10,20,40,0.9,-1,-1,-1\n")
    assert len(read_mot(path, kind="det")) == 1  # a det file's ids are ignored
    for kind in ("results", None):
        with pytest.raises(MotFormatError, match="line 1: id must be an integer"):
            read_mot(path, kind=kind)


def test_missing_binary_and_folder_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such MOTChallenge file"):
        read_mot(tmp_path / "nowhere.txt")
    with pytest.raises(MotFormatError, match=r"bin.txt: not a text file"):
        read_mot(_write(tmp_path / "bin.txt", b"\xff\xfe\x00\x01"))
    with pytest.raises(MotFormatError, match="is a folder"):
        read_mot(tmp_path)
    with pytest.raises(ValueError, match="kind: 'tracks' is not one of"):
        read_mot(_write(tmp_path / "det.txt", DET), kind="tracks")


# --- seqinfo.ini ------------------------------------------------------------------------------

SEQINFO = (
    "[Sequence]\nname=cam\nimDir=img1\nframeRate=25\nseqLength=71\nimWidth=640\nimHeight=480\n"
)


def test_a_valid_seqinfo_reads(tmp_path):
    info = read_seqinfo(_write(tmp_path / "seqinfo.ini", SEQINFO))
    assert info == SeqInfo("cam", 25.0, 71, 640, 480)
    assert read_seqinfo(write_seqinfo(tmp_path / "w.ini", info)) == info
    odd = SEQINFO.replace("name=cam", "name=50% off")  # no interpolation surprises
    assert read_seqinfo(_write(tmp_path / "odd.ini", odd)).name == "50% off"


def _set(key: str, value: str) -> str:
    """SEQINFO with `key`'s value replaced."""
    lines = [f"{key}={value}" if ln.startswith(f"{key}=") else ln for ln in SEQINFO.splitlines()]
    return "\n".join(lines) + "\n"


RATE = "frameRate must be a positive number"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name=cam\nframeRate=25\n", "line 1: no [Sequence] section header before 'name=cam'"),
        ("[Foo]\nname=cam\n", ": no [Sequence] section (sections found: [Foo])"),
        (SEQINFO.replace("imHeight=480\n", ""), ": [Sequence] lacks imHeight"),
        (_set("frameRate", "0"), f"line 4: {RATE} (got 0)"),
        (_set("frameRate", "-25"), f"line 4: {RATE} (got -25)"),
        (_set("frameRate", "fast"), f"line 4: {RATE} (got 'fast')"),
        (_set("frameRate", "nan"), f"line 4: {RATE} (got nan)"),
        (_set("seqLength", "71.5"), "line 5: seqLength must be a positive integer (got 71.5)"),
        (_set("seqLength", "0"), "line 5: seqLength must be a positive integer (got 0)"),
        (_set("imWidth", "-640"), "line 6: imWidth must be a positive integer (got -640)"),
        (_set("imHeight", "tall"), "line 7: imHeight must be a positive integer (got 'tall')"),
        (SEQINFO + "seqLength=72\n", "line 8: seqlength is given twice (in [Sequence])"),
        (SEQINFO + "not ini\n", "line 8: not `key=value` (got 'not ini')"),
    ],
    ids=[
        "no-section-header",
        "no-sequence-section",
        "missing-key",
        "frame-rate-0",
        "frame-rate-negative",
        "frame-rate-text",
        "frame-rate-nan",
        "fractional-length",
        "zero-length",
        "negative-width",
        "text-height",
        "duplicate-key",
        "not-key-value",
    ],
)
def test_a_bad_seqinfo_names_file_line_and_value(tmp_path, text, message):
    path = _write(tmp_path / "seqinfo.ini", text)
    with pytest.raises(MotFormatError) as err:
        read_seqinfo(path)
    assert str(err.value) == f"{path}{'' if message.startswith(':') else ' '}{message}"


def test_a_missing_seqinfo_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"seqinfo.ini: no such seqinfo.ini"):
        read_seqinfo(tmp_path / "seqinfo.ini")


# --- frames.csv, manifest.json, camera folders ------------------------------------------------

FRAMES_HEADER = "frame,timeline_index,camera_time,true_time"


def _recording(root: Path, frames: int = 4) -> Path:
    """A minimal valid simulated run: one camera with frames.csv, seqinfo.ini, gt and a video
    file (only its presence is checked here)."""
    cam = root / "cameras" / "cam"
    times = [100 + f / 10 for f in range(frames)]
    rows = [f"{f + 1},{f},{t:.6f},{t:.6f}" for f, t in enumerate(times)]
    _write(cam / "frames.csv", "\n".join([FRAMES_HEADER, *rows]) + "\n")
    write_seqinfo(cam / "seqinfo.ini", SeqInfo("cam", 10, frames, 640, 480))
    _write(cam / "gt" / "gt.txt", f"{GT}\n")
    _write(cam / "video.mp4", b"")
    manifest = {"cameras": [{"camera_id": "cam", "frames": frames}], "fps": 10}
    _write(root / "manifest.json", json.dumps(manifest, indent=2))
    return root


def test_a_valid_recording_reads(tmp_path):
    rec = StoreRecording(_recording(tmp_path / "run"))
    times, keys = rec.frame_times("cam")
    assert rec.camera_ids == ["cam"] and keys.tolist() == [0, 1, 2, 3]
    assert np.allclose(np.diff(times), 0.1) and len(rec.ground_truth("cam")) == 1
    assert rec.image_size("cam") == (640, 480) and rec.has_ground_truth("cam")


def _frames_csv(root: Path) -> Path:
    return root / "cameras" / "cam" / "frames.csv"


@pytest.mark.parametrize(
    ("row3", "message"),
    [
        ("3,2,100.2", "line 4: expected 4 comma-separated columns (as on line 2), got 3"),
        ("3,2,abc,100.2", "line 4: camera_time is not a number (got 'abc')"),
        ("3,2,nan,100.2", "line 4: camera_time must be a finite number (got nan)"),
        ("3,2,100.2,inf", "line 4: true_time must be a finite number (got inf)"),
        ("3,2,100.05,100.2", "line 4: camera_time must increase from row to row (got 100.05)"),
        ("3,1,100.2,100.2", "line 4: timeline_index must increase from row to row (got 1)"),
        ("3,2.5,100.2,100.2", "line 4: timeline_index must be an integer (got 2.5)"),
        ("4,2,100.2,100.2", "line 4: frame must number the rows 1, 2, 3, ... in order (got 4)"),
    ],
    ids=[
        "ragged",
        "non-numeric",
        "nan-time",
        "inf-true-time",
        "time-not-increasing",
        "index-not-increasing",
        "fractional-index",
        "frame-skipped",
    ],
)
def test_a_bad_frames_csv_names_file_line_and_value(tmp_path, row3, message):
    root = _recording(tmp_path / "run")
    path = _frames_csv(root)
    lines = path.read_text().splitlines()
    lines[3] = row3  # frame 3
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordingError) as err:
        frame_times(path.parent)
    assert str(err.value).startswith(f"{path} {message}"), str(err.value)


def test_a_frames_csv_without_its_header_or_frames_or_matching_seqinfo(tmp_path):
    root = _recording(tmp_path / "run")
    path = _frames_csv(root)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[1:]) + "\n")  # a frame would be skipped as the header
    with pytest.raises(RecordingError, match=r"frames.csv line 1: expected the header 'frame,"):
        frame_times(path.parent)
    path.write_text(FRAMES_HEADER + "\n")
    with pytest.raises(RecordingError, match=r"frames.csv: no frames \(only the header\)"):
        frame_times(path.parent)
    path.write_text("\n".join(lines[:3]) + "\n")
    with pytest.raises(RecordingError, match=r"frames.csv: 2 frames, but .*seqLength=4"):
        frame_times(path.parent)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('{"cameras": [{"camera_id": "cam"}', " line 1, column 34: not valid JSON (Expecting ','"),
        ('{"fps": 10}', ": lacks `cameras` (the list of rendered cameras, each with a camera_id)"),
        ('[{"camera_id": "cam"}]', ": expected a JSON object (got list)"),
        ('{"cameras": "cam"}', ": cameras must be a list (got str)"),
        ('{"cameras": [{"id": "cam"}]}', ": cameras[0].camera_id must be a camera folder name"),
    ],
    ids=["not-json", "no-cameras", "not-an-object", "cameras-not-a-list", "no-camera-id"],
)
def test_a_bad_manifest_names_the_file_and_what_is_wrong(tmp_path, manifest, message):
    root = _recording(tmp_path / "run")
    (root / "manifest.json").write_text(manifest)
    with pytest.raises(RecordingError) as err:
        StoreRecording(root)
    assert str(err.value).startswith(f"{root / 'manifest.json'}{message}"), str(err.value)


def test_a_camera_folder_without_its_video_is_named(tmp_path):
    root = _recording(tmp_path / "run")
    (root / "cameras" / "cam" / "video.mp4").unlink()
    with pytest.raises(FileNotFoundError) as err:
        StoreRecording(root)
    assert str(err.value) == (
        f"{root / 'cameras' / 'cam'}: camera 'cam' (listed in {root / 'manifest.json'}) "
        "has no video.mp4"
    )
    # a recorded store (no manifest): a camera folder without a video is not skipped silently
    (root / "manifest.json").unlink()
    _write(root / "cameras" / "other" / "video.mp4", b"")
    with pytest.raises(FileNotFoundError, match=r"camera 'cam' \(a folder of .*\) has no video"):
        StoreRecording(root)


def test_corrupt_ground_truth_in_a_recording_is_named(tmp_path):
    root = _recording(tmp_path / "run")
    gt = root / "cameras" / "cam" / "gt" / "gt.txt"
    gt.write_text(f"{GT}\n9,7,10,10,20,40,1,1,0.8\n")
    with pytest.raises(MotFormatError, match=r"gt.txt line 2: frame must be <= .*seqLength 4"):
        StoreRecording(root).ground_truth("cam")


def test_a_real_simulation_passes_every_check(small_sim, tmp_path):
    """The strict readers accept what the simulator writes (read-only use of the fixture)."""
    rec = StoreRecording(small_sim)
    for cam in rec.camera_ids:
        info = read_seqinfo(rec.camera_dir(cam) / "seqinfo.ini")
        times, keys = rec.frame_times(cam)
        assert len(times) == info.seq_length and np.all(np.diff(times) > 0)
        gt = rec.ground_truth(cam)
        assert len(gt) and gt.frame.max() <= info.seq_length and gt.tlwh[:, 2:].min() > 0
    # and a copy with one corrupted camera fails naming that camera's file
    copy = tmp_path / "sim"
    shutil.copytree(small_sim, copy, ignore=shutil.ignore_patterns("*.mp4"))
    for cam in rec.camera_ids:
        _write(copy / "cameras" / cam / "video.mp4", b"")
    gt = copy / "cameras" / rec.camera_ids[1] / "gt" / "gt.txt"
    lines = gt.read_text().splitlines()
    cells = lines[4].split(",")
    cells[4] = "-3.00"
    lines[4] = ",".join(cells)
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(MotFormatError) as err:
        StoreRecording(copy).ground_truth(rec.camera_ids[1])
    assert str(err.value) == f"{gt} line 5: bb_width must be > 0 (got -3.00)"
