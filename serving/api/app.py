"""The attribution API as a FastAPI app: store-scoped routes under `/v1/stores/{store_id}/…` for
sessions (list, one, review), shelf events, alerts, POS and RFID ingestion and analytics, plus
`/healthz` and `/readyz`.

- Keys go in `Authorization: Bearer KEY` (`storelens keys create`). A store key sees only its
  store: any other store is 404, as if it did not exist. `reader` keys read; `reviewer` keys
  also review sessions and post POS and RFID; `admin` keys reach every store.
- Ingestion follows storage's rules (`storelens.storage.ingest`): every valid record of a batch
  is stored; the answer is 200 when all were stored or already stored, 409 when some id was sent
  before with another body, 422 when some record is malformed (named by index and field) — the
  body lists what was stored either way, so a client retries only what was refused.
- Each key has a rate limit (a token bucket per key in each replica): past it, 429 with
  `Retry-After`.
- Every view of one session (its evidence) and every review is written to the audit log
  (`GET …/audit`, admin keys) before the answer goes out.
- Cameras (`camera_routes.py`): a store's streams, URIs redacted in every answer, with the
  health the serving worker reports.
- Webhooks (`webhook_routes.py`, admin keys): a store's receivers; the dispatcher that sends
  them is `storelens.serving.webhooks`.
- Times are ISO-8601 with a zone both ways; a query time without a zone is refused (400, as is a
  cursor this API did not hand out).

`create_app(db, secret)` takes its database and secret from the caller (under Ray Serve each
replica builds its own); nothing is built at import time.
"""

import math
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from storelens.records import EventKind, SessionLifecycle
from storelens.serving.api.camera_routes import add_camera_routes
from storelens.serving.api.context import RouteContext
from storelens.serving.api.limits import DEFAULT_BURST, DEFAULT_RATE_PER_S, RateLimits
from storelens.serving.api.metrics import ApiMetrics
from storelens.serving.api.schemas import (
    AlertOut,
    AuditOut,
    ErrorOut,
    EventOut,
    EvidenceOut,
    FunnelOut,
    HourOut,
    IngestOut,
    PageOut,
    ReviewIn,
    ReviewOut,
    SessionDetailOut,
    SessionOut,
    ValidationErrorsOut,
)
from storelens.serving.api.webhook_routes import add_webhook_routes
from storelens.storage import Database, StorageError, ingest_pos, ingest_rfid, record_review
from storelens.storage import queries as q
from storelens.storage.audit import audit_entries, record_access
from storelens.storage.evidence import evidence_jpeg, list_evidence
from storelens.storage.keys import ApiKey, Role, authenticate
from storelens.storage.paths import session_path

API_VERSION = "v1"
NOT_FOUND = {404: {"model": ErrorOut, "description": "no such store, or not this key's store"}}
AUTH = {
    401: {"model": ErrorOut, "description": "no key, or not a live key"},
    429: {"model": ErrorOut, "description": "this key's rate limit; see Retry-After"},
    400: {"model": ErrorOut, "description": "a bad argument: a cursor, a time without a zone"},
}


def _epoch(name: str, value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(400, f"{name}={value.isoformat()}: give a zone (e.g. Z or +01:00)")
    return value.timestamp()


def create_app(
    db: Database,
    secret: str,
    *,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    burst: int = DEFAULT_BURST,
) -> FastAPI:
    """The app over `db`; keys are checked against HMACs under `secret`; each key may make
    `rate_per_s` requests a second on average, `burst` at once (then 429 with Retry-After)."""
    app = FastAPI(
        title="storelens attribution API",
        version=API_VERSION,
        description="Which shopper took which product, and did they pay for it?",
    )
    limits = RateLimits(rate_per_s, burst)
    metrics = ApiMetrics()
    app.middleware("http")(metrics.middleware)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.exception_handler(StorageError)
    async def _storage_error(_request: Request, err: StorageError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(err)})

    def key(authorization: Annotated[str | None, Header()] = None) -> ApiKey:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "send Authorization: Bearer <key>")
        found = authenticate(db, authorization.removeprefix("Bearer ").strip(), secret=secret)
        if found is None:
            raise HTTPException(401, "not a live key")
        wait_s = limits.take(found.key_id)
        if wait_s > 0:
            raise HTTPException(
                429,
                f"key {found.key_id}: more than {limits.rate_per_s:g} requests a second",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
        return found

    Key = Annotated[ApiKey, Depends(key)]
    StoreId = Annotated[str, Path(description="the store's id", max_length=64)]

    def scoped(k: ApiKey, store_id: str, *, write: bool = False) -> None:
        if not k.may_see(store_id):
            raise HTTPException(404, f"no store {store_id!r}")
        if write and k.role == Role.READER:
            raise HTTPException(403, "a reader key cannot write; use a reviewer key")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ErrorOut}})
    def readyz() -> dict[str, str]:
        try:
            revision = db.current_revision()
        except Exception as err:  # any database failure means: not ready, saying why
            raise HTTPException(503, f"database: {type(err).__name__}") from None
        if revision is None:
            raise HTTPException(503, "database: not migrated (storelens db migrate)")
        return {"status": "ready", "schema": revision}

    base = f"/{API_VERSION}/stores/{{store_id}}"

    @app.get(f"{base}/sessions", tags=["sessions"], responses={**AUTH, **NOT_FOUND})
    def sessions(
        k: Key,
        store_id: StoreId,
        since: datetime | None = None,
        until: datetime | None = None,
        lifecycle: SessionLifecycle | None = None,
        has_alert: bool | None = None,
        shopper_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=q.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> PageOut[SessionOut]:
        """Sessions that entered in `[since, until)`, oldest first, by lifecycle or alert."""
        scoped(k, store_id)
        with db.read() as conn:
            page = q.list_sessions(
                conn,
                store_id,
                since=_epoch("since", since),
                until=_epoch("until", until),
                lifecycle=lifecycle,
                has_alert=has_alert,
                shopper_id=shopper_id,
                limit=limit,
                cursor=cursor,
            )
        return PageOut[SessionOut](
            items=[SessionOut.of(s) for s in page.items], next_cursor=page.next_cursor
        )

    @app.get(f"{base}/sessions/{{session_id}}", tags=["sessions"], responses={**AUTH, **NOT_FOUND})
    def session(k: Key, store_id: StoreId, session_id: str) -> SessionDetailOut:
        """One session: its basket lines with what decided each, its alerts and reviews."""
        scoped(k, store_id)
        with db.read() as conn:
            detail = q.get_session(conn, store_id, session_id)
            if detail is None:
                raise HTTPException(404, f"no session {session_id!r} in store {store_id!r}")
            path = session_path(conn, detail.session)
            frames = list_evidence(conn, store_id, session_id)
        record_access(
            db, key_id=k.key_id, store_id=store_id, action="view_session", target=session_id
        )
        url = f"/{API_VERSION}/stores/{store_id}/sessions/{session_id}/evidence"
        evidence = [EvidenceOut.of(e, f"{url}/{e.evidence_no}.jpg") for e in frames]
        return SessionDetailOut.of(detail, path=path, evidence=evidence)

    @app.get(
        f"{base}/sessions/{{session_id}}/evidence/{{evidence_no}}.jpg",
        tags=["sessions"],
        responses={**AUTH, **NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
        response_class=Response,
    )
    def evidence_frame(
        k: Key,
        store_id: StoreId,
        session_id: str,
        evidence_no: Annotated[int, Path(ge=1, le=2**62)],
    ) -> Response:
        """One evidence still (JPEG, heads blurred); every view is written to the audit log."""
        scoped(k, store_id)
        with db.read() as conn:
            jpeg = evidence_jpeg(conn, store_id, session_id, evidence_no)
        if jpeg is None:
            raise HTTPException(404, f"no evidence {evidence_no} of session {session_id!r}")
        record_access(
            db,
            key_id=k.key_id,
            store_id=store_id,
            action="view_evidence",
            target=f"{session_id}/{evidence_no}",
        )
        return Response(jpeg, media_type="image/jpeg")

    @app.post(
        f"{base}/sessions/{{session_id}}/reviews",
        tags=["sessions"],
        status_code=201,
        responses={**AUTH, **NOT_FOUND, 403: {"model": ErrorOut}},
    )
    def review(k: Key, store_id: StoreId, session_id: str, body: ReviewIn) -> ReviewOut:
        """Record a person's verdict; earlier reviews stay."""
        scoped(k, store_id, write=True)
        with db.read() as conn:
            if q.get_session(conn, store_id, session_id) is None:
                raise HTTPException(404, f"no session {session_id!r} in store {store_id!r}")
        done = record_review(
            db,
            store_id=store_id,
            session_id=session_id,
            verdict=body.verdict,
            reviewer=f"key:{k.key_id}" + (f" ({k.label})" if k.label else ""),
            reason=body.reason,
        )
        record_access(db, key_id=k.key_id, store_id=store_id, action="review", target=session_id)
        return ReviewOut.of(done)

    @app.get(
        f"{base}/audit", tags=["audit"], responses={**AUTH, **NOT_FOUND, 403: {"model": ErrorOut}}
    )
    def audit(
        k: Key, store_id: StoreId, limit: Annotated[int, Query(ge=1, le=q.MAX_PAGE)] = 1000
    ) -> list[AuditOut]:
        """Who viewed or reviewed which session, and when (admin keys only)."""
        scoped(k, store_id)
        if k.role != Role.ADMIN:
            raise HTTPException(403, "the audit log is for admin keys")
        with db.read() as conn:
            return [AuditOut.of(e) for e in audit_entries(conn, store_id, limit=limit)]

    @app.get(f"{base}/events", tags=["events"], responses={**AUTH, **NOT_FOUND})
    def events(
        k: Key,
        store_id: StoreId,
        since: datetime | None = None,
        until: datetime | None = None,
        sku: str | None = None,
        shelf_id: str | None = None,
        shopper_id: str | None = None,
        kind: EventKind | None = None,
        limit: Annotated[int, Query(ge=1, le=q.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> PageOut[EventOut]:
        """Picks and put-backs by time, SKU, shelf, shopper."""
        scoped(k, store_id)
        with db.read() as conn:
            page = q.list_events(
                conn,
                store_id,
                since=_epoch("since", since),
                until=_epoch("until", until),
                sku=sku,
                shelf_id=shelf_id,
                shopper_id=shopper_id,
                kind=kind,
                limit=limit,
                cursor=cursor,
            )
        return PageOut[EventOut](
            items=[EventOut.of(e) for e in page.items], next_cursor=page.next_cursor
        )

    @app.get(f"{base}/events/{{event_id}}", tags=["events"], responses={**AUTH, **NOT_FOUND})
    def event(k: Key, store_id: StoreId, event_id: str) -> EventOut:
        scoped(k, store_id)
        with db.read() as conn:
            found = q.get_event(conn, store_id, event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r} in store {store_id!r}")
        return EventOut.of(found)

    @app.get(f"{base}/alerts", tags=["alerts"], responses={**AUTH, **NOT_FOUND})
    def alerts(
        k: Key,
        store_id: StoreId,
        since: datetime | None = None,
        until: datetime | None = None,
        include_withdrawn: bool = False,
        limit: Annotated[int, Query(ge=1, le=q.MAX_PAGE)] = 100,
        cursor: str | None = None,
    ) -> PageOut[AlertOut]:
        """Alerts raised for a person to review, oldest first."""
        scoped(k, store_id)
        with db.read() as conn:
            page = q.list_alerts(
                conn,
                store_id,
                since=_epoch("since", since),
                until=_epoch("until", until),
                include_withdrawn=include_withdrawn,
                limit=limit,
                cursor=cursor,
            )
        return PageOut[AlertOut](
            items=[AlertOut.of(a) for a in page.items], next_cursor=page.next_cursor
        )

    ingest_responses = {
        **AUTH,
        **NOT_FOUND,
        403: {"model": ErrorOut},
        409: {"model": IngestOut, "description": "an id was sent before with another body"},
        422: {
            "model": IngestOut | ValidationErrorsOut,
            "description": "malformed records, named by index and field (IngestOut), or a body "
            "that is not a list of objects",
        },
    }

    def _ingest(report) -> JSONResponse:  # type: ignore[no-untyped-def]
        metrics.count_ingest(
            report.kind, len(report.accepted), len(report.duplicates), len(report.errors)
        )
        body = IngestOut.of(report)
        status = 200
        if report.errors:
            status = 409 if all(e.conflict for e in report.errors) else 422
        return JSONResponse(status_code=status, content=body.model_dump(mode="json"))

    @app.post(
        f"{base}/pos", tags=["ingestion"], response_model=IngestOut, responses=ingest_responses
    )
    def post_pos(k: Key, store_id: StoreId, records: list[dict]) -> JSONResponse:
        """A JSON list of POS transactions (core `PosTransaction`), idempotent on `txn_id`."""
        scoped(k, store_id, write=True)
        return _ingest(ingest_pos(db, records, store_id=store_id))

    @app.post(
        f"{base}/rfid", tags=["ingestion"], response_model=IngestOut, responses=ingest_responses
    )
    def post_rfid(k: Key, store_id: StoreId, records: list[dict]) -> JSONResponse:
        """A JSON list of exit-gate reads (core `RfidRead`), idempotent on `read_id`."""
        scoped(k, store_id, write=True)
        return _ingest(ingest_rfid(db, records, store_id=store_id))

    @app.get(f"{base}/analytics/skus", tags=["analytics"], responses={**AUTH, **NOT_FOUND})
    def analytics_skus(
        k: Key, store_id: StoreId, since: datetime | None = None, until: datetime | None = None
    ) -> list[FunnelOut]:
        """Per SKU: picks, put-backs, purchased units, conversion; most picked first."""
        scoped(k, store_id)
        with db.read() as conn:
            rows = q.sku_funnel(
                conn, store_id, since=_epoch("since", since), until=_epoch("until", until)
            )
        return [FunnelOut.of(f) for f in rows]

    @app.get(f"{base}/analytics/shelves", tags=["analytics"], responses={**AUTH, **NOT_FOUND})
    def analytics_shelves(
        k: Key, store_id: StoreId, since: datetime | None = None, until: datetime | None = None
    ) -> list[FunnelOut]:
        """Per shelf zone: picks, put-backs, purchases counted at the shelf they came from."""
        scoped(k, store_id)
        with db.read() as conn:
            shelves = q.shelf_ids(conn, store_id)
            rows = q.shelf_funnel(
                conn, store_id, shelves, since=_epoch("since", since), until=_epoch("until", until)
            )
        return [FunnelOut.of(f) for f in rows]

    @app.get(f"{base}/analytics/hours", tags=["analytics"], responses={**AUTH, **NOT_FOUND})
    def analytics_hours(
        k: Key, store_id: StoreId, since: datetime | None = None, until: datetime | None = None
    ) -> list[HourOut]:
        """Per hour (UTC): sessions, conversion, unpaid lines, reviews per 1,000 sessions."""
        scoped(k, store_id)
        with db.read() as conn:
            rows = q.hourly(
                conn, store_id, since=_epoch("since", since), until=_epoch("until", until)
            )
        return [HourOut.of(h) for h in rows]

    routes = RouteContext(db, secret, base, Key, StoreId, scoped, {**AUTH, **NOT_FOUND})
    add_camera_routes(app, routes)
    add_webhook_routes(app, routes)
    return app


def openapi_schema() -> str:
    """The API's OpenAPI schema as indented JSON (what `docs/api/openapi.json` holds)."""
    import json

    from storelens.storage import Database

    app = create_app(Database("sqlite://"), "x" * 32)
    return json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n"
