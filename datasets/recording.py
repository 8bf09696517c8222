"""Reading a store run back: cameras, frame times, ground truth, frames.

A run folder is a simulator output (`manifest.json`, `cameras/<id>/{video.mp4, frames.csv,
seqinfo.ini, gt/gt.txt}`) or a recorded store laid out the same way with only
`cameras/<id>/video.mp4` required (times then come from `frames.csv`, else `seqinfo.ini`, else
the video's frame rate; ground truth is optional). Exporters (YOLO, COCO), the offline runner
and evaluations go through `StoreRecording`, so they agree on what a frame is and on the
train/val split: by time, the first `train_fraction` of every camera's frames for training and
the rest for validation — never neighbouring frames on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.mot import MotTable, read_mot, read_seqinfo
from storelens.datasets.sim.writer import CAMERAS_DIR, read_jsonl


@dataclass(frozen=True)
class RecordedFrame:
    camera_id: str
    frame: int  # 1-based, as in gt.txt
    split: str  # "train" | "val"
    image: np.ndarray
    boxes: MotTable


def frame_times(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(times (F,), step keys (F,)) of frames 1..F of the camera (or MOTChallenge sequence) in
    `folder`, by its own clock; frames of different cameras with equal keys were captured
    together. From `frames.csv` (the simulator's), else `seqinfo.ini` (time (f - 1) / frameRate),
    else `video.mp4`'s frame rate and length."""
    folder = Path(folder)
    frames_csv = folder / "frames.csv"
    if frames_csv.is_file():
        table = np.loadtxt(frames_csv, delimiter=",", skiprows=1, ndmin=2)
        return table[:, 2], table[:, 1].astype(np.int64)
    if (folder / "seqinfo.ini").is_file():
        info = read_seqinfo(folder / "seqinfo.ini")
        rate, count = float(info.frame_rate), int(info.seq_length)
    else:
        cap = cv2.VideoCapture(str(folder / "video.mp4"))
        rate, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        if not rate or rate <= 0 or count <= 0:
            raise ValueError(f"{folder / 'video.mp4'}: cannot read its frame rate or length")
    return np.arange(count) / rate, np.arange(count, dtype=np.int64)


class StoreRecording:
    """A simulated or recorded store run (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if manifest.is_file():
            self.manifest = json.loads(manifest.read_text())
            self.camera_ids = [c["camera_id"] for c in self.manifest["cameras"]]
            if not self.camera_ids:
                raise FileNotFoundError(
                    f"{self.path}: the simulation was not rendered (no cameras)"
                )
        else:
            self.manifest = {}
            videos = sorted((self.path / CAMERAS_DIR).glob("*/video.mp4"))
            if not videos:
                raise FileNotFoundError(
                    f"{self.path}: not a store run (no manifest.json and no "
                    f"{CAMERAS_DIR}/<camera>/video.mp4)"
                )
            self.camera_ids = [v.parent.name for v in videos]

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
        return read_mot(self.camera_dir(camera_id) / "gt" / "gt.txt")

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
        return size

    def unit_skus(self) -> np.ndarray:
        return np.array([u["sku"] for u in read_jsonl(self.path / "units.jsonl")])

    def frames(
        self, every: int = 1, train_fraction: float = 0.8, cameras: list[str] | None = None
    ) -> Iterator[RecordedFrame]:
        """Every `every`-th frame of each camera, decoded, with its boxes and split."""
        for cid in cameras or self.camera_ids:
            gt = self.ground_truth(cid)
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
                    )
            finally:
                cap.release()
