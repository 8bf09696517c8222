"""The live worker's tracks drawn back onto a camera's recording: an annotated MP4.

A store worker writes each camera's confirmed tracks to `tracks/<camera>.csv` (`t, track_id,
x1, y1, x2, y2, score`, times by the camera's clock). `annotate_video` puts every row on the
recording's frame captured at that time (nearest frame within half a frame period); the worker
samples frames, so each box is held over the frames until its next sample.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.mot import MotTable
from storelens.evaluation.draw_tracks import draw_tracks


def read_track_rows(path: str | Path) -> np.ndarray:
    """(N, 7) rows of a worker's tracks file (empty when it has none)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2) if Path(path).stat().st_size else None
    return np.zeros((0, 7)) if rows is None else rows.reshape(-1, 7)


def tracks_on_frames(rows: np.ndarray, frame_times: np.ndarray) -> MotTable:
    """The rows as a MOTChallenge table whose frames are those of `frame_times` (1-based)."""
    if not len(rows) or not len(frame_times):
        return MotTable.empty()
    idx = np.clip(np.searchsorted(frame_times, rows[:, 0]), 1, len(frame_times) - 1)
    nearer = np.where(
        np.abs(frame_times[idx - 1] - rows[:, 0]) <= np.abs(frame_times[idx] - rows[:, 0]),
        idx - 1,
        idx,
    )
    period = float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else 1.0
    keep = np.abs(frame_times[nearer] - rows[:, 0]) <= period / 2
    rows, nearer = rows[keep], nearer[keep]
    # the worker samples frames: hold each box over the frames until the next sample
    stamps = np.unique(rows[:, 0])
    hold = max(1, int(round(np.median(np.diff(stamps)) / period))) if len(stamps) > 1 else 1
    rows = np.repeat(rows, hold, axis=0)
    nearer = np.minimum((nearer[:, None] + np.arange(hold)).ravel(), len(frame_times) - 1)
    xyxy = rows[:, 2:6]
    return MotTable(
        frame=nearer.astype(int) + 1,
        track_id=rows[:, 1].astype(int),
        tlwh=np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]),
        conf=rows[:, 6],
        class_id=np.ones(len(rows), int),
        visibility=np.ones(len(rows)),
    )


def annotate_video(
    video: str | Path, frame_times: np.ndarray, tracks_csv: str | Path, out_path: str | Path
) -> Path:
    """Write `out_path` (MP4): `video` with the tracks of `tracks_csv` drawn on it."""
    table = tracks_on_frames(read_track_rows(tracks_csv), np.asarray(frame_times, float))
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"{video}: cannot open the video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        frame = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frame += 1
            writer.write(draw_tracks(image, table, frame))
    finally:
        cap.release()
        writer.release()
    return out
