"""Nothing acknowledged is lost and nothing is stored twice: a writer process killed with
SIGKILL in the middle of its batches leaves every acknowledged batch whole and no partial
batch, a retry completes the rest exactly once; two writers sending overlapping batches at once
store each transaction once. Real processes, real SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storelens.storage.tables import PosLineRow, PosTransactionRow

WRITER = Path(__file__).with_name("writer_process.py")
SIZE = 200


def _writer(db, first: int, last: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            db.url.render_as_string(hide_password=False),
            db.schema or "-",
            str(first),
            str(last),
            str(SIZE),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _per_batch(db) -> Counter:
    t = PosTransactionRow.__table__
    with db.read() as conn:
        ids = conn.execute(select(t.c.txn_id)).scalars().all()
    return Counter(i.split("-")[0] for i in ids)


@pytest.mark.slow
def test_a_writer_killed_mid_batch_loses_nothing_acknowledged(db):
    proc = _writer(db, 0, 199)
    acked = []
    for line in proc.stdout:
        assert line.startswith("ack"), line + proc.stderr.read()
        acked.append(int(line.split()[1]))
        if len(acked) == 4:
            os.kill(proc.pid, signal.SIGKILL)  # mid-way through the next batch
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    stored = _per_batch(db)
    assert all(stored[f"{b:04d}"] == SIZE for b in acked)  # every acknowledged batch, whole
    assert set(stored.values()) == {SIZE}  # no batch half-stored
    assert sorted(stored) == [f"{b:04d}" for b in range(len(stored))]  # in order, no gap
    assert len(stored) >= len(acked)
    retry = _writer(db, 0, 9)  # the client retries everything it sent
    out, err = retry.communicate(timeout=120)
    assert retry.returncode == 0, err
    acks = [line.split() for line in out.splitlines()]
    assert sum(int(a[3]) for a in acks) == sum(stored.values())  # those came back duplicates
    final = _per_batch(db)
    assert final == Counter({f"{b:04d}": SIZE for b in range(10)})
    with db.read() as conn:
        lines = conn.execute(select(func.count()).select_from(PosLineRow.__table__)).scalar_one()
    assert lines == 10 * SIZE * 3


@pytest.mark.slow
def test_two_writers_with_overlapping_batches_store_each_transaction_once(db):
    a, b = _writer(db, 0, 7), _writer(db, 4, 11)
    out_a, err_a = a.communicate(timeout=300)
    out_b, err_b = b.communicate(timeout=300)
    assert a.returncode == 0 and b.returncode == 0, err_a + err_b
    stored = _per_batch(db)
    assert stored == Counter({f"{n:04d}": SIZE for n in range(12)})
    accepted = sum(int(line.split()[2]) for line in (out_a + out_b).splitlines())
    assert accepted == 12 * SIZE  # the overlap came back as duplicates, not errors
