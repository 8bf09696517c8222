"""Webhooks in storage: a store's receivers (`webhook_endpoints`) and the transactional outbox
(`webhook_outbox`) that a dispatcher drains.

- `enqueue_changes` runs inside the transaction that saves derived records (`save_records`), so a
  webhook exists exactly when the change it announces is committed: a crash loses neither.
  Its event id is a hash of the endpoint, the type and the record revision, so a replay of the
  same records enqueues nothing twice and a receiver can dedupe by id.
- `claim` hands due deliveries to one dispatcher for a lease: `FOR UPDATE SKIP LOCKED` on
  PostgreSQL, the single `BEGIN IMMEDIATE` writer on SQLite, so two replicas never both hold
  one. `settle` records the outcome only while the lease is still the caller's: delivered, due
  again after an exponential backoff, or dead after `max_attempts`. (The lease is checked by
  its holder's name: a dispatcher keeps its lease longer than its slowest batch.)

Event types (what a receiver subscribes to):
`session.entered`, `session.closed` (it has an exit time), `session.attributed` (its first
basket), `session.updated` (any later revision of the session or its basket), `alert.unpaid`
(an alert revision with lines), `alert.withdrawn` (a revision with none).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select, update

from storelens.records import Alert, Basket, Session
from storelens.revision import DerivedRecord
from storelens.storage.database import Database, StorageError, upsert_insert
from storelens.storage.tables import WebhookEndpointRow, WebhookOutboxRow

EVENT_TYPES = (
    "session.entered",
    "session.closed",
    "session.attributed",
    "session.updated",
    "alert.unpaid",
    "alert.withdrawn",
)
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
MAX_ATTEMPTS = 15
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 3600.0


@dataclass(frozen=True)
class WebhookEndpoint:
    endpoint_id: str
    store_id: str
    url: str
    event_types: tuple[str, ...]
    created_t: float


@dataclass(frozen=True)
class Delivery:
    """A claimed webhook: what to send where, and how often it was tried before."""

    delivery_no: int
    event_id: str
    endpoint_id: str
    store_id: str
    url: str
    event_type: str
    body: str  # the JSON payload without its `sent_t`
    created_t: float
    attempts: int


@dataclass(frozen=True)
class DeliveryState:
    event_id: str
    endpoint_id: str
    event_type: str
    state: str
    attempts: int
    created_t: float
    due_t: float
    delivered_t: float | None
    last_error: str | None


def _endpoint(row) -> WebhookEndpoint:  # type: ignore[no-untyped-def]
    return WebhookEndpoint(
        row.endpoint_id, row.store_id, row.url, tuple(row.event_types.split()), row.created_t
    )


def add_endpoint(
    db: Database, *, store_id: str, url: str, event_types: Sequence[str] = EVENT_TYPES
) -> WebhookEndpoint:
    """Register a receiver (the URL is checked by the caller, who knows the address policy)."""
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise StorageError(f"event_types {unknown or '[]'}: choose from {list(EVENT_TYPES)}")
    ordered = tuple(t for t in EVENT_TYPES if t in set(event_types))
    row = {
        "endpoint_id": f"whe_{secrets.token_hex(8)}",
        "store_id": store_id,
        "url": url,
        "event_types": " ".join(ordered),
        "created_t": time.time(),
        "removed_t": None,
    }
    with db.write() as conn:
        conn.execute(WebhookEndpointRow.__table__.insert().values(**row))
    return WebhookEndpoint(row["endpoint_id"], store_id, url, ordered, row["created_t"])


def list_endpoints(conn: Connection, store_id: str) -> list[WebhookEndpoint]:
    e = WebhookEndpointRow.__table__
    rows = conn.execute(
        select(e)
        .where(e.c.store_id == store_id, e.c.removed_t.is_(None))
        .order_by(e.c.created_t, e.c.endpoint_id)
    )
    return [_endpoint(r) for r in rows]


def remove_endpoint(db: Database, store_id: str, endpoint_id: str) -> bool:
    """Stop sending to an endpoint; its pending deliveries die. False if there was none."""
    e, o = WebhookEndpointRow.__table__, WebhookOutboxRow.__table__
    now = time.time()
    with db.write() as conn:
        done = conn.execute(
            update(e)
            .where(
                e.c.endpoint_id == endpoint_id, e.c.store_id == store_id, e.c.removed_t.is_(None)
            )
            .values(removed_t=now)
        )
        if not done.rowcount:
            return False
        conn.execute(
            update(o)
            .where(o.c.endpoint_id == endpoint_id, o.c.state == PENDING)
            .values(state=DEAD, last_error="endpoint removed")
        )
    return True


# --- what a saved revision announces ------------------------------------------------------


def change_types(rec: DerivedRecord, prior: DerivedRecord | None) -> list[str]:
    """The event types a newly current revision announces, given the revision it replaces."""
    if isinstance(rec, Session):
        types = []
        if prior is None:
            types.append("session.entered")
        if rec.exit_t is not None and (prior is None or prior.exit_t is None):  # type: ignore[attr-defined]
            types.append("session.closed")
        elif prior is not None:
            types.append("session.updated")
        return types
    if isinstance(rec, Basket):
        return ["session.attributed" if prior is None else "session.updated"]
    if isinstance(rec, Alert):
        if rec.lines:
            return ["alert.unpaid"]
        return ["alert.withdrawn"] if prior is not None and prior.lines else []  # type: ignore[attr-defined]
    return []


def _event_id(endpoint_id: str, event_type: str, key: str) -> str:
    digest = hashlib.sha256(f"{endpoint_id}|{event_type}|{key}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def _session_id(rec: DerivedRecord) -> str:
    return rec.session_id if isinstance(rec, Session | Basket | Alert) else rec.record_id


def enqueue_changes(
    conn: Connection,
    changes: Sequence[tuple[DerivedRecord, DerivedRecord | None]],
    now: float,
) -> int:
    """Write one outbox row per (change, subscribed endpoint) inside the caller's transaction;
    `changes` are (newly current revision, the revision it replaced or None). Returns rows."""
    typed = [(rec, t) for rec, prior in changes for t in change_types(rec, prior)]
    if not typed:
        return 0
    stores = sorted({rec.store_id for rec, _ in typed})  # type: ignore[attr-defined]
    e = WebhookEndpointRow.__table__
    endpoints: dict[str, list[WebhookEndpoint]] = {}
    for row in conn.execute(select(e).where(e.c.store_id.in_(stores), e.c.removed_t.is_(None))):
        endpoints.setdefault(row.store_id, []).append(_endpoint(row))
    rows = []
    for rec, event_type in typed:
        for ep in endpoints.get(rec.store_id, []):  # type: ignore[attr-defined]
            if event_type not in ep.event_types:
                continue
            event_id = _event_id(ep.endpoint_id, event_type, rec.key)
            payload = {
                "id": event_id,
                "type": event_type,
                "origin": {"service": "storelens", "store_id": ep.store_id},
                "created_t": now,
                "session_id": _session_id(rec),
                "data": {type(rec).__name__.lower(): rec.model_dump(mode="json")},
            }
            rows.append(
                {
                    "event_id": event_id,
                    "endpoint_id": ep.endpoint_id,
                    "store_id": ep.store_id,
                    "event_type": event_type,
                    "body": json.dumps(payload, sort_keys=True, separators=(",", ":")),
                    "created_t": now,
                    "due_t": now,
                    "attempts": 0,
                    "state": PENDING,
                }
            )
    if rows:  # a replay's rows are already there: skip them, however many
        stmt = upsert_insert(conn, WebhookOutboxRow.__table__).on_conflict_do_nothing(
            index_elements=["event_id"]
        )
        for lo in range(0, len(rows), 500):
            conn.execute(stmt, rows[lo : lo + 500])
    return len(rows)


# --- the dispatcher's side ----------------------------------------------------------------


def claim(
    db: Database, worker: str, *, limit: int = 50, lease_s: float = 30.0, now: float | None = None
) -> list[Delivery]:
    """Due deliveries nobody holds, leased to `worker` for `lease_s`, oldest first."""
    t = time.time() if now is None else now
    o, e = WebhookOutboxRow.__table__, WebhookEndpointRow.__table__
    with db.write() as conn:
        query = (
            select(o)
            .where(
                o.c.state == PENDING,
                o.c.due_t <= t,
                or_(o.c.claimed_until.is_(None), o.c.claimed_until < t),
            )
            .order_by(o.c.due_t, o.c.delivery_no)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).mappings().all()
        if not rows:
            return []
        live = set(
            conn.execute(
                select(e.c.endpoint_id).where(
                    e.c.endpoint_id.in_({r["endpoint_id"] for r in rows}), e.c.removed_t.is_(None)
                )
            ).scalars()
        )
        gone = [r["delivery_no"] for r in rows if r["endpoint_id"] not in live]
        if gone:  # enqueued while its endpoint was being removed
            conn.execute(
                update(o)
                .where(o.c.delivery_no.in_(gone))
                .values(state=DEAD, last_error="endpoint removed")
            )
            rows = [r for r in rows if r["endpoint_id"] in live]
            if not rows:
                return []
        nos = [r["delivery_no"] for r in rows]
        conn.execute(
            update(o)
            .where(o.c.delivery_no.in_(nos))
            .values(claimed_by=worker, claimed_until=t + lease_s)
        )
        urls = dict(
            conn.execute(
                select(e.c.endpoint_id, e.c.url).where(
                    e.c.endpoint_id.in_({r["endpoint_id"] for r in rows})
                )
            ).all()
        )
    return [
        Delivery(
            r["delivery_no"],
            r["event_id"],
            r["endpoint_id"],
            r["store_id"],
            urls[r["endpoint_id"]],
            r["event_type"],
            r["body"],
            r["created_t"],
            r["attempts"],
        )
        for r in rows
    ]


def backoff_s(
    attempts: int, *, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S
) -> float:
    """The wait before try `attempts + 1`: base, 2·base, 4·base, … up to `cap_s`."""
    return min(cap_s, base_s * 2 ** max(0, attempts - 1))


def settle(
    db: Database,
    worker: str,
    delivery: Delivery,
    *,
    error: str | None,
    now: float | None = None,
    base_s: float = BACKOFF_BASE_S,
    max_attempts: int = MAX_ATTEMPTS,
) -> bool:
    """Record one try's outcome (`error` None: delivered). False when the lease had passed to
    another dispatcher (whose outcome then counts)."""
    t = time.time() if now is None else now
    o = WebhookOutboxRow.__table__
    attempts = delivery.attempts + 1
    if error is None:
        values = {"state": DELIVERED, "delivered_t": t, "last_error": None}
    elif attempts >= max_attempts:
        values = {"state": DEAD, "last_error": error[:500]}
    else:
        values = {"due_t": t + backoff_s(attempts, base_s=base_s), "last_error": error[:500]}
    with db.write() as conn:
        done = conn.execute(
            update(o)
            .where(
                o.c.delivery_no == delivery.delivery_no,
                o.c.claimed_by == worker,
                o.c.state == PENDING,
            )
            .values(attempts=attempts, claimed_by=None, claimed_until=None, **values)
        )
    return bool(done.rowcount)


def deliveries(
    conn: Connection, store_id: str, *, endpoint_id: str | None = None, limit: int = 100
) -> list[DeliveryState]:
    """The store's newest deliveries (and their state), newest first."""
    o = WebhookOutboxRow.__table__
    query = select(o).where(o.c.store_id == store_id)
    if endpoint_id is not None:
        query = query.where(o.c.endpoint_id == endpoint_id)
    rows = conn.execute(query.order_by(o.c.delivery_no.desc()).limit(limit)).mappings()
    return [
        DeliveryState(
            r["event_id"],
            r["endpoint_id"],
            r["event_type"],
            r["state"],
            r["attempts"],
            r["created_t"],
            r["due_t"],
            r["delivered_t"],
            r["last_error"],
        )
        for r in rows
    ]
