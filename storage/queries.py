"""Every read the API makes, in one module: sessions, events, alerts, POS and RFID records, and
the store's analytics, each answered in SQL over the current revisions.

Lists are pages in a stable order — sessions by `(enter_t, session_id)`, events by
`(t, event_id)`, alerts by `(t, alert_id)` — with an opaque `cursor` that resumes after the
last item of the previous page (keyset pagination: a page never repeats or skips a row when
rows are added meanwhile, and costs the same deep in the list as at its start). Each query
is served by an index in `tables.py`.

Analytics are the SQL twins of `storelens.attribution.analytics` (the tests hold them to the
same answers): per SKU and per shelf zone, picks, put-backs, purchased units and their
conversion; per hour, sessions, those that bought, unpaid lines and sessions raised for review.
Dwell needs floor paths, which storage does not hold: it is attribution's alone.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)

from storelens.records import (
    Alert,
    Basket,
    EventKind,
    LineStatus,
    PosTransaction,
    RfidRead,
    Session,
    SessionLifecycle,
    ShelfEvent,
)
from storelens.storage.database import StorageError
from storelens.storage.derived import Review
from storelens.storage.tables import (
    AlertRow,
    BasketLineRow,
    BasketRow,
    PosTransactionRow,
    RfidReadRow,
    SessionLifecycleRow,
    SessionReviewRow,
    SessionRow,
    SessionShopperRow,
    ShelfEventRow,
)

T = TypeVar("T")
MAX_PAGE = 1000
_PAID = (LineStatus.PAID.value, LineStatus.PAID_UNSEEN.value)
_UNPAID = (LineStatus.UNPAID.value, LineStatus.RFID_EXIT_UNPAID.value)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class SessionSummary:
    session: Session
    lifecycle: SessionLifecycle
    has_alert: bool


@dataclass(frozen=True)
class SessionDetail:
    """One session with its current basket, its current alerts and every review."""

    session: Session
    lifecycle: SessionLifecycle
    basket: Basket | None
    alerts: list[Alert]
    reviews: list[Review]


@dataclass(frozen=True)
class FunnelRow:
    key: str
    picks: int
    put_backs: int
    purchased: int

    @property
    def conversion(self) -> float | None:
        return self.purchased / self.picks if self.picks else None


@dataclass(frozen=True)
class HourRow:
    t: float
    sessions: int
    with_purchase: int
    unpaid_lines: int
    reviewed_sessions: int

    @property
    def conversion(self) -> float | None:
        return self.with_purchase / self.sessions if self.sessions else None

    @property
    def reviews_per_1000(self) -> float | None:
        return 1000 * self.reviewed_sessions / self.sessions if self.sessions else None


# --- cursors --------------------------------------------------------------------------------


def encode_cursor(t: float, record_id: str) -> str:
    raw = json.dumps([t, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The `(t, id)` a cursor resumes after; StorageError naming the cursor when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        t, rid = json.loads(raw)
        if not isinstance(rid, str) or isinstance(t, bool) or not isinstance(t, int | float):
            raise ValueError
        return float(t), rid
    except (ValueError, TypeError, json.JSONDecodeError):
        raise StorageError(f"cursor {cursor!r} is not one this API handed out") from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise StorageError(f"limit {limit}: a page holds 1 to {MAX_PAGE} items")
    return limit


def _page(rows: list, limit: int, key) -> tuple[list, str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(*key(rows[-1])) if more and rows else None)


def _after(t_col, id_col, cursor: str | None):
    if cursor is None:
        return literal(True)
    t, rid = decode_cursor(cursor)
    return or_(t_col > t, and_(t_col == t, id_col > rid))


def _in_range(col, since: float | None, until: float | None):
    conds = []
    if since is not None:
        conds.append(col >= since)
    if until is not None:
        conds.append(col < until)
    return and_(literal(True), *conds)


# --- sessions -------------------------------------------------------------------------------


def list_sessions(
    conn: Connection,
    store_id: str,
    *,
    since: float | None = None,
    until: float | None = None,
    lifecycle: SessionLifecycle | str | None = None,
    has_alert: bool | None = None,
    shopper_id: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[SessionSummary]:
    """Sessions that entered in `[since, until)`, oldest first, filtered by lifecycle, by
    whether a live alert is raised, or by a shopper they hold."""
    s, lc = SessionRow.__table__, SessionLifecycleRow.__table__
    q = (
        select(s.c.body, lc.c.lifecycle, lc.c.has_alert, s.c.enter_t, s.c.session_id)
        .join(lc, and_(lc.c.store_id == s.c.store_id, lc.c.session_id == s.c.session_id))
        .where(
            s.c.store_id == store_id,
            s.c.is_current,
            _in_range(s.c.enter_t, since, until),
            _after(s.c.enter_t, s.c.session_id, cursor),
        )
    )
    if lifecycle is not None:
        q = q.where(lc.c.lifecycle == SessionLifecycle(lifecycle).value)
    if has_alert is not None:
        q = q.where(lc.c.has_alert == has_alert)
    if shopper_id is not None:
        sh = SessionShopperRow.__table__
        q = q.where(
            select(sh.c.session_id)
            .where(
                sh.c.store_id == store_id,
                sh.c.shopper_id == shopper_id,
                sh.c.is_current,
                sh.c.session_id == s.c.session_id,
            )
            .exists()
        )
    rows = conn.execute(q.order_by(s.c.enter_t, s.c.session_id).limit(_limit(limit) + 1)).all()
    rows, nxt = _page(rows, limit, lambda r: (r.enter_t, r.session_id))
    items = [
        SessionSummary(
            Session.model_validate_json(r.body), SessionLifecycle(r.lifecycle), bool(r.has_alert)
        )
        for r in rows
    ]
    return Page(items, nxt)


def get_session(conn: Connection, store_id: str, session_id: str) -> SessionDetail | None:
    """One session (current revision) with its basket, current alerts and reviews; None if
    the store has no such session."""
    s, lc = SessionRow.__table__, SessionLifecycleRow.__table__
    row = conn.execute(
        select(s.c.body, lc.c.lifecycle)
        .join(lc, and_(lc.c.store_id == s.c.store_id, lc.c.session_id == s.c.session_id))
        .where(s.c.store_id == store_id, s.c.session_id == session_id, s.c.is_current)
    ).first()
    if row is None:
        return None
    b, a, rv = BasketRow.__table__, AlertRow.__table__, SessionReviewRow.__table__
    basket_body = conn.execute(
        select(b.c.body).where(
            b.c.store_id == store_id, b.c.session_id == session_id, b.c.is_current
        )
    ).scalar_one_or_none()
    alerts = [
        Alert.model_validate_json(body)
        for body in conn.execute(
            select(a.c.body)
            .where(a.c.store_id == store_id, a.c.session_id == session_id, a.c.is_current)
            .order_by(a.c.t, a.c.alert_id)
        ).scalars()
    ]
    reviews = [
        Review(
            r["review_no"],
            r["store_id"],
            r["session_id"],
            SessionLifecycle(r["verdict"]),
            r["reviewer"],
            r["reason"],
            r["t"],
        )
        for r in conn.execute(
            select(rv)
            .where(rv.c.store_id == store_id, rv.c.session_id == session_id)
            .order_by(rv.c.review_no)
        ).mappings()
    ]
    return SessionDetail(
        Session.model_validate_json(row.body),
        SessionLifecycle(row.lifecycle),
        Basket.model_validate_json(basket_body) if basket_body is not None else None,
        alerts,
        reviews,
    )


def revisions(conn: Connection, model: type, record_id: str) -> list:
    """Every stored revision of one derived record, oldest first (the audit trail)."""
    tables = {
        ShelfEvent: (ShelfEventRow.__table__, "event_id"),
        Session: (SessionRow.__table__, "session_id"),
        Basket: (BasketRow.__table__, "basket_id"),
        Alert: (AlertRow.__table__, "alert_id"),
    }
    if model not in tables:
        raise TypeError(f"revisions of {model} are not stored")
    t, id_col = tables[model]
    bodies = conn.execute(
        select(t.c.body).where(t.c[id_col] == record_id).order_by(t.c.revision)
    ).scalars()
    return [model.model_validate_json(body) for body in bodies]


# --- events and alerts ----------------------------------------------------------------------


def list_events(
    conn: Connection,
    store_id: str,
    *,
    since: float | None = None,
    until: float | None = None,
    sku: str | None = None,
    shelf_id: str | None = None,
    shopper_id: str | None = None,
    kind: EventKind | str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[ShelfEvent]:
    """Current shelf events in `[since, until)` by time, filtered by SKU, shelf, shopper, kind."""
    e = ShelfEventRow.__table__
    q = select(e.c.body, e.c.t.label("at"), e.c.event_id).where(
        e.c.store_id == store_id,
        e.c.is_current,
        _in_range(e.c.t, since, until),
        _after(e.c.t, e.c.event_id, cursor),
    )
    for col, value in ((e.c.sku, sku), (e.c.shelf_id, shelf_id), (e.c.shopper_id, shopper_id)):
        if value is not None:
            q = q.where(col == value)
    if kind is not None:
        q = q.where(e.c.kind == EventKind(kind).value)
    rows = conn.execute(q.order_by(e.c.t, e.c.event_id).limit(_limit(limit) + 1)).all()
    rows, nxt = _page(rows, limit, lambda r: (r.at, r.event_id))
    return Page([ShelfEvent.model_validate_json(r.body) for r in rows], nxt)


def get_event(conn: Connection, store_id: str, event_id: str) -> ShelfEvent | None:
    e = ShelfEventRow.__table__
    body = conn.execute(
        select(e.c.body).where(e.c.store_id == store_id, e.c.event_id == event_id, e.c.is_current)
    ).scalar_one_or_none()
    return ShelfEvent.model_validate_json(body) if body is not None else None


def list_alerts(
    conn: Connection,
    store_id: str,
    *,
    since: float | None = None,
    until: float | None = None,
    include_withdrawn: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[Alert]:
    """Current alerts raised in `[since, until)` by time (withdrawn ones only when asked)."""
    a = AlertRow.__table__
    q = select(a.c.body, a.c.t.label("at"), a.c.alert_id).where(
        a.c.store_id == store_id,
        a.c.is_current,
        _in_range(a.c.t, since, until),
        _after(a.c.t, a.c.alert_id, cursor),
    )
    if not include_withdrawn:
        q = q.where(~a.c.withdrawn)
    rows = conn.execute(q.order_by(a.c.t, a.c.alert_id).limit(_limit(limit) + 1)).all()
    rows, nxt = _page(rows, limit, lambda r: (r.at, r.alert_id))
    return Page([Alert.model_validate_json(r.body) for r in rows], nxt)


# --- inputs ---------------------------------------------------------------------------------


def pos_transactions(
    conn: Connection, store_id: str, *, since: float | None = None, until: float | None = None
) -> list[PosTransaction]:
    """POS transactions with `t` in `[since, until)`, by time (what attribution re-reads)."""
    p = PosTransactionRow.__table__
    bodies = conn.execute(
        select(p.c.body)
        .where(p.c.store_id == store_id, _in_range(p.c.t, since, until))
        .order_by(p.c.t, p.c.txn_id)
    ).scalars()
    return [PosTransaction.model_validate_json(b) for b in bodies]


def rfid_reads(
    conn: Connection, store_id: str, *, since: float | None = None, until: float | None = None
) -> list[RfidRead]:
    """Exit-gate reads with `t` in `[since, until)`, by time."""
    r = RfidReadRow.__table__
    bodies = conn.execute(
        select(r.c.body)
        .where(r.c.store_id == store_id, _in_range(r.c.t, since, until))
        .order_by(r.c.t, r.c.read_id)
    ).scalars()
    return [RfidRead.model_validate_json(b) for b in bodies]


def late_inputs(conn: Connection, store_id: str) -> dict[str, list[str]]:
    """Ids of the POS transactions and reads stored past the horizon (flagged, not attributed)."""
    p, r = PosTransactionRow.__table__, RfidReadRow.__table__
    return {
        "pos": list(
            conn.execute(
                select(p.c.txn_id).where(p.c.store_id == store_id, p.c.late).order_by(p.c.txn_id)
            ).scalars()
        ),
        "rfid": list(
            conn.execute(
                select(r.c.read_id).where(r.c.store_id == store_id, r.c.late).order_by(r.c.read_id)
            ).scalars()
        ),
    }


# --- analytics ------------------------------------------------------------------------------


def _events_in(store_id: str, since: float | None, until: float | None):
    e = ShelfEventRow.__table__
    return (
        select(e.c.sku, e.c.shelf_id, e.c.shopper_id, e.c.kind, e.c.quantity)
        .where(e.c.store_id == store_id, e.c.is_current, _in_range(e.c.t, since, until))
        .subquery("ev")
    )


def _sessions_in(store_id: str, since: float | None, until: float | None):
    s = SessionRow.__table__
    return (
        select(s.c.session_id, s.c.enter_t)
        .where(s.c.store_id == store_id, s.c.is_current, _in_range(s.c.enter_t, since, until))
        .subquery("ses")
    )


def _paid_units(store_id: str, sessions):
    """(session_id, sku, units) paid in the current baskets of `sessions`."""
    bl = BasketLineRow.__table__
    return (
        select(bl.c.session_id, bl.c.sku, func.sum(bl.c.qty).label("units"))
        .join(sessions, sessions.c.session_id == bl.c.session_id)
        .where(bl.c.store_id == store_id, bl.c.is_current, bl.c.status.in_(_PAID))
        .group_by(bl.c.session_id, bl.c.sku)
        .subquery("paid")
    )


def sku_funnel(
    conn: Connection, store_id: str, *, since: float | None = None, until: float | None = None
) -> list[FunnelRow]:
    """Per SKU: picks and put-backs in `[since, until)`, units bought by the sessions that
    entered then; most picked first."""
    ev = _events_in(store_id, since, until)
    picked = func.sum(case((ev.c.kind == EventKind.PICK.value, ev.c.quantity), else_=0))
    backs = func.sum(case((ev.c.kind == EventKind.PUT_BACK.value, ev.c.quantity), else_=0))
    moves = {
        r.sku: (int(r.picks), int(r.backs))
        for r in conn.execute(
            select(ev.c.sku, picked.label("picks"), backs.label("backs")).group_by(ev.c.sku)
        )
    }
    paid = _paid_units(store_id, _sessions_in(store_id, since, until))
    bought = {
        r.sku: int(r.units)
        for r in conn.execute(
            select(paid.c.sku, func.sum(paid.c.units).label("units")).group_by(paid.c.sku)
        )
    }
    keys = sorted(set(moves) | set(bought), key=lambda k: (-moves.get(k, (0, 0))[0], k))
    return [FunnelRow(k, *moves.get(k, (0, 0)), bought.get(k, 0)) for k in keys]


def shelf_funnel(
    conn: Connection,
    store_id: str,
    shelf_ids: list[str],
    *,
    since: float | None = None,
    until: float | None = None,
) -> list[FunnelRow]:
    """Per shelf zone (in the order of `shelf_ids`, the layout's): picks, put-backs, and
    purchases — a session's purchase of a SKU counts for a shelf up to the units of it the
    session picked there, shelves taken in id order, so no purchase counts twice."""
    ev = _events_in(store_id, since, until)
    sh = SessionShopperRow.__table__
    sessions = _sessions_in(store_id, since, until)
    sign = case((ev.c.kind == EventKind.PICK.value, ev.c.quantity), else_=-ev.c.quantity)
    net = (
        select(
            sh.c.session_id,
            ev.c.shelf_id,
            ev.c.sku,
            func.sum(sign).label("net"),
        )
        .join(sh, and_(sh.c.shopper_id == ev.c.shopper_id, sh.c.store_id == store_id))
        .join(sessions, sessions.c.session_id == sh.c.session_id)
        .where(sh.c.is_current)
        .group_by(sh.c.session_id, ev.c.shelf_id, ev.c.sku)
        .subquery("net")
    )
    positive = case((net.c.net > 0, net.c.net), else_=0)
    before = func.sum(positive).over(
        partition_by=(net.c.session_id, net.c.sku),
        order_by=net.c.shelf_id,
        rows=(None, -1),
    )
    paid = _paid_units(store_id, sessions)
    ranked = (
        select(
            net.c.shelf_id,
            positive.label("picked"),
            func.coalesce(before, 0).label("before"),
            func.coalesce(paid.c.units, 0).label("paid"),
        )
        .select_from(net)
        .outerjoin(paid, and_(paid.c.session_id == net.c.session_id, paid.c.sku == net.c.sku))
        .subquery("ranked")
    )
    left = case((ranked.c.paid > ranked.c.before, ranked.c.paid - ranked.c.before), else_=0)
    take = case((ranked.c.picked < left, ranked.c.picked), else_=left)
    bought = {
        r.shelf_id: int(r.units)
        for r in conn.execute(
            select(ranked.c.shelf_id, func.sum(take).label("units")).group_by(ranked.c.shelf_id)
        )
    }
    picked = func.sum(case((ev.c.kind == EventKind.PICK.value, ev.c.quantity), else_=0))
    backs = func.sum(case((ev.c.kind == EventKind.PUT_BACK.value, ev.c.quantity), else_=0))
    moves = {
        r.shelf_id: (int(r.picks), int(r.backs))
        for r in conn.execute(
            select(ev.c.shelf_id, picked.label("picks"), backs.label("backs")).group_by(
                ev.c.shelf_id
            )
        )
    }
    return [FunnelRow(k, *moves.get(k, (0, 0)), bought.get(k, 0)) for k in shelf_ids]


def hourly(
    conn: Connection, store_id: str, *, since: float | None = None, until: float | None = None
) -> list[HourRow]:
    """Per UTC hour of entry: sessions, those whose basket has a paid line, unpaid lines, and
    sessions with a live alert (open sessions count as sessions only)."""
    ses = _sessions_in(store_id, since, until)
    bl, lc = BasketLineRow.__table__, SessionLifecycleRow.__table__
    if conn.dialect.name == "sqlite":  # times are >= 0, so truncation is the floor
        hour = cast(ses.c.enter_t / 3600.0, Integer) * 3600.0
    else:
        hour = func.floor(cast(ses.c.enter_t, Float) / 3600.0) * 3600.0
    per_session = (
        select(
            ses.c.session_id,
            hour.label("hour"),
            func.max(case((bl.c.status.in_(_PAID), 1), else_=0)).label("bought"),
            func.sum(case((bl.c.status.in_(_UNPAID), 1), else_=0)).label("unpaid"),
        )
        .select_from(ses)
        .outerjoin(
            bl,
            and_(bl.c.session_id == ses.c.session_id, bl.c.store_id == store_id, bl.c.is_current),
        )
        .group_by(ses.c.session_id, hour)
        .subquery("per_session")
    )
    alerted = case((lc.c.has_alert, 1), else_=0)
    rows = conn.execute(
        select(
            per_session.c.hour,
            func.count().label("sessions"),
            func.sum(func.coalesce(per_session.c.bought, 0)).label("bought"),
            func.sum(func.coalesce(per_session.c.unpaid, 0)).label("unpaid"),
            func.sum(func.coalesce(alerted, 0)).label("alerted"),
        )
        .select_from(per_session)
        .outerjoin(lc, and_(lc.c.store_id == store_id, lc.c.session_id == per_session.c.session_id))
        .group_by(per_session.c.hour)
        .order_by(per_session.c.hour)
    )
    return [
        HourRow(float(r.hour), int(r.sessions), int(r.bought), int(r.unpaid), int(r.alerted))
        for r in rows
    ]


def shelf_ids(conn: Connection, store_id: str) -> list[str]:
    """The shelves the store's current events name, sorted (shelf zones without a layout)."""
    e = ShelfEventRow.__table__
    return list(
        conn.execute(
            select(e.c.shelf_id)
            .where(e.c.store_id == store_id, e.c.is_current)
            .distinct()
            .order_by(e.c.shelf_id)
        ).scalars()
    )


def sessions_by_id(conn: Connection, store_id: str, session_ids: list[str]) -> list[Session]:
    """The current revisions of these sessions (missing ids left out)."""
    s = SessionRow.__table__
    out: list[Session] = []
    for lo in range(0, len(session_ids), 500):
        chunk = session_ids[lo : lo + 500]
        out.extend(
            Session.model_validate_json(b)
            for b in conn.execute(
                select(s.c.body).where(
                    s.c.store_id == store_id,
                    s.c.is_current,
                    s.c.session_id.in_(chunk),
                )
            ).scalars()
        )
    return out
