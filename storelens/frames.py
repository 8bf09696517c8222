"""`FrameBatch`: the camera frames of one instant of a store, as the pipeline steps them.

One row per camera frame: its camera, capture time (seconds since the epoch, by that camera's
clock) and frame index (1-based, as in MOTChallenge files), plus the decoded image when there is
one. Images may differ in size between cameras. A batch without images stands for frames whose
detections were made elsewhere (recorded detections, noisy ground truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class FrameBatch:
    """Frames of several cameras captured together (one per camera at most).

    Attributes:
        camera_id: (N,) str, unique within the batch.
        timestamp: (N,) float64 capture time of each frame.
        frame_index: (N,) int64 1-based frame number within its camera's stream.
        images: N BGR uint8 images (H, W, 3), or None when the batch carries no pixels.

    Example:
        >>> batch = FrameBatch.of(["ceil-sw", "ceil-ne"], [0.0, 0.01], [1, 1])
        >>> batch.now
        {'ceil-sw': 0.0, 'ceil-ne': 0.01}
    """

    camera_id: np.ndarray
    timestamp: np.ndarray
    frame_index: np.ndarray
    images: Sequence[np.ndarray] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = len(self.camera_id)
        for name in ("timestamp", "frame_index"):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(
                    f"FrameBatch.{name}: expected shape ({n},) to match camera_id, "
                    f"got {np.shape(getattr(self, name))}"
                )
        if len(np.unique(self.camera_id)) != n:
            raise ValueError(f"FrameBatch.camera_id: a camera appears twice in {self.camera_id}")
        if not np.all(np.isfinite(self.timestamp)):
            raise ValueError(f"FrameBatch.timestamp: not finite seconds: {self.timestamp}")
        if self.images is not None and len(self.images) != n:
            raise ValueError(f"FrameBatch.images: {len(self.images)} images for {n} cameras")

    @classmethod
    def of(
        cls,
        camera_id: Sequence[str],
        timestamp: npt.ArrayLike,
        frame_index: npt.ArrayLike,
        images: Sequence[np.ndarray] | None = None,
    ) -> FrameBatch:
        return cls(
            np.asarray(camera_id, dtype=str).reshape(-1),
            np.asarray(timestamp, dtype=np.float64).reshape(-1),
            np.asarray(frame_index, dtype=np.int64).reshape(-1),
            None if images is None else list(images),
        )

    def __len__(self) -> int:
        return len(self.camera_id)

    @property
    def now(self) -> dict[str, float]:
        """camera id → capture time, the form `StoreTracker.update(now=...)` takes."""
        return dict(zip(self.camera_id.tolist(), self.timestamp.tolist(), strict=True))

    def rows_of(self, camera_ids: np.ndarray) -> np.ndarray:
        """(M,) row in this batch of each of `camera_ids`; a camera not in the batch is an error."""
        order = np.argsort(self.camera_id)
        ids = np.asarray(camera_ids, dtype=str)
        slot = np.clip(np.searchsorted(self.camera_id[order], ids), 0, max(len(self) - 1, 0))
        rows = order[slot] if len(self) else np.zeros(0, np.int64)
        if len(ids) and (len(self) == 0 or np.any(self.camera_id[rows] != ids)):
            missing = sorted(set(ids.tolist()) - set(self.camera_id.tolist()))
            raise ValueError(f"cameras {missing} are not in this frame batch")
        return rows.astype(np.int64)
