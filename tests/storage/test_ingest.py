"""Idempotent ingestion of a simulated store's POS transactions and RFID reads, on SQLite and
PostgreSQL: retries never duplicate, conflicts are refused by id, bad records are reported by
index and field while the good ones are stored, late records are flagged."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storelens.storage import ingest_pos, ingest_rfid
from storelens.storage.queries import late_inputs, pos_transactions, rfid_reads
from storelens.storage.tables import PosLineRow, PosTransactionRow, RfidReadRow


def _count(db, table) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()


def _dicts(records) -> list[dict]:
    return [r.model_dump(mode="json") for r in records]


def test_a_store_run_is_stored_once_and_reads_back_exactly(db, store_run):
    pos, rfid = store_run.pos, store_run.rfid
    assert len(pos) > 10 and len(rfid) > 10
    report = ingest_pos(db, _dicts(pos), store_id="demo-store")
    assert report.ok and sorted(report.accepted) == sorted(t.txn_id for t in pos)
    assert ingest_rfid(db, rfid).ok
    assert _count(db, PosLineRow) == sum(len(t.lines) for t in pos)
    with db.read() as conn:
        back = pos_transactions(conn, "demo-store")
        reads = rfid_reads(conn, "demo-store")
    assert sorted(back, key=lambda t: t.txn_id) == sorted(pos, key=lambda t: t.txn_id)
    assert sorted(reads, key=lambda r: r.read_id) == sorted(rfid, key=lambda r: r.read_id)


def test_a_retried_batch_is_skipped_whole(db, store_run):
    first = ingest_pos(db, store_run.pos)
    again = ingest_pos(db, _dicts(store_run.pos))
    assert again.ok and again.accepted == []
    assert sorted(again.duplicates) == sorted(first.accepted)
    reads = ingest_rfid(db, store_run.rfid + store_run.rfid[:5])  # a duplicate inside the batch
    assert reads.ok and len(reads.accepted) == len(store_run.rfid) and len(reads.duplicates) == 5
    assert _count(db, PosTransactionRow) == len(store_run.pos)
    assert _count(db, RfidReadRow) == len(store_run.rfid)


def test_a_conflicting_retry_is_refused_naming_the_id_and_the_rest_is_kept(db, store_run):
    sale = next(t for t in store_run.pos if t.kind == "sale" and t.lines)
    ingest_pos(db, [sale])
    changed = sale.model_dump(mode="json")
    changed["lines"][0]["qty"] += 1
    others = [t for t in store_run.pos if t.txn_id != sale.txn_id][:4]
    report = ingest_pos(db, [*_dicts(others[:2]), changed, *_dicts(others[2:])])
    assert [(e.index, e.field, e.record_id) for e in report.errors] == [(2, "txn_id", sale.txn_id)]
    assert "already stored with a different body" in report.errors[0].message
    assert sorted(report.accepted) == sorted(t.txn_id for t in others)
    with db.read() as conn:
        stored = {t.txn_id: t for t in pos_transactions(conn, "demo-store")}
    assert stored[sale.txn_id] == sale  # the first body stands


def test_the_same_id_twice_in_one_batch_with_different_bodies_keeps_the_first(db, store_run):
    read = store_run.rfid[0].model_dump(mode="json")
    other = {**read, "rssi_dbm": -10.0}
    report = ingest_rfid(db, [read, other])
    assert report.accepted == [read["read_id"]]
    assert [(e.index, e.field) for e in report.errors] == [(1, "read_id")]
    assert "earlier in this batch (record 0)" in report.errors[0].message


BAD = [
    ({"t": -5.0}, "t", "finite seconds"),
    ({"kind": "void", "refers_to": None}, "<record>", "needs refers_to"),
    ({"lines": [{"sku": "apple", "qty": 0, "unit_price": 1.0}]}, "lines.0.qty", "greater than"),
    ({"store_id": "other-store"}, "store_id", "was sent to store 'demo-store'"),
    ({"till": "x"}, "till", "Extra inputs"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD)
def test_a_bad_record_is_named_by_index_and_field_and_the_good_ones_are_stored(
    db, store_run, change, field, message
):
    good = _dicts(store_run.pos[:6])
    bad = {**good[3], "txn_id": "txn-bad", **change}
    batch = [*good[:3], bad, *good[3:]]
    report = ingest_pos(db, batch, store_id="demo-store")
    assert len(report.errors) == 1, report.summary()
    err = report.errors[0]
    assert (err.index, err.field, err.record_id) == (3, field, "txn-bad")
    assert message in err.message
    assert sorted(report.accepted) == sorted(t["txn_id"] for t in good)
    assert _count(db, PosTransactionRow) == 6


def test_a_record_that_is_not_an_object_and_a_batch_that_is_not_a_list(db, store_run):
    report = ingest_rfid(db, [store_run.rfid[0], "r-17"])
    assert [(e.index, e.field) for e in report.errors] == [(1, "<record>")]
    assert len(report.accepted) == 1
    with pytest.raises(TypeError, match="a list of records"):
        ingest_rfid(db, store_run.rfid[0].model_dump())


def test_records_past_the_horizon_are_stored_and_flagged(db, store_run):
    reads = sorted(store_run.rfid, key=lambda r: r.t)
    cut = reads[len(reads) // 2].t
    report = ingest_rfid(db, reads, received_t=cut + 3600.0, horizon_s=3600.0)
    late = {r.read_id for r in reads if r.t < cut}
    assert set(report.late) == late and late
    assert len(report.accepted) == len(reads)
    with db.read() as conn:
        assert set(late_inputs(conn, "demo-store")["rfid"]) == late


def test_an_empty_batch_stores_nothing(db):
    report = ingest_pos(db, [])
    assert report.ok and report.received == 0 and report.accepted == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_mix_of_overlapping_retried_batches_stores_each_read_exactly_once(
    tmp_path_factory, store_run, data
):
    from storelens.storage import Database

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('hyp') / 'h.db'}")
    db.migrate()
    reads = store_run.rfid[:40]
    batches = data.draw(
        st.lists(st.lists(st.sampled_from(range(len(reads))), max_size=15), min_size=1, max_size=8)
    )
    seen: set[str] = set()
    for batch in batches:
        report = ingest_rfid(db, [reads[i] for i in batch])
        assert report.ok
        ids = {reads[i].read_id for i in batch}
        assert set(report.accepted) == ids - seen
        assert set(report.accepted) | set(report.duplicates) == ids
        seen |= ids
    with db.read() as conn:
        stored = [r.read_id for r in rfid_reads(conn, "demo-store")]
    assert sorted(stored) == sorted(seen)
    db.close()
