"""Per-camera keypoint ground truth, `gt/keypoints.txt`: one row per person box and frame.

    frame,id,nose_x,nose_y,nose_v,...,right_ankle_x,right_ankle_y,right_ankle_v

a header line, then `frame, id` (as in `gt/gt.txt`) and 17 x `x, y, v` in COCO order
(`storelens.keypoints`): pixels of the output frame, `v` COCO's flag (0 unlabelled with x = y = 0,
1 hidden, 2 visible). A model's keypoints (`storelens run` writes `keypoints/<cam>.txt`) have
the same layout with a score in [0, 1] in place of the flag (`..._score` columns, unseen joints
0, 0, 0). Reading validates like the MOTChallenge reader: a bad file raises
`KeypointFormatError` naming the file, the line, the field and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storelens.datasets.formats.mot import (
    InputFormatError,
    first_bad_row,
    parse_table,
    read_text,
)
from storelens.keypoints import COCO_KEYPOINTS, N_KEYPOINTS

KEYPOINTS_FILE = "keypoints.txt"
COLUMNS = ("frame", "id") + tuple(f"{n}_{c}" for n in COCO_KEYPOINTS for c in "xyv")
HEADER = ",".join(COLUMNS)
SCORE_COLUMNS = ("frame", "id") + tuple(
    f"{n}_{c}" for n in COCO_KEYPOINTS for c in ("x", "y", "score")
)
SCORE_HEADER = ",".join(SCORE_COLUMNS)


class KeypointFormatError(InputFormatError):
    """A `keypoints.txt` that breaks its format."""


@dataclass(frozen=True)
class KeypointTable:
    frame: np.ndarray  # (N,) int, 1-based
    track_id: np.ndarray  # (N,) int
    keypoints: np.ndarray  # (N,17,3) x, y, v (or x, y, score: `scored`)
    scored: bool = False

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, mask: np.ndarray) -> KeypointTable:
        return KeypointTable(
            self.frame[mask], self.track_id[mask], self.keypoints[mask], self.scored
        )

    def lookup(self, frame: np.ndarray, track_id: np.ndarray) -> np.ndarray:
        """Row index of each (frame, id) pair, -1 where the table has none."""
        want = np.asarray(frame, np.int64) << 32 | np.asarray(track_id, np.int64)
        if not len(self):
            return np.full(len(want), -1)
        key = self.frame.astype(np.int64) << 32 | self.track_id.astype(np.int64)
        order = np.argsort(key, kind="stable")
        pos = np.minimum(np.searchsorted(key[order], want), len(key) - 1)
        return np.where(key[order][pos] == want, order[pos], -1)


def keypoint_rows(frame: int, track_id: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """One `frame, id, x0, y0, v0, ...` row per person: (N, 2 + 51)."""
    n = len(track_id)
    return np.column_stack([np.full(n, frame), track_id, keypoints.reshape(n, 3 * N_KEYPOINTS)])


def write_keypoints(path: str | Path, rows: list[np.ndarray], scores: bool = False) -> Path:
    """`keypoint_rows` to `path`: flags (ground truth) or, with `scores`, a model's scores."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = np.concatenate(rows) if rows else np.zeros((0, len(COLUMNS)))
    third = "%.3f" if scores else "%d"
    fmt = ["%d", "%d"] + ["%.2f", "%.2f", third] * N_KEYPOINTS
    header = SCORE_HEADER if scores else HEADER
    np.savetxt(path, table, fmt=fmt, delimiter=",", header=header, comments="")
    return path


def read_keypoints(path: str | Path) -> KeypointTable:
    path = Path(path)
    if not path.is_file():
        raise KeypointFormatError(f"{path}: no such file", path=path)
    text = read_text(path, KeypointFormatError)
    head, _, body = text.partition("\n")
    scored = head.strip() == SCORE_HEADER
    if head.strip() not in (HEADER, SCORE_HEADER):
        raise KeypointFormatError(
            f"{path} line 1: expected the header {COLUMNS[0]},{COLUMNS[1]},{COLUMNS[2]},..., "
            f"got {head.strip()[:60]!r}",
            path=path,
            line=1,
        )
    data, lines = parse_table(
        path,
        body,
        (len(COLUMNS), len(COLUMNS)),
        SCORE_COLUMNS if scored else COLUMNS,
        KeypointFormatError,
        first_line=2,
    )
    if data.size == 0:
        empty = np.zeros((0, N_KEYPOINTS, 3))
        return KeypointTable(np.zeros(0, int), np.zeros(0, int), empty, scored)
    kp = data[:, 2:].reshape(-1, N_KEYPOINTS, 3)
    v = kp[..., 2]
    checks = [
        (~np.isfinite(data[:, 0]) | (data[:, 0] < 1) | (data[:, 0] % 1 != 0), 0, "frame",
         "must be an integer >= 1"),
        (~np.isfinite(data[:, 1]) | (data[:, 1] % 1 != 0), 1, "id", "must be an integer"),
    ]  # fmt: skip
    bad_v = ~((v >= 0) & (v <= 1)) if scored else ~np.isin(v, (0, 1, 2))
    third, rule = ("score", "must lie in [0, 1]") if scored else ("v", "must be 0, 1 or 2")
    bad_xy = ~np.isfinite(kp[..., :2]).all(axis=2)
    for j, name in enumerate(COCO_KEYPOINTS):
        checks.append((bad_v[:, j], 2 + 3 * j + 2, f"{name}_{third}", rule))
        checks.append((bad_xy[:, j], 2 + 3 * j, f"{name}_x", "must be finite"))
    first_bad_row(path, lines, checks, KeypointFormatError)
    return KeypointTable(data[:, 0].astype(int), data[:, 1].astype(int), kp, scored)
