"""`Detections`: the struct-of-arrays container for boxes of one frame or a batch of cameras.

All fields are N-length numpy arrays (supervision's `Detections` shape, detectron2's
`Instances` discipline): one frame of one camera and a batch over many cameras are the same
type, filtered with boolean masks and joined with `Detections.concatenate`. Tracks are
`Detections` whose `tracker_id` is set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

NO_TRACKER_ID = -1
# Class ids every stage uses: the MOTChallenge class column of the simulator's ground truth.
PERSON, HAND, PRODUCT = 1, 2, 3
CLASS_NAMES = {PERSON: "person", HAND: "hand", PRODUCT: "product"}


def _column(name: str, value: npt.ArrayLike | None, n: int, dtype: Any, default: Any) -> np.ndarray:
    if dtype is np.str_:  # let numpy size the string dtype; a bare np.str_ would truncate to 1
        dtype = np.asarray(default if value is None else value).astype(str).dtype
    if value is None:
        return np.full(n, default, dtype=dtype)
    arr = np.asarray(value)
    if arr.ndim == 0:  # one value for every row
        return np.full(n, arr.item(), dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(f"Detections.{name}: expected shape ({n},) to match xyxy, got {arr.shape}")
    try:
        return arr.astype(dtype, copy=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"Detections.{name}: cannot be read as {np.dtype(dtype)}: {err}") from None


class Detections:
    """Boxes with their per-box attributes, all as N-length arrays.

    Attributes:
        xyxy: (N, 4) float32 corners in pixels.
        confidence: (N,) float32 detector score; 1 when unknown.
        class_id: (N,) int64 class index.
        tracker_id: (N,) int64 track id, `NO_TRACKER_ID` (-1) for untracked boxes.
        camera_id: (N,) str camera of each box ("" when there is a single unnamed camera).
        timestamp: (N,) float64 capture time of each box's frame, seconds since the epoch (UTC).
        embedding: optional (N, D) float32 appearance features (memory only, never stored).
        data: extra N-length arrays by name (e.g. `"frame_index"`, `"visibility"`).

    Example:
        >>> dets = Detections(xyxy=[[0, 0, 10, 20], [5, 5, 8, 9]], confidence=[0.9, 0.3])
        >>> len(dets[dets.confidence > 0.5])
        1
    """

    __slots__ = (
        "xyxy",
        "confidence",
        "class_id",
        "tracker_id",
        "camera_id",
        "timestamp",
        "embedding",
        "data",
    )

    def __init__(
        self,
        xyxy: npt.ArrayLike,
        confidence: npt.ArrayLike | None = None,
        class_id: npt.ArrayLike | None = None,
        tracker_id: npt.ArrayLike | None = None,
        camera_id: npt.ArrayLike | None = None,
        timestamp: npt.ArrayLike | None = None,
        embedding: npt.ArrayLike | None = None,
        data: Mapping[str, npt.ArrayLike] | None = None,
    ) -> None:
        boxes = np.asarray(xyxy, dtype=np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"Detections.xyxy: expected shape (N, 4), got {boxes.shape}")
        n = len(boxes)
        self.xyxy: np.ndarray = boxes
        self.confidence: np.ndarray = _column("confidence", confidence, n, np.float32, 1.0)
        self.class_id: np.ndarray = _column("class_id", class_id, n, np.int64, 0)
        self.tracker_id: np.ndarray = _column("tracker_id", tracker_id, n, np.int64, NO_TRACKER_ID)
        self.camera_id: np.ndarray = _column("camera_id", camera_id, n, np.str_, "")
        self.timestamp: np.ndarray = _column("timestamp", timestamp, n, np.float64, np.nan)
        self.embedding: np.ndarray | None = None
        if embedding is not None:
            emb = np.asarray(embedding, dtype=np.float32)
            if emb.ndim != 2 or len(emb) != n:
                raise ValueError(
                    f"Detections.embedding: expected shape ({n}, D) to match xyxy, got {emb.shape}"
                )
            self.embedding = emb
        self.data: dict[str, np.ndarray] = {}
        for key, value in (data or {}).items():
            arr = np.asarray(value)
            if arr.ndim == 0 or len(arr) != n:
                raise ValueError(
                    f"Detections.data[{key!r}]: expected {n} rows to match xyxy, got {arr.shape}"
                )
            self.data[key] = arr

    @classmethod
    def empty(cls, embedding_dim: int | None = None) -> Detections:
        """Zero detections (an empty frame is a normal frame)."""
        emb = None if embedding_dim is None else np.zeros((0, embedding_dim), np.float32)
        return cls(xyxy=np.zeros((0, 4), np.float32), embedding=emb)

    def __len__(self) -> int:
        return len(self.xyxy)

    def is_empty(self) -> bool:
        return len(self) == 0

    def __iter__(self) -> Iterator[Detections]:
        # For debugging and drawing only: per-object loops do not belong on the hot path.
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> Detections:
        """Select rows with an int, a slice, an index array or a boolean mask; stays 2-D."""
        if isinstance(index, (int, np.integer)):
            if not -len(self) <= index < len(self):
                raise IndexError(f"Detections index {index} out of range for {len(self)} rows")
            index = [int(index)]
        idx = np.asarray(index) if not isinstance(index, slice) else index
        if isinstance(idx, np.ndarray) and idx.dtype == bool and idx.shape != (len(self),):
            raise IndexError(f"boolean mask of shape {idx.shape} for {len(self)} detections")
        return Detections(
            xyxy=self.xyxy[idx],
            confidence=self.confidence[idx],
            class_id=self.class_id[idx],
            tracker_id=self.tracker_id[idx],
            camera_id=self.camera_id[idx],
            timestamp=self.timestamp[idx],
            embedding=None if self.embedding is None else self.embedding[idx],
            data={k: v[idx] for k, v in self.data.items()},
        )

    @classmethod
    def concatenate(cls, parts: Sequence[Detections]) -> Detections:
        """Join detections (e.g. of several cameras) into one batch.

        Embeddings and `data` keys must be present in all parts or in none.
        """
        parts = list(parts)
        if not parts:
            return cls.empty()
        has_emb = {p.embedding is not None for p in parts}
        if len(has_emb) > 1:
            raise ValueError("Detections.concatenate: some parts have embeddings and some do not")
        keys = {tuple(sorted(p.data)) for p in parts}
        if len(keys) > 1:
            raise ValueError(f"Detections.concatenate: parts have different data keys {keys}")
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            camera_id=np.concatenate([p.camera_id for p in parts]),
            timestamp=np.concatenate([p.timestamp for p in parts]),
            embedding=np.concatenate([p.embedding for p in parts]) if True in has_emb else None,
            data={k: np.concatenate([p.data[k] for p in parts]) for k in parts[0].data},
        )

    def with_fields(self, **fields: Any) -> Detections:
        """A copy with some fields replaced (the original is never mutated)."""
        current: dict[str, Any] = {
            "xyxy": self.xyxy,
            "confidence": self.confidence,
            "class_id": self.class_id,
            "tracker_id": self.tracker_id,
            "camera_id": self.camera_id,
            "timestamp": self.timestamp,
            "embedding": self.embedding,
            "data": dict(self.data),
        }
        unknown = set(fields) - set(current)
        if unknown:
            raise TypeError(f"Detections has no field(s) {sorted(unknown)}")
        current.update(fields)
        copied: dict[str, Any] = {
            k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in current.items()
        }
        copied["data"] = {k: np.array(v, copy=True) for k, v in copied["data"].items()}
        return Detections(**copied)

    def split_by_camera(self) -> Mapping[str, Detections]:
        """The batch split into one `Detections` per camera, in sorted camera order."""
        cameras, inverse = np.unique(self.camera_id, return_inverse=True)
        return {str(cam): self[inverse == i] for i, cam in enumerate(cameras)}

    def __repr__(self) -> str:
        cams = np.unique(self.camera_id)
        emb = "" if self.embedding is None else f", embedding_dim={self.embedding.shape[1]}"
        return f"Detections(n={len(self)}, cameras={list(cams)}{emb}, data={sorted(self.data)})"
