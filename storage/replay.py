"""What a live store worker reads back from storage: the records it builds on after a restart,
and the POS and RFID records the store posted since it last looked.

The database, not the worker, is the record of what was accepted: an input is persisted before
the API acknowledges it, and a derived record is saved before the worker's checkpoint moves
past it. So a worker killed at any moment and restarted rebuilds its attribution state from
here — the current revision of every session, shelf event, basket and alert of its store since
a time, and every input received after a cursor — and writes again only what differs (a
replayed revision with the same body is a no-op in `save_records`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from storelens.records import Alert, Basket, PosTransaction, RfidRead, Session, ShelfEvent
from storelens.storage.tables import (
    AlertRow,
    BasketRow,
    PosTransactionRow,
    RfidReadRow,
    SessionRow,
    ShelfEventRow,
)


@dataclass
class StoreRecords:
    """The current revision of each derived record of one store (see `current_records`)."""

    sessions: list[Session]
    events: list[ShelfEvent]
    baskets: list[Basket]
    alerts: list[Alert]


def current_records(conn: Connection, store_id: str, since_t: float) -> StoreRecords:
    """Current sessions entered at or after `since_t`, their baskets and alerts, and the shelf
    events at or after it."""
    s, e, b, a = (
        SessionRow.__table__,
        ShelfEventRow.__table__,
        BasketRow.__table__,
        AlertRow.__table__,
    )
    sessions = conn.execute(
        select(s.c.session_id, s.c.body)
        .where(s.c.store_id == store_id, s.c.is_current, s.c.enter_t >= since_t)
        .order_by(s.c.enter_t, s.c.session_id)
    ).all()
    ids = select(s.c.session_id).where(
        s.c.store_id == store_id, s.c.is_current, s.c.enter_t >= since_t
    )
    events = conn.execute(
        select(e.c.body)
        .where(e.c.store_id == store_id, e.c.is_current, e.c.t >= since_t)
        .order_by(e.c.t, e.c.event_id)
    ).scalars()
    baskets = conn.execute(
        select(b.c.body)
        .where(b.c.store_id == store_id, b.c.is_current, b.c.session_id.in_(ids))
        .order_by(b.c.session_id)
    ).scalars()
    alerts = conn.execute(
        select(a.c.body)
        .where(a.c.store_id == store_id, a.c.is_current, a.c.session_id.in_(ids))
        .order_by(a.c.t, a.c.alert_id)
    ).scalars()
    return StoreRecords(
        [Session.model_validate_json(r.body) for r in sessions],
        [ShelfEvent.model_validate_json(x) for x in events],
        [Basket.model_validate_json(x) for x in baskets],
        [Alert.model_validate_json(x) for x in alerts],
    )


@dataclass
class ReceivedInputs:
    """POS transactions and RFID reads received after a cursor (none of the late ones), and the
    cursor to pass next time."""

    pos: list[tuple[PosTransaction, float]]  # (record, received_t)
    rfid: list[tuple[RfidRead, float]]
    cursor: float


def inputs_received(conn: Connection, store_id: str, after_t: float) -> ReceivedInputs:
    """Inputs with `received_t >= after_t` (inclusive: two batches received in the same clock
    tick are both seen; the attributor ignores an id it holds already), flagged ones excluded."""
    p, r = PosTransactionRow.__table__, RfidReadRow.__table__
    pos = conn.execute(
        select(p.c.body, p.c.received_t)
        .where(p.c.store_id == store_id, p.c.received_t >= after_t, ~p.c.late)
        .order_by(p.c.received_t, p.c.txn_id)
    ).all()
    rfid = conn.execute(
        select(r.c.body, r.c.received_t)
        .where(r.c.store_id == store_id, r.c.received_t >= after_t, ~r.c.late)
        .order_by(r.c.received_t, r.c.read_id)
    ).all()
    cursor = max([after_t, *(x.received_t for x in pos), *(x.received_t for x in rfid)])
    return ReceivedInputs(
        [(PosTransaction.model_validate_json(x.body), x.received_t) for x in pos],
        [(RfidRead.model_validate_json(x.body), x.received_t) for x in rfid],
        cursor,
    )
