"""MOTChallenge text files: `gt/gt.txt`, `det/det.txt`, tracker results and `seqinfo.ini`.

Rows are `frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility` (1-based
frames, pixel boxes); detections and results carry `-1` ids and three `-1` world columns. Held
in memory as a struct of arrays, `MotTable`.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MotTable:
    frame: np.ndarray  # (N,) int, 1-based
    track_id: np.ndarray  # (N,) int, -1 for detections
    tlwh: np.ndarray  # (N,4) float
    conf: np.ndarray  # (N,) float
    class_id: np.ndarray  # (N,) int
    visibility: np.ndarray  # (N,) float

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def empty(cls) -> MotTable:
        z = np.zeros(0)
        return cls(z.astype(int), z.astype(int), np.zeros((0, 4)), z, z.astype(int), z)

    @classmethod
    def concatenate(cls, parts: list[MotTable]) -> MotTable:
        if not parts:
            return cls.empty()
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def select(self, mask: np.ndarray) -> MotTable:
        return MotTable(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    def sorted(self) -> MotTable:
        order = np.lexsort((self.track_id, self.frame))
        return self.select(order)


def write_mot(path: str | Path, table: MotTable, kind: str = "gt") -> Path:
    """Write `gt` rows (9 columns) or `det`/`results` rows (10 columns, world = -1)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = table.sorted()
    cols = [t.frame, t.track_id, t.tlwh[:, 0], t.tlwh[:, 1], t.tlwh[:, 2], t.tlwh[:, 3], t.conf]
    if kind == "gt":
        cols += [t.class_id, t.visibility]
        fmt = ["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%d", "%d", "%.4f"]
    else:
        minus = -np.ones(len(t))
        cols += [minus, minus, minus]
        fmt = ["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.4f", "%d", "%d", "%d"]
    np.savetxt(
        path, np.column_stack(cols) if len(t) else np.zeros((0, len(fmt))), fmt=fmt, delimiter=","
    )
    return path


def read_mot(path: str | Path) -> MotTable:
    """Read any MOTChallenge text file (gt, det or results); missing columns get defaults."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such MOTChallenge file")
    text = path.read_text().strip()
    if not text:
        return MotTable.empty()
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: not a MOTChallenge file ({err})") from None
    if data.shape[1] < 6:
        raise ValueError(
            f"{path}: expected at least 6 comma-separated columns, got {data.shape[1]}"
        )
    n = len(data)
    conf = data[:, 6] if data.shape[1] > 6 else np.ones(n)
    is_gt = data.shape[1] == 9
    class_id = data[:, 7].astype(int) if is_gt else np.ones(n, int)
    visibility = data[:, 8] if is_gt else np.ones(n)
    return MotTable(
        data[:, 0].astype(int),
        data[:, 1].astype(int),
        data[:, 2:6].astype(float),
        conf.astype(float),
        class_id,
        visibility.astype(float),
    )


@dataclass(frozen=True)
class SeqInfo:
    name: str
    frame_rate: float
    seq_length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


def write_seqinfo(path: str | Path, info: SeqInfo) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[Sequence]\n"
        f"name={info.name}\nimDir={info.im_dir}\nframeRate={info.frame_rate:g}\n"
        f"seqLength={info.seq_length}\nimWidth={info.width}\nimHeight={info.height}\n"
        f"imExt={info.im_ext}\n"
    )
    return path


def read_seqinfo(path: str | Path) -> SeqInfo:
    path = Path(path)
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise FileNotFoundError(f"{path}: no such seqinfo.ini")
    try:
        s = parser["Sequence"]
        return SeqInfo(
            name=s["name"],
            frame_rate=float(s["frameRate"]),
            seq_length=int(s["seqLength"]),
            width=int(s["imWidth"]),
            height=int(s["imHeight"]),
            im_dir=s.get("imDir", "img1"),
            im_ext=s.get("imExt", ".jpg"),
        )
    except KeyError as err:
        raise ValueError(f"{path}: [Sequence] lacks {err.args[0]}") from None
