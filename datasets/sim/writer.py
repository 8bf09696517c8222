"""Writing a simulated store to disk: per-camera videos, frame times and MOTChallenge ground
truth; the multi-camera file in the AI City layout; JSON-lines records for events, POS, RFID,
sessions and identities.

Records are validated on write: `validate_records(path, Model, rows)` builds a `Model` of every
row and raises `RecordError` naming the file, the record (line), the field and its value, so a
bad line never reaches the disk; `write_records` writes typed records and `read_records(path,
Model)` reads a file back into them. The record type of each file is in
`storelens.datasets.sim.truth.TRUTH_FILES`.

Layout of an output folder:
    manifest.json  store.yaml  scenario.yaml
    events.jsonl  staff_events.jsonl  pos.jsonl  rfid.jsonl  sessions.jsonl  identities.jsonl
    units.jsonl (unit index → unit id, SKU, EPC; product box ids are 100000 + index)
    multicam_gt.txt       camera_index person_id frame left top width height floor_x floor_y
    wrists_3d.csv         timeline_index t id side x y z (store frame, metres)
    cameras/<camera_id>/video.mp4  frames.csv  seqinfo.ini  gt/gt.txt
                        gt/keypoints.txt (frame, id, 17 x `x, y, v`: `keypoints`)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
from pydantic import BaseModel, ValidationError

from storelens.datasets.formats.keypoints import KEYPOINTS_FILE, keypoint_rows, write_keypoints
from storelens.datasets.formats.mot import MotTable, SeqInfo, write_mot, write_seqinfo
from storelens.datasets.sim.groundtruth import FrameBoxes
from storelens.detections import HAND

CAMERAS_DIR = "cameras"
M = TypeVar("M", bound=BaseModel)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    with path.open("w") as fh:
        for record in records:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


class RecordError(ValueError):
    """A record that does not validate as its file's type: names the file, line and field."""


def _record_error(path: Path, line: int, model: type[BaseModel], err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        where = ".".join(str(part) for part in e["loc"])
        got = f" = {e['input']!r}" if where else ""
        problems.append(f"{where}{got}: {e['msg']}" if where else e["msg"])
    return f"{path}: record {line}: not a valid {model.__name__}: " + "; ".join(problems)


def validate_records(
    path: Path, model: type[M], rows: Iterable[Mapping[str, Any]], **fields: Any
) -> list[M]:
    """`rows` (each with `fields` added) as `model`s; RecordError for the first that fails."""
    records = []
    for line, row in enumerate(rows, start=1):
        try:
            records.append(model.model_validate({**row, **fields}))
        except ValidationError as err:
            raise RecordError(_record_error(path, line, model, err)) from err
    return records


def write_records(path: Path, records: Iterable[BaseModel]) -> Path:
    """Typed records as JSON lines (their JSON form, sorted keys)."""
    return write_jsonl(path, [r.model_dump(mode="json") for r in records])


def read_records(path: str | Path, model: type[M]) -> list[M]:
    """A JSON-lines file read back as `model`s (RecordError naming the line that fails)."""
    path = Path(path)
    return validate_records(path, model, read_jsonl(path))


class CameraRecorder:
    """Collects one camera's frames and boxes; `close()` writes them."""

    def __init__(self, out_dir: Path, camera_id: str, width: int, height: int, fps: float) -> None:
        self.dir = out_dir / CAMERAS_DIR / camera_id
        (self.dir / "gt").mkdir(parents=True, exist_ok=True)
        self.camera_id, self.size, self.fps = camera_id, (width, height), fps
        self.video = cv2.VideoWriter(
            str(self.dir / "video.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height)
        )
        if not self.video.isOpened():
            raise RuntimeError(
                f"OpenCV cannot write {self.dir / 'video.mp4'} (mp4v codec missing?)"
            )
        self.frames: list[tuple[int, int, float, float]] = []
        self.boxes: list[MotTable] = []
        self.person_rows: list[np.ndarray] = []
        self.keypoint_rows: list[np.ndarray] = []
        self.hand_rows: list[np.ndarray] = []  # hand id, frame, timeline index of each hand box

    def add(
        self,
        image: np.ndarray,
        boxes: FrameBoxes,
        timeline_index: int,
        true_t: float,
        camera_t: float,
        person_floor_xy: np.ndarray,
        person_keypoints: np.ndarray,
    ) -> None:
        """`person_floor_xy` (N,2): floor position of each box (NaN for non-people);
        `person_keypoints` (n_people,17,3): `x, y, v` of each person box, in box order."""
        self.video.write(image)
        frame = len(self.frames) + 1
        self.frames.append((frame, timeline_index, camera_t, true_t))
        n = len(boxes.oid)
        self.boxes.append(
            MotTable(
                np.full(n, frame),
                boxes.global_id,
                boxes.tlwh,
                np.ones(n),
                boxes.class_id,
                boxes.visibility,
            )
        )
        people = np.isfinite(person_floor_xy[:, 0])
        self.keypoint_rows.append(keypoint_rows(frame, boxes.global_id[people], person_keypoints))
        hands = boxes.class_id == HAND
        self.hand_rows.append(
            np.column_stack(
                [
                    boxes.global_id[hands],
                    np.full(hands.sum(), frame),
                    np.full(hands.sum(), timeline_index),
                ]
            )
        )
        if people.any():
            self.person_rows.append(
                np.column_stack(
                    [
                        boxes.global_id[people],
                        np.full(people.sum(), frame),
                        boxes.tlwh[people],
                        person_floor_xy[people],
                    ]
                )
            )

    def close(self) -> dict[str, Any]:
        self.video.release()
        np.savetxt(
            self.dir / "frames.csv",
            np.array(self.frames, dtype=float).reshape(-1, 4),
            fmt=["%d", "%d", "%.6f", "%.6f"],
            delimiter=",",
            header="frame,timeline_index,camera_time,true_time",
            comments="",
        )
        write_mot(self.dir / "gt" / "gt.txt", MotTable.concatenate(self.boxes), kind="gt")
        write_seqinfo(
            self.dir / "seqinfo.ini",
            SeqInfo(
                name=self.camera_id,
                frame_rate=self.fps,
                seq_length=len(self.frames),
                width=self.size[0],
                height=self.size[1],
            ),
        )
        write_keypoints(self.dir / "gt" / KEYPOINTS_FILE, self.keypoint_rows)
        rows = np.concatenate(self.person_rows) if self.person_rows else np.zeros((0, 8))
        hands = np.concatenate(self.hand_rows) if self.hand_rows else np.zeros((0, 3))
        return {
            "camera_id": self.camera_id,
            "frames": len(self.frames),
            "person_rows": rows,
            "hand_rows": hands.astype(np.int64),
        }


def write_multicam(
    path: Path, camera_ids: list[str], per_camera_rows: dict[str, np.ndarray]
) -> Path:
    """AI City MTMC layout: `camera person_id frame left top width height floor_x floor_y`."""
    with path.open("w") as fh:
        for index, cid in enumerate(camera_ids, start=1):
            for r in per_camera_rows.get(cid, np.zeros((0, 8))):
                fh.write(
                    f"{index} {int(r[0])} {int(r[1])} {r[2]:.1f} {r[3]:.1f} {r[4]:.1f} "
                    f"{r[5]:.1f} {r[6]:.3f} {r[7]:.3f}\n"
                )
    return path
