"""Derived records stored with every revision, lifecycle moving forward, reviews appended —
on SQLite and PostgreSQL, from a simulated store's attributed run."""

from __future__ import annotations

import pytest

from storelens.records import Alert, Basket, SessionLifecycle
from storelens.storage import StorageError, record_review, save_records
from storelens.storage.queries import get_session, list_sessions, revisions


def _save_run(db, run):
    return save_records(db, [*run.sessions, *run.events, *run.baskets, *run.alerts])


def test_a_run_reads_back_as_it_was_written(db, store_run):
    report = _save_run(db, store_run)
    assert report.stored == {
        "ShelfEvent": len(store_run.events),
        "Session": len(store_run.sessions),
        "Basket": len(store_run.baskets),
        "Alert": len(store_run.alerts),
    }
    baskets = {b.session_id: b for b in store_run.baskets}
    with db.read() as conn:
        for s in store_run.sessions:
            detail = get_session(conn, s.store_id, s.session_id)
            assert detail.session == s
            assert detail.basket == baskets.get(s.session_id)
            assert detail.lifecycle == (
                SessionLifecycle.ATTRIBUTED if s.session_id in baskets else SessionLifecycle.CLOSED
            )
            mine = [a for a in store_run.alerts if a.session_id == s.session_id]
            assert detail.alerts == sorted(mine, key=lambda a: (a.t, a.alert_id))
        assert get_session(conn, "demo-store", "no-such-session") is None


def test_a_replay_stores_nothing_new(db, store_run):
    _save_run(db, store_run)
    again = _save_run(db, store_run)
    assert sum(again.stored.values()) == 0
    assert again.unchanged["Session"] == len(store_run.sessions)


def test_a_revision_supersedes_and_history_is_kept_in_any_order(db, store_run):
    basket = next(b for b in store_run.baskets if b.lines)
    r2 = basket.revised(lines=basket.lines[:-1])
    r3 = r2.revised(lines=basket.lines)
    save_records(db, [r3, *store_run.sessions])
    save_records(db, [basket, r2])  # older revisions arriving late stay history
    with db.read() as conn:
        assert get_session(conn, "demo-store", basket.session_id).basket == r3
        assert revisions(conn, Basket, basket.basket_id) == [basket, r2, r3]


def test_the_same_revision_with_another_body_is_refused(db, store_run):
    basket = next(b for b in store_run.baskets if b.lines)
    save_records(db, [basket])
    forged = Basket.model_validate({**basket.model_dump(), "lines": []})
    with pytest.raises(StorageError, match=f"{basket.key} is already stored with a different"):
        save_records(db, [forged])


def test_a_withdrawn_alert_clears_has_alert(db, store_run):
    alert = store_run.alerts[0]
    _save_run(db, store_run)
    with db.read() as conn:
        flagged = list_sessions(conn, "demo-store", has_alert=True, limit=1000).items
    assert alert.session_id in {s.session.session_id for s in flagged}
    save_records(db, [alert.revised(lines=[])])
    with db.read() as conn:
        detail = get_session(conn, "demo-store", alert.session_id)
        flagged = list_sessions(conn, "demo-store", has_alert=True, limit=1000).items
    still = any(not a.withdrawn for a in detail.alerts)
    assert (alert.session_id in {s.session.session_id for s in flagged}) == still
    assert any(a.alert_id == alert.alert_id and a.withdrawn for a in detail.alerts)
    assert isinstance(detail.alerts[0], Alert)


def test_lifecycle_open_closed_attributed_then_reviews_are_appended(db, store_run):
    s = next(
        x
        for x in store_run.sessions
        if any(b.session_id == x.session_id for b in store_run.baskets)
    )
    basket = next(b for b in store_run.baskets if b.session_id == s.session_id)
    opened = s.model_copy(update={"exit_t": None})  # what the live pipeline saves first
    save_records(db, [opened])
    with db.read() as conn:
        assert get_session(conn, s.store_id, s.session_id).lifecycle == SessionLifecycle.OPEN
    with pytest.raises(StorageError, match="only an attributed session can be reviewed"):
        record_review(
            db,
            store_id=s.store_id,
            session_id=s.session_id,
            verdict="reviewed",
            reviewer="ana",
            reason="",
        )
    save_records(db, [opened.revised(exit_t=s.exit_t)])
    with db.read() as conn:
        assert get_session(conn, s.store_id, s.session_id).lifecycle == SessionLifecycle.CLOSED
    save_records(db, [basket])
    first = record_review(
        db,
        store_id=s.store_id,
        session_id=s.session_id,
        verdict="contested",
        reviewer="ana",
        reason="the tag was a staff read",
    )
    second = record_review(
        db,
        store_id=s.store_id,
        session_id=s.session_id,
        verdict=SessionLifecycle.REVIEWED,
        reviewer="ben",
        reason="video shows it",
    )
    save_records(db, [basket.revised(lines=basket.lines[:-1] or [])]) if basket.lines else None
    with db.read() as conn:
        detail = get_session(conn, s.store_id, s.session_id)
    assert detail.lifecycle == SessionLifecycle.REVIEWED  # a later basket does not undo a review
    assert [(r.verdict, r.reviewer) for r in detail.reviews] == [
        (SessionLifecycle.CONTESTED, "ana"),
        (SessionLifecycle.REVIEWED, "ben"),
    ]
    assert second.review_no > first.review_no


@pytest.mark.parametrize(
    ("verdict", "reviewer", "message"),
    [
        ("attributed", "ana", "a review is one of"),
        ("maybe", "ana", "a review is one of"),
        ("reviewed", "  ", "names who made it"),
    ],
)
def test_a_bad_review_is_refused(db, store_run, verdict, reviewer, message):
    _save_run(db, store_run)
    sid = store_run.baskets[0].session_id
    with pytest.raises(StorageError, match=message):
        record_review(
            db, store_id="demo-store", session_id=sid, verdict=verdict, reviewer=reviewer, reason=""
        )
    with pytest.raises(StorageError, match="is not stored"):
        record_review(
            db,
            store_id="demo-store",
            session_id="nope",
            verdict="reviewed",
            reviewer="ana",
            reason="",
        )
