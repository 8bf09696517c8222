"""The array maths of the tracker behind one small interface, so a CUDA backend can replace the
numpy reference without touching the association logic.

A backend provides the Kalman filter (`BoxKalman`'s methods: initiate, predict, project, update,
mahalanobis), the blocked pairwise IoU and the blocked appearance (cosine) distance. `numpy` is
the reference and runs everywhere; any other backend must give the same assignments on the same
inputs (the tracker tests are the contract; tests/tracking/test_cuda_*.py run them on each).

Backends by name (`get_backend`, the tracker config's `backend` field):

- `numpy`: the reference;
- `cuda`: the CUDA kernels of `tracking/cuda/` on a GPU, through pycuda (`storelens[cuda]`) or
  CuPy (`tracking.cuda_backend`); asking for it without a GPU fails with the reason;
- `cuda-shim`: the same kernels compiled as C++ and run on the CPU (parity tests, checking the
  kernels' logic without a GPU; needs a C++ compiler, not meant to be fast);
- `auto`: `cuda` when pycuda or cupy is importable and sees a device, else `numpy`.

Assignment is the same for every backend: `lap.lapjv` on the host (`association.assign`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from storelens.boxes import box_iou_batch
from storelens.tracking.kalman import BoxKalman

BACKENDS = ("numpy", "cuda", "cuda-shim", "auto")


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

    def cosine_distance_blocks(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(C,T,D) x (C,N,D) unit vectors → (C,T,N) appearance cost 1 - a·b."""
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

    def cosine_distance_blocks(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(C,T,D) x (C,N,D) unit vectors → (C,T,N) cosine distance 1 - a·b."""
        return 1.0 - np.einsum("ctk,cnk->ctn", a, b)


def get_backend(name: str | ArrayBackend = "numpy") -> ArrayBackend:
    """A backend by name (one of `BACKENDS`), or the object itself when one is passed.

    Raises:
        ValueError: an unknown name; `cuda` without a usable GPU (the message says what is
            missing: pycuda / cupy, a driver, a device); `cuda-shim` without a C++ compiler.
    """
    if not isinstance(name, str):
        return name
    if name == "numpy":
        return NumpyBackend()
    if name in ("cuda", "auto"):
        from storelens.tracking.cuda_backend import CudaBackend
        from storelens.tracking.kernels import gpu_loader

        if name == "auto" and gpu_loader()[0] is None:
            return NumpyBackend()
        return CudaBackend()
    if name == "cuda-shim":
        from storelens.tracking.cuda_backend import CpuShimBackend

        try:
            return CpuShimBackend()
        except (RuntimeError, OSError) as err:
            raise ValueError(f"tracker backend 'cuda-shim' is not available: {err}") from err
    raise ValueError(f"tracker backend {name!r} is not available; available: {', '.join(BACKENDS)}")
