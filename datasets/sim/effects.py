"""What a real sensor adds to a clean render: lighting drift and flicker, defocus, motion
smear, sensor noise. Deterministic for (seed, camera, frame)."""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from storelens.datasets.sim.scenario import Imaging


class SensorEffects:
    """One camera's imaging pipeline; call `apply` on each clean frame in order."""

    def __init__(self, imaging: Imaging, seed: int, camera_id: str) -> None:
        self.cfg = imaging
        self.key = (seed * 1_000_003 + zlib.crc32(camera_id.encode())) & 0x7FFFFFFF
        rng = np.random.default_rng(self.key)
        self.phase = rng.uniform(0, 2 * np.pi, 2)
        self.defocus = float(rng.uniform(imaging.defocus_sigma.low, imaging.defocus_sigma.high))
        self.clock_offset_s = float(rng.uniform(-imaging.clock_offset_s, imaging.clock_offset_s))
        self._previous: np.ndarray | None = None

    def gain(self, t: float) -> float:
        a = self.cfg.lighting_variation
        return float(
            1.0
            + a * np.sin(2 * np.pi * t / 17.0 + self.phase[0])
            + 0.3 * a * np.sin(2 * np.pi * t / 2.3 + self.phase[1])
        )

    def apply(self, clean: np.ndarray, frame_index: int, t: float) -> np.ndarray:
        out = clean
        if self.cfg.motion_blur > 0 and self._previous is not None:
            out = cv2.addWeighted(
                clean, 1.0 - self.cfg.motion_blur, self._previous, self.cfg.motion_blur, 0
            )
        self._previous = clean
        if self.defocus > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), self.defocus)
        noisy = out.astype(np.float32) * self.gain(t)
        if self.cfg.noise_sigma > 0:
            noise = np.empty(out.shape, np.float32)
            cv2.setRNGSeed((self.key + 7919 * frame_index) & 0x7FFFFFFF)
            cv2.randn(noise, 0.0, float(self.cfg.noise_sigma))
            noisy += noise
        return np.clip(noisy, 0, 255).astype(np.uint8)
