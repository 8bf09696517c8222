"""What `storelens serve --config FILE` reads: where the database is, where to listen, how many
API replicas, rate limits, webhook dispatch and retention. The API secret is not a field: it
comes only from `$STORELENS_API_SECRET`, so no file or default ever holds one."""

from __future__ import annotations

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
