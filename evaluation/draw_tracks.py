"""Pictures of tracks: boxes with ids and the recent trail of each track, drawn on frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.mot import MotTable
from storelens.drawing import put_label

TRAIL_FRAMES = 30


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per id (golden-ratio hue steps)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_tracks(image: np.ndarray, results: MotTable, frame: int) -> np.ndarray:
    """Boxes of `frame` with their ids, and each id's foot-point trail over the last frames."""
    out = image.copy()
    recent = results.select((results.frame > frame - TRAIL_FRAMES) & (results.frame <= frame))
    for tid in np.unique(recent.track_id):
        rows = recent.select(recent.track_id == tid)
        feet = np.column_stack(
            [rows.tlwh[:, 0] + rows.tlwh[:, 2] / 2, rows.tlwh[:, 1] + rows.tlwh[:, 3]]
        )
        colour = id_colour(int(tid))
        cv2.polylines(
            out, [np.round(feet[np.argsort(rows.frame)]).astype(np.int32)], False, colour, 2
        )
        now = rows.select(rows.frame == frame)
        for x, y, w, h in now.tlwh:
            cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), colour, 2)
            put_label(out, str(int(tid)), (int(x), max(12, int(y) - 4)), colour)
    return out


def tracks_sheet(
    videos: dict[str, Path],
    results: dict[str, MotTable],
    out_path: str | Path,
    frame: int,
    tile_width: int = 400,
) -> Path:
    """One tile per camera at `frame`, tracks drawn; written as a PNG grid (3 per row)."""
    tiles = []
    for cam, video in videos.items():
        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
        ok, image = cap.read()
        cap.release()
        if not ok:
            continue
        img = draw_tracks(image, results[cam], frame)
        img = cv2.resize(img, (tile_width, int(img.shape[0] * tile_width / img.shape[1])))
        put_label(img, f"{cam} frame {frame}", (6, 18), (255, 255, 255), 0.55, banner=True)
        tiles.append(img)
    if not tiles:
        raise FileNotFoundError("no frame could be read from the videos")
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i : i + 3]) for i in range(0, len(tiles), 3)])
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)
    return path
