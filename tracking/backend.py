"""The array maths of the tracker behind one small interface, so a CUDA backend can replace the
numpy reference without touching the association logic.

A backend provides the Kalman filter (`BoxKalman`'s methods: initiate, predict, project, update,
mahalanobis) and the blocked pairwise IoU. `numpy` is the reference and runs everywhere; any
other backend must give the same assignments on the same inputs (the tracker tests are the
contract). The pycuda backend is planned as its own piece of work; until it exists, asking for
it fails with a clear message instead of silently falling back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from storelens.boxes import box_iou_batch
from storelens.tracking.kalman import BoxKalman

BACKENDS = ("numpy",)


class KalmanOps(Protocol):
    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
    def predict(
        self, mean: np.ndarray, cov: np.ndarray, dt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def update(
        self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def mahalanobis(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> np.ndarray: ...


class ArrayBackend(Protocol):
    name: str

    def kalman(
        self, position_noise: float, velocity_noise: float, measurement_noise: float
    ) -> KalmanOps: ...

    def box_iou_blocks(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(C,T,4) x (C,N,4) xyxy boxes → (C,T,N) IoU, 0 for empty boxes (`box_iou_batch`)."""
        ...


@dataclass(frozen=True)
class NumpyBackend:
    """The reference backend: plain vectorised numpy on the CPU."""

    name: str = "numpy"

    def kalman(
        self, position_noise: float, velocity_noise: float, measurement_noise: float
    ) -> KalmanOps:
        return BoxKalman(position_noise, velocity_noise, measurement_noise)

    def box_iou_blocks(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(C,T,4) x (C,N,4) xyxy → (C,T,N): the core `box_iou_batch` over camera blocks."""
        return box_iou_batch(a, b)


def get_backend(name: str | ArrayBackend = "numpy") -> ArrayBackend:
    """A backend by name (`numpy`), or the object itself when one is passed."""
    if not isinstance(name, str):
        return name
    if name == "numpy":
        return NumpyBackend()
    raise ValueError(
        f"tracker backend {name!r} is not available; available: {', '.join(BACKENDS)} "
        "(the CUDA backend is not part of this release)"
    )
