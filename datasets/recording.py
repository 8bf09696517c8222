"""Reading a simulator output folder back: cameras, frame times, ground truth, frames.

Exporters (YOLO, COCO) and evaluations go through `SimRecording`, so they agree on what a
frame is and on the train/val split: by time, the first `train_fraction` of every camera's
frames for training and the rest for validation — never neighbouring frames on both sides.
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


class SimRecording:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if not manifest.is_file():
            raise FileNotFoundError(f"{self.path}: not a simulator output (no manifest.json)")
        self.manifest = json.loads(manifest.read_text())
        self.camera_ids = [c["camera_id"] for c in self.manifest["cameras"]]
        if not self.camera_ids:
            raise FileNotFoundError(f"{self.path}: the simulation was not rendered (no cameras)")

    def camera_dir(self, camera_id: str) -> Path:
        return self.path / CAMERAS_DIR / camera_id

    def ground_truth(self, camera_id: str) -> MotTable:
        return read_mot(self.camera_dir(camera_id) / "gt" / "gt.txt")

    def image_size(self, camera_id: str) -> tuple[int, int]:
        info = read_seqinfo(self.camera_dir(camera_id) / "seqinfo.ini")
        return info.width, info.height

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
