"""Reading a store run back: cameras, frame times, ground truth, frames.

A run folder is a simulator output (`manifest.json`, `cameras/<id>/{video.mp4, frames.csv,
seqinfo.ini, gt/gt.txt, gt/keypoints.txt}`) or a recorded store laid out the same way with only
`cameras/<id>/video.mp4` required (times then come from `frames.csv`, else `seqinfo.ini`, else
the video's frame rate; ground truth is optional). Exporters (YOLO, COCO), the offline runner
and evaluations go through `StoreRecording`, so they agree on what a frame is and on the
train/val split: by time, the first `train_fraction` of every camera's frames for training and
the rest for validation — never neighbouring frames on both sides.

What is read is validated, and a run that is not what it says raises `RecordingError` (a
`ValueError`) naming the file, the line and the value — a `manifest.json` that is not JSON or
lacks `cameras`, a `frames.csv` with the wrong columns, non-finite or non-increasing times — or
`FileNotFoundError` for a camera folder without its `video.mp4`; ground truth and `seqinfo.ini`
go through the MOTChallenge reader's checks (`MotFormatError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.keypoints import KEYPOINTS_FILE, KeypointTable, read_keypoints
from storelens.datasets.formats.mot import (
    InputFormatError,
    MotTable,
    first_bad_row,
    parse_table,
    read_mot,
    read_seqinfo,
    read_text,
)
from storelens.datasets.sim.writer import CAMERAS_DIR, read_jsonl

FRAMES_CSV_COLUMNS = ("frame", "timeline_index", "camera_time", "true_time")


class RecordingError(InputFormatError):
    """A run folder's file that is not what it should be (`manifest.json`, `frames.csv`, a
    camera folder); the message names the file, the line and the value."""


@dataclass(frozen=True)
class RecordedFrame:
    camera_id: str
    frame: int  # 1-based, as in gt.txt
    split: str  # "train" | "val"
    image: np.ndarray
    boxes: MotTable
    keypoints: KeypointTable | None = None  # this frame's person keypoints, where the run has them


def frame_times(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(times (F,), step keys (F,)) of frames 1..F of the camera (or MOTChallenge sequence) in
    `folder`, by its own clock; frames of different cameras with equal keys were captured
    together. From `frames.csv` (the simulator's), else `seqinfo.ini` (time (f - 1) / frameRate),
    else `video.mp4`'s frame rate and length."""
    folder = Path(folder)
    frames_csv = folder / "frames.csv"
    if frames_csv.is_file():
        return read_frames_csv(frames_csv)
    if (folder / "seqinfo.ini").is_file():
        info = read_seqinfo(folder / "seqinfo.ini")
        rate, count = float(info.frame_rate), int(info.seq_length)
    else:
        cap = cv2.VideoCapture(str(folder / "video.mp4"))
        rate, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        if not rate or rate <= 0 or count <= 0:
            raise RecordingError(
                f"{folder / 'video.mp4'}: cannot read its frame rate or length",
                path=folder / "video.mp4",
            )
    return np.arange(count) / rate, np.arange(count, dtype=np.int64)


def read_frames_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(camera times, step keys) of a `frames.csv` (header `frame,timeline_index,camera_time,
    true_time`, one row per frame 1..F), validated: four numeric columns, frames numbered
    1, 2, ... in order, integer timeline indices and camera times both strictly increasing, finite
    times, and as many frames as the `seqinfo.ini` beside it says (when there is one)."""
    path = Path(path)
    text = read_text(path, RecordingError)
    header, _, body = text.partition("\n")
    expected = ",".join(FRAMES_CSV_COLUMNS)
    if header.strip().replace(" ", "") != expected:
        raise RecordingError(
            f"{path} line 1: expected the header {expected!r} (got {header.strip()!r})",
            path=path,
            line=1,
            value=header.strip(),
        )
    n = len(FRAMES_CSV_COLUMNS)
    data, lines = parse_table(path, body, (n, n), FRAMES_CSV_COLUMNS, RecordingError, 2)
    if not data.size:
        raise RecordingError(f"{path}: no frames (only the header)", path=path)

    frame, step, camera_t = data[:, 0], data[:, 1], data[:, 2]
    finite = np.isfinite(data)
    names = FRAMES_CSV_COLUMNS
    checks = [(~finite[:, c], c, names[c], "must be a finite number") for c in range(n)]
    with np.errstate(invalid="ignore"):
        expected_frame = np.arange(1, len(data) + 1)
        checks += [
            (frame != expected_frame, 0, "frame", "must number the rows 1, 2, 3, ... in order"),
            (step != np.round(step), 1, "timeline_index", "must be an integer"),
            (
                np.r_[False, np.diff(step) <= 0],
                1,
                "timeline_index",
                "must increase from row to row",
            ),
            (
                np.r_[False, np.diff(camera_t) <= 0],
                2,
                "camera_time",
                "must increase from row to row",
            ),
        ]
    first_bad_row(path, lines, checks, RecordingError)
    seqinfo = path.parent / "seqinfo.ini"
    if seqinfo.is_file():
        seq_length = read_seqinfo(seqinfo).seq_length
        if seq_length != len(data):
            raise RecordingError(
                f"{path}: {len(data)} frames, but {seqinfo} says seqLength={seq_length}",
                path=path,
                field="seqLength",
                value=str(seq_length),
            )
    return camera_t, step.astype(np.int64)


def _read_manifest(path: Path) -> dict:
    text = read_text(path, RecordingError)
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordingError(
            f"{path} line {err.lineno}, column {err.colno}: not valid JSON ({err.msg})",
            path=path,
            line=err.lineno,
        ) from None
    if not isinstance(manifest, dict):
        raise RecordingError(
            f"{path}: expected a JSON object (got {type(manifest).__name__})", path=path
        )
    if "cameras" not in manifest:
        raise RecordingError(
            f"{path}: lacks `cameras` (the list of rendered cameras, each with a camera_id)",
            path=path,
            field="cameras",
        )
    cameras = manifest["cameras"]
    if not isinstance(cameras, list):
        raise RecordingError(
            f"{path}: cameras must be a list (got {type(cameras).__name__})",
            path=path,
            field="cameras",
        )
    for i, camera in enumerate(cameras):
        cid = camera.get("camera_id") if isinstance(camera, dict) else None
        if not isinstance(cid, str) or not cid or "/" in cid or cid in (".", ".."):
            raise RecordingError(
                f"{path}: cameras[{i}].camera_id must be a camera folder name (got {cid!r})",
                path=path,
                field=f"cameras[{i}].camera_id",
                value=repr(cid),
            )
    return manifest


class StoreRecording:
    """A simulated or recorded store run (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if manifest.is_file():
            self.manifest = _read_manifest(manifest)
            self.camera_ids = [c["camera_id"] for c in self.manifest["cameras"]]
            if not self.camera_ids:
                raise FileNotFoundError(
                    f"{self.path}: the simulation was not rendered (no cameras)"
                )
            candidates, listed = self.camera_ids, f"listed in {manifest}"
        else:
            self.manifest = {}
            videos = sorted((self.path / CAMERAS_DIR).glob("*/video.mp4"))
            if not videos:
                raise FileNotFoundError(
                    f"{self.path}: not a store run (no manifest.json and no "
                    f"{CAMERAS_DIR}/<camera>/video.mp4)"
                )
            self.camera_ids = [v.parent.name for v in videos]
            # every folder of cameras/ is a camera: one without its video is not skipped silently
            candidates = sorted(
                p.name
                for p in (self.path / CAMERAS_DIR).iterdir()
                if p.is_dir() and not p.name.startswith(".")
            )
            listed = f"a folder of {self.path / CAMERAS_DIR}"
        for cid in candidates:
            if not self.video(cid).is_file():
                raise FileNotFoundError(
                    f"{self.camera_dir(cid)}: camera {cid!r} ({listed}) has no video.mp4"
                )

    @property
    def simulated(self) -> bool:
        return bool(self.manifest)

    def camera_dir(self, camera_id: str) -> Path:
        return self.path / CAMERAS_DIR / camera_id

    def video(self, camera_id: str) -> Path:
        return self.camera_dir(camera_id) / "video.mp4"

    def has_ground_truth(self, camera_id: str) -> bool:
        folder = self.camera_dir(camera_id)
        return (folder / "gt" / "gt.txt").is_file() and (folder / "seqinfo.ini").is_file()

    def ground_truth(self, camera_id: str) -> MotTable:
        seqinfo = self.camera_dir(camera_id) / "seqinfo.ini"
        seq_length = read_seqinfo(seqinfo).seq_length if seqinfo.is_file() else None
        return read_mot(
            self.camera_dir(camera_id) / "gt" / "gt.txt", kind="gt", seq_length=seq_length
        )

    def has_keypoints(self, camera_id: str) -> bool:
        return (self.camera_dir(camera_id) / "gt" / KEYPOINTS_FILE).is_file()

    def keypoints(self, camera_id: str) -> KeypointTable:
        """The camera's person keypoints (`gt/keypoints.txt`, see `formats.keypoints`)."""
        return read_keypoints(self.camera_dir(camera_id) / "gt" / KEYPOINTS_FILE)

    def frame_times(self, camera_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(times (F,), step keys (F,)) of the camera's frames 1..F; see `frame_times`."""
        return frame_times(self.camera_dir(camera_id))

    def image_size(self, camera_id: str) -> tuple[int, int]:
        seqinfo = self.camera_dir(camera_id) / "seqinfo.ini"
        if seqinfo.is_file():
            info = read_seqinfo(seqinfo)
            return info.width, info.height
        cap = cv2.VideoCapture(str(self.video(camera_id)))
        size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        if size[0] <= 0 or size[1] <= 0:
            raise RecordingError(
                f"{self.video(camera_id)}: cannot read the video's frame size",
                path=self.video(camera_id),
            )
        return size

    def unit_skus(self) -> np.ndarray:
        return np.array([u["sku"] for u in read_jsonl(self.path / "units.jsonl")])

    def frames(
        self, every: int = 1, train_fraction: float = 0.8, cameras: list[str] | None = None
    ) -> Iterator[RecordedFrame]:
        """Every `every`-th frame of each camera, decoded, with its boxes, keypoints (where the
        run has them) and split."""
        for cid in cameras or self.camera_ids:
            gt = self.ground_truth(cid)
            keypoints = self.keypoints(cid) if self.has_keypoints(cid) else None
            n = read_seqinfo(self.camera_dir(cid) / "seqinfo.ini").seq_length
            split_at = int(np.floor(n * train_fraction))
            cap = cv2.VideoCapture(str(self.camera_dir(cid) / "video.mp4"))
            try:
                for frame in range(1, n + 1):
                    ok, image = cap.read()
                    if not ok:
                        break
                    if (frame - 1) % every:
                        continue
                    yield RecordedFrame(
                        cid,
                        frame,
                        "train" if frame <= split_at else "val",
                        image,
                        gt.select(gt.frame == frame),
                        None if keypoints is None else keypoints.select(keypoints.frame == frame),
                    )
            finally:
                cap.release()
