"""The detector as a Ray Serve deployment shared by every camera stream of every store.

    app = detector_application(model="shipped", imgsz=320, max_batch_size=8)
    handle = serve.run(app, name="detector", route_prefix=None)
    answer = handle.remote(letterbox(frame, 320)).result()   # DetectorAnswer, original pixels

Frames are letterboxed where they are decoded (`storelens.serving.letterbox`), so a request
carries one model-sized tensor. Requests from all callers are gathered by `@serve.batch` into
batches of up to `max_batch_size` (or whatever arrived within `batch_wait_timeout_s`) and run as
one onnxruntime call (`storelens.inference.onnx_detector.OnnxDetector`) in a worker thread, so
the replica keeps accepting requests while a batch runs.

The model is swapped without a restart through the deployment's `user_config`
(`{"model": ref, "conf": ...}` → `Detector.reconfigure`): the new model is loaded first, beside
the old one, then put in place with one assignment; a batch is always served wholly by one
model, and each answer names its `model_version`. A reference that cannot be loaded leaves the
old model serving and fails the update with an error naming the reference.

Overload answers with backpressure instead of an unbounded queue: `max_ongoing_requests`
(2 x `max_batch_size`, so batches can fill while one runs) bounds what a replica holds, and
`max_queued_requests` bounds what waits for a replica; beyond that a handle caller gets Ray's
`BackPressureError` at once (an HTTP caller a 503).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from storelens.inference.loading import REGISTRY_SCHEMES, SHIPPED
from storelens.inference.onnx_detector import ModelLoadError, OnnxDetector
from storelens.serving.letterbox import Letterboxed

USER_CONFIG_KEYS = ("model", "conf", "iou", "max_batch_size", "batch_wait_timeout_s")
DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_BATCH_WAIT_S = 0.01


@dataclass(frozen=True, eq=False)
class DetectorAnswer:
    """The detections of one frame.

    Attributes:
        xyxy: (n, 4) float32 boxes in the frame's original pixels.
        confidence: (n,) float32 scores.
        class_id: (n,) int64 storelens class ids.
        model_version: the model that answered (`OnnxDetector.model_version`).
        batch_size: how many frames shared this frame's forward pass.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    model_version: str
    batch_size: int


@serve.deployment
class Detector:
    """A replica: one `OnnxDetector`, batched calls, a swappable model."""

    def __init__(
        self,
        model: str = SHIPPED,
        imgsz: int = 320,
        conf: float = 0.05,
        threads: int = 1,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        batch_wait_timeout_s: float = DEFAULT_BATCH_WAIT_S,
    ) -> None:
        self.imgsz, self.threads = int(imgsz), int(threads)
        self._detector = OnnxDetector(model, imgsz=self.imgsz, conf=conf, threads=self.threads)
        # one forward pass at a time: the replica's CPU share is `threads` cores
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._batch_sizes: Counter[int] = Counter()
        self._by_version: Counter[str] = Counter()
        self.replica_id = uuid.uuid4().hex[:12]  # tells a restart from an in-place swap
        self._detect_batch.set_max_batch_size(int(max_batch_size))
        self._detect_batch.set_batch_wait_timeout_s(float(batch_wait_timeout_s))

    # --- model swaps ---------------------------------------------------------------------

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply `{"model": ref, "conf": .., "iou": .., "max_batch_size": ..,
        "batch_wait_timeout_s": ..}` (all optional). The new model is loaded beside the old one
        (in a thread: requests keep being served) and swapped in with one assignment."""
        config = dict(user_config or {})
        unknown = sorted(set(config) - set(USER_CONFIG_KEYS))
        if unknown:
            raise ValueError(f"user_config: unknown keys {unknown} (known: {USER_CONFIG_KEYS})")
        loaded = await asyncio.to_thread(self._prepare, config)
        self._detector = loaded  # one assignment: a batch sees the old model or the new
        if "max_batch_size" in config:
            self._detect_batch.set_max_batch_size(int(config["max_batch_size"]))
        if "batch_wait_timeout_s" in config:
            self._detect_batch.set_batch_wait_timeout_s(float(config["batch_wait_timeout_s"]))

    def _prepare(self, config: dict[str, Any]) -> OnnxDetector:
        current = self._detector
        conf = float(config.get("conf", current.conf))
        iou = float(config.get("iou", current.iou))
        ref = str(config.get("model", current.model_ref))
        if ref == current.model_ref:
            if (conf, iou) == (current.conf, current.iou):
                return current
            tuned = copy.copy(current)  # the same session, other thresholds
            tuned.conf, tuned.iou = conf, iou
            return tuned
        try:
            return OnnxDetector(
                ref,
                imgsz=self.imgsz,
                conf=conf,
                iou=iou,
                threads=self.threads,
                classes=current.classes,
            )
        except Exception as err:
            raise ModelLoadError(
                f"detector: cannot swap to model {ref!r}; still serving "
                f"{current.model_ref!r} ({current.model_version}): {err}"
            ) from err

    # --- requests ------------------------------------------------------------------------

    async def __call__(self, frame: Letterboxed) -> DetectorAnswer:
        # checked before batching: a bad frame fails its own request, not its batch
        if not isinstance(frame, Letterboxed):
            raise TypeError(f"detector: expected a Letterboxed frame, got {type(frame).__name__}")
        if frame.tensor.shape != (self.imgsz, self.imgsz, 3) or frame.tensor.dtype != np.uint8:
            raise ValueError(
                f"detector: expected a ({self.imgsz}, {self.imgsz}, 3) uint8 letterboxed "
                f"tensor, got {frame.tensor.shape} {frame.tensor.dtype}"
            )
        return await self._detect_batch(frame)

    @serve.batch(max_batch_size=DEFAULT_MAX_BATCH_SIZE, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_S)
    async def _detect_batch(self, frames: list[Letterboxed]) -> list[DetectorAnswer]:
        detector = self._detector  # one model for the whole batch, even if a swap lands now
        tensors = np.stack([f.tensor for f in frames])
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, detector.detect_letterboxed, tensors)
        n = len(frames)
        self._batch_sizes[n] += 1
        self._by_version[detector.model_version] += n
        return [
            DetectorAnswer(f.unletterbox(xyxy), conf, cls, detector.model_version, n)
            for f, (xyxy, conf, cls) in zip(frames, results, strict=True)
        ]

    def stats(self) -> dict[str, Any]:
        """This replica's model and its batch-size histogram (`{size: batches}`)."""
        d = self._detector
        return {
            "replica_id": self.replica_id,
            "model": d.model_ref,
            "model_version": d.model_version,
            "imgsz": d.imgsz,
            "conf": d.conf,
            "batch_sizes": dict(sorted(self._batch_sizes.items())),
            "frames": sum(k * v for k, v in self._batch_sizes.items()),
            "frames_by_version": dict(self._by_version),
            "max_batch_size": self._detect_batch._get_max_batch_size(),
        }


def _portable_ref(model: str) -> str:
    """A reference a replica resolves as the driver does: local paths made absolute."""
    if model == SHIPPED or model.startswith(REGISTRY_SCHEMES):
        return model
    return str(Path(model).expanduser().resolve())


def replica_env() -> dict[str, str]:
    """What a detector replica needs from this process's environment: the ultralytics offline
    switches (`worker_env()`), the runs folder (the ONNX cache) and the MLflow store, the last
    two made absolute (a replica's working directory is not the driver's)."""
    from storelens.settings import MLFLOW_TRACKING_URI_ENV, RUNS_DIR_ENV, settings, worker_env

    s = settings()
    return {
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
        **worker_env(),
        RUNS_DIR_ENV: str(s.runs_dir.resolve()),
        MLFLOW_TRACKING_URI_ENV: s.mlflow_tracking_uri,
    }


def detector_application(
    *,
    model: str = SHIPPED,
    imgsz: int = 320,
    conf: float = 0.05,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    batch_wait_timeout_s: float = DEFAULT_BATCH_WAIT_S,
    replicas: int = 1,
    replica_cpus: float = 0.5,
    threads: int = 1,
    max_queued_requests: int = 64,
    max_ongoing_requests: int | None = None,
    user_config: dict[str, Any] | None = None,
    name: str = "detector",
) -> serve.Application:
    """The detector deployment as a Serve application (`serve.run(app, name=..., ...)`).

    `max_ongoing_requests` defaults to 2 x `max_batch_size` (fewer would cap every batch);
    `max_queued_requests` bounds the wait for a replica (then `BackPressureError`). To swap the
    model of a running app, `serve.run` the same application with `user_config={"model": ..}`.
    """
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
    ongoing = 2 * max_batch_size if max_ongoing_requests is None else max_ongoing_requests
    if ongoing < max_batch_size:
        raise ValueError(
            f"max_ongoing_requests ({ongoing}) < max_batch_size ({max_batch_size}): "
            "batches could never fill"
        )
    if max_queued_requests < 0:
        raise ValueError(f"max_queued_requests must be >= 0 (bounded), got {max_queued_requests}")
    options: dict[str, Any] = {
        "name": name,
        "num_replicas": replicas,
        "ray_actor_options": {
            "num_cpus": replica_cpus,
            "runtime_env": {"env_vars": replica_env()},
        },
        "max_ongoing_requests": ongoing,
        "max_queued_requests": max_queued_requests,
        "health_check_period_s": 5,
        "logging_config": {"enable_access_log": False, "log_level": "WARNING"},
    }
    init = {
        "model": _portable_ref(model),
        "imgsz": imgsz,
        "conf": conf,
        "threads": threads,
        "max_batch_size": max_batch_size,
        "batch_wait_timeout_s": batch_wait_timeout_s,
    }
    deployment = Detector.options(**options)
    # `serve.run` from Python gives every deploy a random code version, which restarts every
    # replica even when only `user_config` changed. Pinning the version to what a replica is
    # built from (its init args and actor options) makes a user_config-only change an
    # in-place `reconfigure`, as a config-file deploy would; any other change still restarts.
    # (`version` is Serve-internal in `options()` since 2.x; Ray is pinned to 2.60.)
    deployment = deployment.options(version=_code_version(init, options), _internal=True)
    if user_config is not None:
        deployment = deployment.options(user_config=user_config)
    return deployment.bind(**init)


def _code_version(init: dict[str, Any], options: dict[str, Any]) -> str:
    from storelens import __version__

    text = json.dumps([__version__, init, options], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
