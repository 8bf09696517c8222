"""A batched, time-aware constant-velocity Kalman filter for boxes.

State space (one row per track), BoT-SORT's choice of box parameters:

    mean (T,8) = [x, y, w, h, vx, vy, vw, vh]   centre, width, height and their rates
    cov  (T,8,8)
    measurement z (T,4) = [x, y, w, h]

Velocities are per second and the process noise grows with the elapsed time `dt` (T,), so
tracks predicted over uneven gaps (dropped frames, a slow camera) stay calibrated. Noise on x
and w scales with the box width, on y and h with its height. Every function is one array
operation over all tracks of all cameras.
"""

from __future__ import annotations

import numpy as np

CHI2_99_4DOF = 13.2767  # 99% quantile of chi² with 4 degrees of freedom
INITIAL_VELOCITY_STD = 1.5  # box sizes per second: a new track may move at walking pace


def _sizes(boxes: np.ndarray) -> np.ndarray:
    """(T,≥4) → (T,4) the scale of each coordinate: w for x and w, h for y and h."""
    w = np.maximum(boxes[:, 2], 1e-3)
    h = np.maximum(boxes[:, 3], 1e-3)
    return np.stack([w, h, w, h], axis=1)


class BoxKalman:
    def __init__(
        self, position_noise: float, velocity_noise: float, measurement_noise: float
    ) -> None:
        self.q_pos, self.q_vel, self.r = position_noise, velocity_noise, measurement_noise

    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,4) measurements → mean (N,8), cov (N,8,8); velocities start at zero."""
        n = len(z)
        mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
        scale = _sizes(z)
        std = np.concatenate([2 * self.r * scale, INITIAL_VELOCITY_STD * scale], axis=1)
        cov = np.zeros((n, 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(
        self, mean: np.ndarray, cov: np.ndarray, dt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance each track by its own `dt` (T,) seconds."""
        n = len(mean)
        if n == 0:
            return mean, cov
        dt = np.asarray(dt, float).reshape(n)
        F = np.broadcast_to(np.eye(8), (n, 8, 8)).copy()
        F[:, np.arange(4), np.arange(4) + 4] = dt[:, None]
        scale = _sizes(mean)
        q = (
            np.concatenate([(self.q_pos * scale) ** 2, (self.q_vel * scale) ** 2], axis=1)
            * dt[:, None]
        )
        new_mean = np.einsum("nij,nj->ni", F, mean)
        new_cov = F @ cov @ F.transpose(0, 2, 1)
        idx = np.arange(8)
        new_cov[:, idx, idx] += q
        return new_mean, new_cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurement (T,4) and its covariance S (T,4,4)."""
        S = cov[:, :4, :4].copy()
        idx = np.arange(4)
        S[:, idx, idx] += (self.r * _sizes(mean)) ** 2
        return mean[:, :4], S

    def update(
        self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct (T,) tracks with their matched measurements z (T,4)."""
        if len(mean) == 0:
            return mean, cov
        projected, S = self.project(mean, cov)
        PHt = cov[:, :, :4]  # P Hᵀ
        gain = np.linalg.solve(S, PHt.transpose(0, 2, 1)).transpose(0, 2, 1)  # (T,8,4)
        new_mean = mean + np.einsum("nij,nj->ni", gain, z - projected)
        new_cov = cov - gain @ S @ gain.transpose(0, 2, 1)
        return new_mean, new_cov

    def mahalanobis(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Squared distances between T predicted tracks and their (T,N,4) candidate measurements."""
        projected, S = self.project(mean, cov)
        diff = z - projected[:, None, :]
        return np.sum((diff @ np.linalg.inv(S)) * diff, axis=-1)
