"""The tracker's array maths on the CUDA kernels: `CudaBackend` on a GPU, `CpuShimBackend` on
the CPU through the same kernels compiled as C++ (see `tracking.kernels`).

Both implement `tracking.backend.ArrayBackend` with `numpy`'s semantics (`BoxKalman` and
`box_iou_batch`): one launch per operation over all tracks of all cameras, float64 throughout.
The IoU kernel does numpy's operations in numpy's order, so its blocks equal numpy's bit for
bit; the Kalman kernels solve with their own 4x4 LU and agree to rounding (~1e-15 relative).
Assignment is not here: it stays `lap` on the host for every backend (`association.assign`).

Arguments are checked here (shapes, finite sizes) so a kernel never reads past an array: a bad
one raises ValueError naming the argument and its shape.
"""

from __future__ import annotations

import numpy as np

from storelens.tracking.kalman import BoxKalman
from storelens.tracking.kernels import In, Out, Runner, gpu_loader, gpu_runner, shim_runner

_I = np.int32
_F = np.float64


def _rows(x: np.ndarray, name: str, tail: tuple[int, ...], n: int | None = None) -> np.ndarray:
    """`x` as C-contiguous float64 of shape (n, *tail) (any n when None)."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1 + len(tail) or arr.shape[1:] != tail or (n is not None and len(arr) != n):
        want = ("N" if n is None else str(n),) + tuple(map(str, tail))
        raise ValueError(f"{name}: expected shape ({', '.join(want)}), got {arr.shape}")
    return arr


class KernelKalman:
    """`BoxKalman`'s methods (initiate, predict, project, update, mahalanobis) on the kernels."""

    def __init__(
        self, runner: Runner, position_noise: float, velocity_noise: float, measurement_noise: float
    ) -> None:
        self.runner = runner
        self.q_pos, self.q_vel, self.r = position_noise, velocity_noise, measurement_noise
        self._host = BoxKalman(position_noise, velocity_noise, measurement_noise)

    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,4) measurements → mean (N,8), cov (N,8,8); velocities start at zero."""
        z = _rows(z, "z", (4,))
        n = len(z)
        mean, cov = np.empty((n, 8)), np.empty((n, 8, 8))
        if n:
            self.runner.launch(
                "kalman_initiate", n, [_I(n), In(z), _F(self.r), Out(mean), Out(cov)]
            )
        return mean, cov

    def predict(
        self, mean: np.ndarray, cov: np.ndarray, dt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance each track by its own `dt` (T,) seconds."""
        n = len(mean)
        if n == 0:
            return mean, cov
        mean = _rows(mean, "mean", (8,))
        cov = _rows(cov, "cov", (8, 8), n)
        dt = _rows(np.asarray(dt, float).reshape(-1), "dt", (), n)
        out_mean, out_cov = np.empty_like(mean), np.empty_like(cov)
        args = [_I(n), In(mean), In(cov), In(dt), _F(self.q_pos), _F(self.q_vel)]
        self.runner.launch("kalman_predict", n * 64, [*args, Out(out_mean), Out(out_cov)])
        return out_mean, out_cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurement (T,4) and its covariance S (T,4,4): `BoxKalman.project` on the
        host (no hot path uses it; `update` and `mahalanobis` form S inside their kernels)."""
        return self._host.project(mean, cov)

    def update(
        self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct (T,) tracks with their matched measurements z (T,4)."""
        n = len(mean)
        if n == 0:
            return mean, cov
        mean = _rows(mean, "mean", (8,))
        cov = _rows(cov, "cov", (8, 8), n)
        z = _rows(z, "z", (4,), n)
        out_mean, out_cov = np.empty_like(mean), np.empty_like(cov)
        args = [_I(n), In(mean), In(cov), In(z), _F(self.r), Out(out_mean), Out(out_cov)]
        self.runner.launch("kalman_update", n, args)
        return out_mean, out_cov

    def mahalanobis(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Squared distances between T predicted tracks and their (T,N,4) candidate measurements."""
        mean = _rows(mean, "mean", (8,))
        n = len(mean)
        cov = _rows(cov, "cov", (8, 8), n)
        z = np.ascontiguousarray(z, dtype=np.float64)
        if z.ndim != 3 or z.shape[0] != n or z.shape[2] != 4:
            raise ValueError(f"z: expected shape ({n}, N, 4), got {z.shape}")
        out = np.zeros(z.shape[:2])
        if out.size:
            args = [_I(n), _I(z.shape[1]), In(mean), In(cov), In(z), _F(self.r), Out(out)]
            self.runner.launch("kalman_mahalanobis", out.size, args)
        return out


def _blocks(x: np.ndarray, name: str, width: int | None) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 3 or (width is not None and arr.shape[2] != width):
        raise ValueError(f"{name}: expected shape (C, K, {width or 'D'}), got {arr.shape}")
    return arr


class KernelBackend:
    """An `ArrayBackend` whose operations are launches on a `Runner`."""

    name = "kernels"

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def kalman(
        self, position_noise: float, velocity_noise: float, measurement_noise: float
    ) -> KernelKalman:
        return KernelKalman(self.runner, position_noise, velocity_noise, measurement_noise)

    def _pair_blocks(
        self, kernel: str, a: np.ndarray, b: np.ndarray, width: int | None
    ) -> np.ndarray:
        a, b = _blocks(a, "a", width), _blocks(b, "b", width)
        if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
            raise ValueError(f"{kernel}: blocks a {a.shape} and b {b.shape} do not pair up")
        C, T, N = a.shape[0], a.shape[1], b.shape[1]
        out = np.zeros((C, T, N))
        if out.size:
            dims = [_I(C), _I(T), _I(N)] + ([] if width else [_I(a.shape[2])])
            self.runner.launch(kernel, out.size, [*dims, In(a), In(b), Out(out)])
        return out

    def box_iou_blocks(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(C,T,4) x (C,N,4) xyxy → (C,T,N) IoU, 0 for empty boxes; float64."""
        return self._pair_blocks("iou_blocks", a, b, 4)

    def cosine_distance_blocks(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(C,T,D) x (C,N,D) unit vectors → (C,T,N) cosine distance 1 - a·b."""
        return self._pair_blocks("cosine_distance_blocks", a, b, None)


class CpuShimBackend(KernelBackend):
    """The CUDA kernels compiled as C++ and run on the CPU (`cuda-shim`): for parity tests, and
    for checking the kernels' logic on a machine without a GPU. Not meant to be fast."""

    name = "cuda-shim"

    def __init__(self) -> None:
        super().__init__(shim_runner())


class CudaBackend(KernelBackend):
    """The CUDA kernels on the GPU, through pycuda (preferred) or CuPy (`loader` picks one).

    Raises:
        ValueError: no GPU loader is importable or none sees a device (the message names each
            reason), or `loader` is not one of pycuda, cupy.
    """

    name = "cuda"

    def __init__(self, loader: str | None = None) -> None:
        found, reasons = gpu_loader()
        if loader is None:
            loader = found
        if loader is None:
            raise ValueError(
                "tracker backend 'cuda' needs a CUDA GPU and pycuda or cupy: "
                + "; ".join(reasons)
                + ". Use 'numpy', 'auto' (numpy without a GPU) or 'cuda-shim' (the same "
                "kernels on the CPU)"
            )
        try:
            runner = gpu_runner(loader)
        except ImportError as err:
            raise ValueError(f"tracker backend 'cuda' with loader {loader!r}: {err}") from err
        self.loader = loader
        super().__init__(runner)
