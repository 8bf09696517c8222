"""The API's reads over a stored run: keyset pages that never repeat or skip, filters, and
analytics in SQL that give attribution's own answers — the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from storelens.attribution import analytics
from storelens.records import SessionLifecycle
from storelens.storage import StorageError, save_records
from storelens.storage.queries import (
    decode_cursor,
    encode_cursor,
    get_event,
    hourly,
    list_alerts,
    list_events,
    list_sessions,
    shelf_funnel,
    sku_funnel,
)

STORE = "demo-store"


@pytest.fixture
def stored(db, store_run):
    save_records(
        db, [*store_run.sessions, *store_run.events, *store_run.baskets, *store_run.alerts]
    )
    return db


def _walk(fetch, **kw):
    items, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor=cursor, **kw)
        items += page.items
        pages += 1
        if page.next_cursor is None:
            return items, pages
        cursor = page.next_cursor


def test_pages_of_sessions_cover_each_once_in_order(stored, store_run):
    with stored.read() as conn:
        items, pages = _walk(lambda **kw: list_sessions(conn, STORE, **kw), limit=7)
    n = len(store_run.sessions)
    assert pages == -(-n // 7)  # a full last page is the last: no empty page after it
    got = [s.session.session_id for s in items]
    want = [
        s.session_id for s in sorted(store_run.sessions, key=lambda s: (s.enter_t, s.session_id))
    ]
    assert got == want


def test_a_page_resumes_after_its_cursor_when_rows_are_added_meanwhile(stored, store_run):
    ordered = sorted(store_run.events, key=lambda e: (e.t, e.event_id))
    with stored.read() as conn:
        first = list_events(conn, STORE, limit=5)
    early = ordered[0].model_copy(update={"event_id": "ev-late-early", "t": ordered[0].t - 100})
    save_records(stored, [early])  # sorts before the first page: must not shift later pages
    with stored.read() as conn:
        rest, _ = _walk(lambda **kw: list_events(conn, STORE, **kw), limit=5)
        second = list_events(conn, STORE, limit=5, cursor=first.next_cursor)
    assert [e.event_id for e in second.items] == [e.event_id for e in ordered[5:10]]
    assert rest[0].event_id == "ev-late-early" and len(rest) == len(ordered) + 1


def test_event_filters_and_one_event(stored, store_run):
    ev = store_run.events[0]
    with stored.read() as conn:
        by_sku, _ = _walk(lambda **kw: list_events(conn, STORE, **kw), sku=ev.sku, limit=50)
        by_shopper = list_events(conn, STORE, shopper_id=ev.shopper_id, kind="pick", limit=1000)
        window = list_events(conn, STORE, since=ev.t, until=ev.t + 60, limit=1000)
        assert get_event(conn, STORE, ev.event_id) == ev
        assert get_event(conn, STORE, "nope") is None
    assert {e.event_id for e in by_sku} == {e.event_id for e in store_run.events if e.sku == ev.sku}
    assert {e.event_id for e in by_shopper.items} == {
        e.event_id for e in store_run.events if e.shopper_id == ev.shopper_id and e.kind == "pick"
    }
    assert {e.event_id for e in window.items} == {
        e.event_id for e in store_run.events if ev.t <= e.t < ev.t + 60
    }


def test_session_filters(stored, store_run):
    alerted = {a.session_id for a in store_run.alerts if not a.withdrawn}
    attributed = {b.session_id for b in store_run.baskets}
    some = store_run.sessions[3]
    with stored.read() as conn:
        flagged = list_sessions(conn, STORE, has_alert=True, limit=1000).items
        done = list_sessions(conn, STORE, lifecycle=SessionLifecycle.ATTRIBUTED, limit=1000).items
        mine = list_sessions(conn, STORE, shopper_id=some.shopper_ids[0], limit=1000).items
        alerts = list_alerts(conn, STORE, limit=1000).items
    assert alerted and {s.session.session_id for s in flagged} == alerted
    assert {s.session.session_id for s in done} == attributed
    assert [s.session.session_id for s in mine] == [some.session_id]
    assert {a.session_id for a in alerts} == alerted


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda conn: list_sessions(conn, STORE, limit=0), "a page holds 1 to 1000"),
        (lambda conn: list_events(conn, STORE, cursor="bm90IGpzb24"), "is not one this API"),
        (lambda conn: list_events(conn, STORE, cursor="!!"), "is not one this API"),
    ],
)
def test_bad_page_arguments_are_named(stored, call, message):
    with stored.read() as conn, pytest.raises(StorageError, match=message):
        call(conn)


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor(1_800_000_000.25, "ses-ab")) == (1_800_000_000.25, "ses-ab")


def test_analytics_in_sql_give_attributions_answers(stored, store_run):
    with stored.read() as conn:
        skus = sku_funnel(conn, STORE)
        shelves = shelf_funnel(conn, STORE, [s.shelf_id for s in store_run.layout.shelves])
        hours = hourly(conn, STORE)
    want_sku = analytics.sku_funnels(store_run.events, store_run.baskets)
    assert [(f.key, f.picks, f.put_backs, f.purchased) for f in skus] == [
        (f.key, f.picks, f.put_backs, f.purchased) for f in want_sku
    ]
    want_shelf = analytics.shelf_funnels(
        store_run.layout, store_run.sessions, store_run.events, store_run.baskets
    )
    assert [(f.key, f.picks, f.put_backs, f.purchased) for f in shelves] == [
        (f.key, f.picks, f.put_backs, f.purchased) for f in want_shelf
    ]
    assert sum(f.purchased for f in shelves) > 0
    want_hours = analytics.hourly(store_run.sessions, store_run.baskets, store_run.alerts)
    assert [
        (h.t, h.sessions, h.with_purchase, h.unpaid_lines, h.reviewed_sessions) for h in hours
    ] == [
        (h.t, h.sessions, h.with_purchase, h.unpaid_lines, h.reviewed_sessions) for h in want_hours
    ]
    assert sum(h.unpaid_lines for h in hours) > 0  # the theft scenario leaves unpaid lines


def test_a_time_range_limits_the_analytics(stored, store_run):
    cut = sorted(s.enter_t for s in store_run.sessions)[len(store_run.sessions) // 2]
    early = [s for s in store_run.sessions if s.enter_t < cut]
    ids = {s.session_id for s in early}
    with stored.read() as conn:
        hours = hourly(conn, STORE, until=cut)
        skus = sku_funnel(conn, STORE, until=cut)
    assert sum(h.sessions for h in hours) == len(early)
    events = [e for e in store_run.events if e.t < cut]
    want = analytics.sku_funnels(events, [b for b in store_run.baskets if b.session_id in ids])
    assert [(f.key, f.picks, f.purchased) for f in skus] == [
        (f.key, f.picks, f.purchased) for f in want
    ]


def _answers(db, store_run) -> dict:
    save_records(
        db, [*store_run.sessions, *store_run.events, *store_run.baskets, *store_run.alerts]
    )
    shelves = [s.shelf_id for s in store_run.layout.shelves]
    with db.read() as conn:
        sessions, _ = _walk(lambda **kw: list_sessions(conn, STORE, **kw), limit=9)
        events, _ = _walk(lambda **kw: list_events(conn, STORE, **kw), limit=50)
        return {
            "sessions": sessions,
            "events": events,
            "alerts": list_alerts(conn, STORE, include_withdrawn=True, limit=1000).items,
            "skus": sku_funnel(conn, STORE),
            "shelves": shelf_funnel(conn, STORE, shelves),
            "hours": hourly(conn, STORE),
        }


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_answers(db_pair, store_run):
    lite, pg = db_pair
    assert _answers(lite, store_run) == _answers(pg, store_run)
