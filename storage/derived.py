"""Writing derived records — shelf events, sessions, baskets, alerts — with every revision kept,
and the people side: session lifecycle and append-only reviews.

`save_records(db, records)` stores each record's revision under `(id, revision)` (the revision
contract of `storelens.revision`): the newest revision of an id is `is_current`, older ones stay
as history; saving a revision already stored with the same body does nothing (a replay or a
restarted worker writes the same records again), with another body it is refused
(`StorageError` naming the key). Revisions may arrive in any order: an older one saved after a
newer one is kept as history, not made current.

Lifecycle (`storelens.records.SessionLifecycle`) moves forward as records land: a session is
`open` until it has an exit time, then `closed`; a basket makes it `attributed`; a review makes
it `reviewed` or `contested` (a review is appended to `session_reviews`, never overwritten, and
the latest verdict is the lifecycle).

Each newly current revision is announced to the store's webhook receivers through the outbox
(`storelens.storage.outbox`), in the same transaction.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, and_, exists, func, or_, select, update

from storelens.records import (
    Alert,
    Basket,
    LineStatus,
    Session,
    SessionLifecycle,
    ShelfEvent,
)
from storelens.revision import DerivedRecord, canonical_json
from storelens.storage.database import Database, StorageError, upsert_insert
from storelens.storage.outbox import enqueue_changes
from storelens.storage.tables import (
    AlertRow,
    BasketLineRow,
    BasketRow,
    SessionLifecycleRow,
    SessionReviewRow,
    SessionRow,
    SessionShopperRow,
    ShelfEventRow,
)

_CHUNK = 500
_UNPAID = (LineStatus.UNPAID, LineStatus.RFID_EXIT_UNPAID)
_BEFORE_ATTRIBUTION = (SessionLifecycle.OPEN.value, SessionLifecycle.CLOSED.value)
VERDICTS = (SessionLifecycle.REVIEWED, SessionLifecycle.CONTESTED)


@dataclass(frozen=True)
class _Kind:
    model: type[DerivedRecord]
    table: Table
    id_col: str
    children: tuple[Table, ...] = ()  # rows keyed by (id, revision) that follow is_current


_KINDS = {
    ShelfEvent: _Kind(ShelfEvent, ShelfEventRow.__table__, "event_id"),
    Session: _Kind(Session, SessionRow.__table__, "session_id", (SessionShopperRow.__table__,)),
    Basket: _Kind(Basket, BasketRow.__table__, "basket_id", (BasketLineRow.__table__,)),
    Alert: _Kind(Alert, AlertRow.__table__, "alert_id"),
}


@dataclass
class SaveReport:
    """Revision keys stored now and keys already stored (replays), per record type."""

    stored: dict[str, int]
    unchanged: dict[str, int]


def save_records(
    db: Database, records: Iterable[DerivedRecord], *, now: float | None = None
) -> SaveReport:
    """Store derived records (any mix of the four types) in one transaction; see the module
    docstring. Returns counts per type name."""
    by_kind: dict[type, list[DerivedRecord]] = defaultdict(list)
    for rec in records:
        model = next((k for k in _KINDS if isinstance(rec, k)), None)
        if model is None:
            raise TypeError(
                f"save_records stores {sorted(k.__name__ for k in _KINDS)}, got {type(rec)}"
            )
        if type(rec) is not model:  # a subclass (the simulator's truth): its core fields only
            rec = model.model_validate(rec.model_dump(include=set(model.model_fields)))
        by_kind[model].append(rec)
    report = SaveReport({}, {})
    t_now = time.time() if now is None else now
    with db.write() as conn:
        # sessions before baskets and alerts, so the lifecycle moves in its order
        for model in (ShelfEvent, Session, Basket, Alert):
            if model in by_kind:
                stored, same, changes = _save_kind(conn, _KINDS[model], by_kind[model], t_now)
                report.stored[model.__name__] = stored
                report.unchanged[model.__name__] = same
                enqueue_changes(conn, changes, t_now)
    return report


def _save_kind(conn: Connection, kind: _Kind, recs: Sequence[DerivedRecord], now: float):
    t = kind.table
    id_col = t.c[kind.id_col]
    unique: dict[tuple[str, int], DerivedRecord] = {}
    for rec in recs:
        key = (rec.record_id, rec.revision)
        if key in unique and canonical_json(unique[key]) != canonical_json(rec):
            raise StorageError(f"{rec.key} is given twice with different bodies")
        unique[key] = rec
    stored_body: dict[tuple[str, int], str] = {}
    newest: dict[str, int] = {}
    ids = sorted({k[0] for k in unique})
    for lo in range(0, len(ids), _CHUNK):
        chunk = ids[lo : lo + _CHUNK]
        for rid, rev, body in conn.execute(
            select(id_col, t.c.revision, t.c.body).where(id_col.in_(chunk))
        ):
            stored_body[(rid, rev)] = body
            newest[rid] = max(newest.get(rid, 0), rev)
    fresh: list[DerivedRecord] = []
    unchanged = 0
    for key, rec in unique.items():
        body = canonical_json(rec)
        if key in stored_body:
            if stored_body[key] != body:
                raise StorageError(
                    f"{rec.key} is already stored with a different body: a new answer is a "
                    "new revision (record.revised(...)), never a rewrite"
                )
            unchanged += 1
            continue
        fresh.append(rec)
    if not fresh:
        return 0, unchanged, []
    batch_newest: dict[str, int] = {}
    for rec in fresh:
        batch_newest[rec.record_id] = max(batch_newest.get(rec.record_id, 0), rec.revision)
    current = {
        rid: rev for rid, rev in batch_newest.items() if rev > newest.get(rid, 0)
    }  # ids whose current revision changes now
    superseded = sorted(rid for rid in current if rid in newest)
    for table in (t, *kind.children):
        col = table.c[kind.id_col]
        for lo in range(0, len(superseded), _CHUNK):
            conn.execute(
                update(table)
                .where(col.in_(superseded[lo : lo + _CHUNK]), table.c.is_current)
                .values(is_current=False)
            )
    rows, child_rows = _rows(kind, fresh, current)
    for lo in range(0, len(rows), _CHUNK):
        conn.execute(t.insert(), rows[lo : lo + _CHUNK])
    for table, crow in zip(kind.children, child_rows, strict=True):
        for lo in range(0, len(crow), _CHUNK):
            conn.execute(table.insert(), crow[lo : lo + _CHUNK])
    now_current = [r for r in fresh if current.get(r.record_id) == r.revision]
    _move_lifecycle(conn, kind.model, now_current, now)
    changes = [
        (
            rec,
            kind.model.model_validate_json(stored_body[(rec.record_id, newest[rec.record_id])])
            if rec.record_id in newest
            else None,
        )
        for rec in now_current
    ]
    return len(fresh), unchanged, changes


def _rows(kind: _Kind, recs: Sequence[DerivedRecord], current: dict[str, int]):
    rows: list[dict] = []
    children: list[list[dict]] = [[] for _ in kind.children]
    for rec in recs:
        is_current = current.get(rec.record_id) == rec.revision
        base = {
            kind.id_col: rec.record_id,
            "revision": rec.revision,
            "store_id": rec.store_id,
            "is_current": is_current,
            "body": canonical_json(rec),
        }
        if isinstance(rec, ShelfEvent):
            base |= {
                "kind": rec.kind.value,
                "t": rec.t,
                "sku": rec.sku,
                "shelf_id": rec.shelf_id,
                "shopper_id": rec.shopper_id,
                "quantity": rec.quantity,
                "confidence": rec.confidence,
            }
        elif isinstance(rec, Session):
            base |= {"enter_t": rec.enter_t, "exit_t": rec.exit_t}
            children[0].extend(
                {
                    "session_id": rec.session_id,
                    "revision": rec.revision,
                    "shopper_id": sh,
                    "store_id": rec.store_id,
                    "is_current": is_current,
                }
                for sh in sorted(set(rec.shopper_ids))
            )
        elif isinstance(rec, Basket):
            base |= {
                "session_id": rec.session_id,
                "unpaid_lines": sum(ln.status in _UNPAID for ln in rec.lines),
            }
            children[0].extend(
                {
                    "basket_id": rec.basket_id,
                    "revision": rec.revision,
                    "line_no": n,
                    "store_id": rec.store_id,
                    "session_id": rec.session_id,
                    "is_current": is_current,
                    "sku": ln.sku,
                    "qty": ln.qty,
                    "status": ln.status.value,
                    "confidence": ln.confidence,
                }
                for n, ln in enumerate(rec.lines)
            )
        elif isinstance(rec, Alert):
            base |= {
                "session_id": rec.session_id,
                "kind": rec.kind.value,
                "t": rec.t,
                "confidence": rec.confidence,
                "withdrawn": rec.withdrawn,
            }
        rows.append(base)
    return rows, children


def _upsert_lifecycle(conn: Connection, rows: list[dict], *, only_before_attribution: bool):
    """Insert lifecycle rows; an existing row takes the new state (only while it is still
    open / closed, when `only_before_attribution`)."""
    if not rows:
        return
    t = SessionLifecycleRow.__table__
    stmt = upsert_insert(conn, t)
    where = (
        or_(*(t.c.lifecycle == state for state in _BEFORE_ATTRIBUTION))  # no IN: executemany
        if only_before_attribution
        else None
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["store_id", "session_id"],
        set_={"lifecycle": stmt.excluded.lifecycle, "updated_t": stmt.excluded.updated_t},
        where=where,
    )
    for lo in range(0, len(rows), _CHUNK):
        conn.execute(stmt, rows[lo : lo + _CHUNK])


def _move_lifecycle(conn: Connection, model: type, recs: Sequence[DerivedRecord], now: float):
    if model is Session:
        rows = [
            {
                "store_id": s.store_id,
                "session_id": s.session_id,
                "lifecycle": (
                    SessionLifecycle.OPEN if s.exit_t is None else SessionLifecycle.CLOSED
                ).value,
                "has_alert": False,
                "updated_t": now,
            }
            for s in recs
        ]
        _upsert_lifecycle(conn, rows, only_before_attribution=True)
    elif model is Basket:
        rows = [
            {
                "store_id": b.store_id,
                "session_id": b.session_id,
                "lifecycle": SessionLifecycle.ATTRIBUTED.value,
                "has_alert": False,
                "updated_t": now,
            }
            for b in recs
        ]
        _upsert_lifecycle(conn, rows, only_before_attribution=True)
    elif model is Alert:
        keys = sorted({(a.store_id, a.session_id) for a in recs})
        _refresh_has_alert(conn, keys, now)


def _refresh_has_alert(conn: Connection, keys: list[tuple[str, str]], now: float) -> None:
    """`has_alert` = the session has a current alert that is not withdrawn."""
    lc, al = SessionLifecycleRow.__table__, AlertRow.__table__
    missing = [
        {
            "store_id": s,
            "session_id": sid,
            "lifecycle": SessionLifecycle.CLOSED.value,
            "has_alert": False,
            "updated_t": now,
        }
        for s, sid in keys
    ]  # an alert for a session not saved yet: it has ended (an alert is raised at its exit)
    for lo in range(0, len(missing), _CHUNK):
        conn.execute(upsert_insert(conn, lc).on_conflict_do_nothing(), missing[lo : lo + _CHUNK])
    live = exists().where(
        and_(
            al.c.store_id == lc.c.store_id,
            al.c.session_id == lc.c.session_id,
            al.c.is_current,
            ~al.c.withdrawn,
        )
    )
    by_store: dict[str, list[str]] = defaultdict(list)
    for store, sid in keys:
        by_store[store].append(sid)
    for store, sids in by_store.items():  # one IN per store: a row-value IN misses the index
        for lo in range(0, len(sids), _CHUNK):
            conn.execute(
                update(lc)
                .where(lc.c.store_id == store, lc.c.session_id.in_(sids[lo : lo + _CHUNK]))
                .values(has_alert=live, updated_t=now)
            )


@dataclass(frozen=True)
class Review:
    """A person's verdict on a session, as recorded."""

    review_no: int
    store_id: str
    session_id: str
    verdict: SessionLifecycle
    reviewer: str
    reason: str
    t: float


def record_review(
    db: Database,
    *,
    store_id: str,
    session_id: str,
    verdict: SessionLifecycle | str,
    reviewer: str,
    reason: str,
    t: float | None = None,
) -> Review:
    """Append a review (`reviewed`: the person agrees with the basket; `contested`: they do
    not) and move the session's lifecycle to it. The session must be attributed or reviewed
    already (a review is of a basket). Raises StorageError naming what is wrong."""
    try:
        verdict = SessionLifecycle(verdict)
    except ValueError:
        raise StorageError(
            f"verdict {verdict!r}: a review is one of {[v.value for v in VERDICTS]}"
        ) from None
    if verdict not in VERDICTS:
        raise StorageError(
            f"verdict {verdict.value!r}: a review is one of {[v.value for v in VERDICTS]}"
        )
    if not reviewer.strip():
        raise StorageError("reviewer: a review names who made it")
    when = time.time() if t is None else t
    lc = SessionLifecycleRow.__table__
    with db.write() as conn:
        state = conn.execute(
            select(lc.c.lifecycle).where(lc.c.store_id == store_id, lc.c.session_id == session_id)
        ).scalar_one_or_none()
        if state is None:
            raise StorageError(f"session {session_id!r} of store {store_id!r} is not stored")
        if state in _BEFORE_ATTRIBUTION:
            raise StorageError(
                f"session {session_id!r} is {state}: only an attributed session can be reviewed"
            )
        review_no = conn.execute(
            SessionReviewRow.__table__.insert()
            .values(
                store_id=store_id,
                session_id=session_id,
                verdict=verdict.value,
                reviewer=reviewer,
                reason=reason,
                t=when,
            )
            .returning(SessionReviewRow.__table__.c.review_no)
        ).scalar_one()
        conn.execute(
            update(lc)
            .where(lc.c.store_id == store_id, lc.c.session_id == session_id)
            .values(lifecycle=verdict.value, updated_t=when)
        )
    return Review(review_no, store_id, session_id, verdict, reviewer, reason, when)


def count_rows(db: Database, table: Table) -> int:
    """Rows in `table` (for tests and benchmarks)."""
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
