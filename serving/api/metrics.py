"""Prometheus metrics of the API: request latency by route and status, and records ingested by
kind and outcome. One registry per app (tests build several apps in one process)."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "storelens_api_request_seconds",
            "API request latency",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.ingested = Counter(
            "storelens_api_ingested_records",
            "POS transactions and RFID reads posted, by outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )

    async def middleware(self, request, call_next):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "<unmatched>")
        self.latency.labels(request.method, template, str(response.status_code)).observe(
            time.perf_counter() - start
        )
        return response

    def count_ingest(self, kind: str, stored: int, duplicates: int, refused: int) -> None:
        for outcome, n in (
            ("stored", stored),
            ("already_stored", duplicates),
            ("refused", refused),
        ):
            if n:
                self.ingested.labels(kind, outcome).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
