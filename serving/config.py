"""What `storelens serve --config FILE` reads: where the database is, where to listen, how many
API replicas, rate limits, webhook dispatch and retention, and the live path — the detector
deployment, the stores whose cameras workers stream, and what each of them reserves of the
machine (the resource plan). The API secret is not a field: it comes only from
`$STORELENS_API_SECRET`, so no file or default ever holds one."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from storelens.serving.api.limits import DEFAULT_BURST, DEFAULT_RATE_PER_S


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSettings(_Strict):
    dispatch: bool = Field(True, description="each replica drains the outbox (claims exclusive)")
    interval_s: float = Field(1.0, gt=0, description="how often an idle dispatcher looks")
    allow_private: bool = Field(
        False, description="allow receivers on loopback or private networks"
    )
    backoff_base_s: float = Field(1.0, gt=0, description="first retry after this; doubles")


class RetentionSettings(_Strict):
    days: float | None = Field(None, gt=0, description="delete sessions older than; null: keep")
    every_s: float = Field(3600.0, gt=0, description="how often retention runs")


class DetectorSettings(_Strict):
    """The batched detector deployment every store's workers send their frames to."""

    model: str = Field("shipped", description="`shipped`, a weights file or models:/NAME@alias")
    imgsz: int = Field(320, ge=32, le=1920, description="frames are letterboxed to this square")
    conf: float = Field(0.05, gt=0, lt=1)
    max_batch_size: int = Field(8, ge=1, le=256)
    batch_wait_timeout_s: float = Field(0.01, ge=0)
    replicas: int = Field(1, ge=1, le=64)
    replica_cpus: float = Field(1.0, gt=0, description="CPUs Ray reserves per detector replica")
    threads: int = Field(1, ge=1, description="onnxruntime threads (= the replica's CPUs)")
    max_queued_requests: int = Field(
        64, ge=1, description="beyond this a frame is refused (backpressure), never queued"
    )


class ClockSettings(_Strict):
    """How a store's frames are stamped: `arrival` (real cameras) or `stream` —
    `origin_t + position in the stream x scale` (a recording replayed at `scale` x real time
    stamped with its own clock)."""

    kind: Literal["arrival", "stream"] = "arrival"
    origin_t: float = 0.0
    scale: float = Field(1.0, gt=0)


class StoreSettings(_Strict):
    """One store the service runs a worker for (its cameras are registered over the API)."""

    layout: Path = Field(description="the store layout YAML")
    sample_fps: float = Field(
        5.0, gt=0, description="frames taken from each camera per second of the store's clock"
    )
    clock: ClockSettings = ClockSettings()
    truth: Path | None = Field(
        None,
        description="a truth bundle (storelens.serving.truth_feed) whose events and sessions "
        "stand in for the events and shoppers stages (demo and tests)",
    )
    truth_offset_s: float = Field(0.0, description="shift of the truth's times onto the clock")
    end_t: float | None = Field(
        None, description="stop the worker once its clock passes this (a finite recording)"
    )


class ServeConfig(_Strict):
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; null: $STORELENS_DATABASE_URL or runs/storelens.db"
    )
    database_schema: str | None = Field(
        None, description="PostgreSQL schema to use (created by the migration); null: public"
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    replicas: int = Field(1, ge=1, le=64)
    max_ongoing_requests: int = Field(
        64, ge=1, description="requests one replica works on at once (Serve queues the rest)"
    )
    replica_cpus: float = Field(0.5, gt=0, description="CPUs Ray reserves per API replica")
    ray_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray; null: all")
    rate_per_s: float = Field(DEFAULT_RATE_PER_S, gt=0)
    burst: int = Field(DEFAULT_BURST, ge=1)
    webhooks: WebhookSettings = WebhookSettings()
    retention: RetentionSettings = RetentionSettings()
    detector: DetectorSettings | None = Field(
        None, description="the batched detector deployment (null: no live path)"
    )
    stores: dict[str, StoreSettings] = Field(
        default_factory=dict, description="store id -> the store a worker streams"
    )
    state_dir: Path | None = Field(
        None, description="workers' checkpoints and outputs; null: runs/serve"
    )
    worker_cpus: float = Field(0.25, gt=0, description="CPUs Ray reserves per store worker")
    manager_cpus: float = Field(0.05, gt=0, description="CPUs Ray reserves for the manager")
    reconcile_every_s: float = Field(5.0, gt=0, description="how often the manager reconciles")
