"""A batched, time-aware constant-velocity Kalman filter for boxes.

State space (one row per track):

    mean (T,8) = [x, y, a, h, vx, vy, va, vh]   centre, aspect w/h, height and their rates
    cov  (T,8,8)
    measurement z (T,4) = [x, y, a, h]

Velocities are per second and the process noise grows with the elapsed time `dt` (T,), so
tracks predicted over uneven gaps (dropped frames, a slow camera) stay calibrated. Noise scales
with box height (DeepSORT / ByteTrack), except for the aspect ratio, which has fixed noise.
Every function is one array operation over all tracks of all cameras.
"""

from __future__ import annotations

import numpy as np

CHI2_99_4DOF = 13.2767  # 99% quantile of chi² with 4 degrees of freedom
ASPECT_MEASUREMENT_STD = 0.1
ASPECT_POSITION_NOISE = 0.01
ASPECT_VELOCITY_NOISE = 1e-4
_H = np.eye(4, 8)


class BoxKalman:
    def __init__(
        self, position_noise: float, velocity_noise: float, measurement_noise: float
    ) -> None:
        self.q_pos, self.q_vel, self.r = position_noise, velocity_noise, measurement_noise

    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,4) measurements → mean (N,8), cov (N,8,8); velocities start at zero."""
        n = len(z)
        mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
        h = np.maximum(z[:, 3], 1e-3)
        std = np.stack(
            [
                2 * self.r * h,
                2 * self.r * h,
                np.full(n, 2 * ASPECT_MEASUREMENT_STD),
                2 * self.r * h,
                1.5 * h,
                1.5 * h,
                np.full(n, 0.1),
                1.5 * h,
            ],
            axis=1,
        )
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
        h = np.maximum(mean[:, 3], 1e-3)
        q_pos = (self.q_pos * h) ** 2 * dt
        q_vel = (self.q_vel * h) ** 2 * dt
        q = np.stack(
            [
                q_pos,
                q_pos,
                np.full(n, ASPECT_POSITION_NOISE**2) * dt,
                q_pos,
                q_vel,
                q_vel,
                np.full(n, ASPECT_VELOCITY_NOISE**2) * dt,
                q_vel,
            ],
            axis=1,
        )
        new_mean = np.einsum("nij,nj->ni", F, mean)
        new_cov = F @ cov @ F.transpose(0, 2, 1)
        idx = np.arange(8)
        new_cov[:, idx, idx] += q
        return new_mean, new_cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurement (T,4) and its covariance S (T,4,4)."""
        h = np.maximum(mean[:, 3], 1e-3)
        r = np.stack(
            [
                (self.r * h) ** 2,
                (self.r * h) ** 2,
                np.full(len(h), ASPECT_MEASUREMENT_STD**2),
                (self.r * h) ** 2,
            ],
            axis=1,
        )
        S = cov[:, :4, :4].copy()
        idx = np.arange(4)
        S[:, idx, idx] += r
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
        innovation = z - projected
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_cov = cov - gain @ S @ gain.transpose(0, 2, 1)
        return new_mean, new_cov

    def mahalanobis(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Squared distances between T predicted tracks and their (T,N,4) candidate measurements."""
        projected, S = self.project(mean, cov)
        diff = z - projected[:, None, :]
        solved = np.linalg.solve(S[:, None], diff[..., None])[..., 0]
        return np.einsum("tnk,tnk->tn", diff, solved)
