"""Benchmark of storage's ingestion: POS lines and RFID reads per second into SQLite and
PostgreSQL, one writer and several at once.

Protocol:
- a POS batch is `POS_BATCH` transactions of `LINES_PER_TXN` lines each; an RFID batch is
  `RFID_BATCH` reads; every record goes through `ingest_pos` / `ingest_rfid` — validation, the
  stored-id lookup, `INSERT ... ON CONFLICT DO NOTHING`, one transaction per batch, committed
  before the call returns (SQLite: WAL, `synchronous=FULL`);
- *single writer*: `BATCHES` new batches per pass; *retry*: the same batches again (every record
  comes back a duplicate); *concurrent*: `WRITERS` processes, each with its own new batches,
  started together — the rate is all their records over the time from the first start to the
  last finish;
- the reference row is a plain `executemany` INSERT of the same rows without any idempotence
  check (what idempotence costs); there is no public peer;
- each figure is the median of `REPEATS` passes after one warm-up pass, with the slowest and
  fastest pass as its spread; PostgreSQL rows appear where PostgreSQL answers at
  `$STORELENS_BENCH_POSTGRES_URL` (default `postgresql+psycopg://postgres@127.0.0.1:5432/test`),
  in a schema of their own, dropped afterwards, its tables analyzed after the warm-up pass (what
  autovacuum does within a minute on a live store; a never-analyzed table is planned as empty
  and the retry lookup then scans);
- run alone on the machine: other work on 2 cores moves these figures by a factor of two.

The page `docs/benchmarks/storage.md` and its CSV are written by this suite.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from storelens.evaluation.bench.rows import BenchRow, Timing

POS_BATCH = 200
LINES_PER_TXN = 3
RFID_BATCH = 500
BATCHES = 10
WRITERS = 4
WRITER_BATCHES = 5
REPEATS = 5
POSTGRES_URL_ENV = "STORELENS_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = 1_800_000_000.0


def pos_batch(tag: str, b: int) -> list[dict]:
    return [
        {
            "txn_id": f"{tag}-{b:05d}-{i:04d}",
            "store_id": "bench-store",
            "terminal_id": f"pos-{1 + i % 4}",
            "t": T0 + b * 60 + i * 0.05,
            "lines": [
                {"sku": f"SKU-{(b + i + k) % 90:03d}", "qty": 1 + k % 2, "unit_price": 2.5}
                for k in range(LINES_PER_TXN)
            ],
        }
        for i in range(POS_BATCH)
    ]


def rfid_batch(tag: str, b: int) -> list[dict]:
    return [
        {
            "read_id": f"{tag}-{b:05d}-{i:04d}",
            "store_id": "bench-store",
            "reader_id": "rfid-exit-a",
            "epc": f"{(b * RFID_BATCH + i):024X}",
            "sku": f"SKU-{i % 90:03d}",
            "t": T0 + b * 60 + i * 0.01,
            "rssi_dbm": -55.0,
        }
        for i in range(RFID_BATCH)
    ]


def _ingest(db, kind: str, batches: list[list[dict]]) -> float:
    from storelens.storage import ingest_pos, ingest_rfid

    fn = ingest_pos if kind == "pos" else ingest_rfid
    start = time.perf_counter()
    for batch in batches:
        report = fn(db, batch)
        if not report.ok:
            raise RuntimeError(report.summary())
    return time.perf_counter() - start


def _raw_insert(db, kind: str, batches: list[list[dict]]) -> float:
    """The same rows by plain executemany INSERT, no lookup and no conflict handling."""
    from storelens.records import PosTransaction, RfidRead
    from storelens.revision import canonical_json
    from storelens.storage.tables import PosLineRow, PosTransactionRow, RfidReadRow

    start = time.perf_counter()
    for batch in batches:
        with db.write() as conn:
            if kind == "pos":
                recs = [PosTransaction.model_validate(r) for r in batch]
                conn.execute(
                    PosTransactionRow.__table__.insert(),
                    [
                        {
                            "store_id": r.store_id,
                            "txn_id": r.txn_id,
                            "terminal_id": r.terminal_id,
                            "t": r.t,
                            "kind": r.kind.value,
                            "refers_to": None,
                            "total": r.total,
                            "body": canonical_json(r),
                            "body_sha256": "-",
                            "received_t": 0.0,
                            "late": False,
                        }
                        for r in recs
                    ],
                )
                conn.execute(
                    PosLineRow.__table__.insert(),
                    [
                        {
                            "store_id": r.store_id,
                            "txn_id": r.txn_id,
                            "line_no": n,
                            "sku": ln.sku,
                            "qty": ln.qty,
                            "unit_price": ln.unit_price,
                        }
                        for r in recs
                        for n, ln in enumerate(r.lines)
                    ],
                )
            else:
                recs = [RfidRead.model_validate(r) for r in batch]
                conn.execute(
                    RfidReadRow.__table__.insert(),
                    [
                        {
                            "store_id": r.store_id,
                            "read_id": r.read_id,
                            "reader_id": r.reader_id,
                            "epc": r.epc,
                            "sku": r.sku,
                            "t": r.t,
                            "rssi_dbm": r.rssi_dbm,
                            "body": canonical_json(r),
                            "body_sha256": "-",
                            "received_t": 0.0,
                            "late": False,
                        }
                        for r in recs
                    ],
                )
    return time.perf_counter() - start


def _writer(url: str, schema: str | None, kind: str, tag: str, start_at: float):
    from storelens.storage import Database

    db = Database(url, schema=schema)
    make = pos_batch if kind == "pos" else rfid_batch
    batches = [make(tag, b) for b in range(WRITER_BATCHES)]
    while time.time() < start_at:  # every writer starts at the same moment
        time.sleep(0.001)
    t0 = time.time()
    _ingest(db, kind, batches)
    t1 = time.time()
    db.close()
    return t0, t1


def _concurrent(url: str, schema: str | None, kind: str, tag: str) -> float:
    """Seconds from the first writer's start to the last one's finish."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    start_at = time.time() + 8.0  # long enough for every process to import and connect
    with ctx.Pool(WRITERS) as pool:
        spans = pool.starmap(
            _writer, [(url, schema, kind, f"{tag}w{w}", start_at) for w in range(WRITERS)]
        )
    return max(e for _, e in spans) - min(s for s, _ in spans)


def _analyze(db) -> None:  # type: ignore[no-untyped-def]
    """What autovacuum does within a minute on a live store: statistics for the planner (a
    table never analyzed gets plans for an empty table, and lookups scan)."""
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def _timing(passes: list[float], work: float) -> Timing:
    import numpy as np

    seconds = np.array(passes[1:])  # the first pass is the warm-up
    return Timing(
        float(np.median(seconds)), float(seconds.min()), float(seconds.max()), len(seconds)
    ).as_rate(work)


def _backends(tmp: Path) -> list[tuple[str, str, str | None]]:
    from sqlalchemy import create_engine, text

    out = [("SQLite", f"sqlite:///{tmp / 'bench.db'}", None)]
    url = os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        out.append(("PostgreSQL", url, f"bench_{uuid.uuid4().hex[:10]}"))
    except Exception:  # unreachable: its rows are left out, as the protocol says
        pass
    return out


def storage_suite(page: Path | None = None, progress=None) -> list[BenchRow]:  # type: ignore[no-untyped-def]
    from storelens.evaluation.bench.pages import write_page
    from storelens.settings import runs_dir
    from storelens.storage import Database

    progress = progress or (lambda *a: None)
    tmp = runs_dir() / "bench" / "storage" / uuid.uuid4().hex[:8]
    tmp.mkdir(parents=True, exist_ok=True)
    rows: list[BenchRow] = []
    for name, url, schema in _backends(tmp):
        db = Database(url, schema=schema)
        db.migrate()
        try:
            for kind, make, per_batch, unit in (
                ("pos", pos_batch, POS_BATCH * LINES_PER_TXN, "POS lines / s"),
                ("rfid", rfid_batch, RFID_BATCH, "RFID reads / s"),
            ):
                work = BATCHES * per_batch
                new, retry, raw, conc = [], [], [], []
                for p in range(REPEATS + 1):
                    progress(f"storage: {name} {kind} pass {p + 1}/{REPEATS + 1}")
                    batches = [make(f"p{p}", b) for b in range(BATCHES)]
                    new.append(_ingest(db, kind, batches))
                    retry.append(_ingest(db, kind, batches))
                    raw.append(_raw_insert(db, kind, [make(f"raw{p}", b) for b in range(BATCHES)]))
                    conc.append(_concurrent(url, schema, kind, f"c{p}"))
                    if p == 0 and db.dialect == "postgresql":
                        _analyze(db)
                size = f"{BATCHES} batches x {per_batch}"
                what = f"ingest {kind.upper()}"
                rows += [
                    BenchRow.timed(
                        "storage",
                        f"{what}, new records",
                        f"storelens {name}",
                        size,
                        _timing(new, work),
                        unit,
                    ),
                    BenchRow.timed(
                        "storage",
                        f"{what}, retried batch (all duplicates)",
                        f"storelens {name}",
                        size,
                        _timing(retry, work),
                        unit,
                    ),
                    BenchRow.timed(
                        "storage",
                        f"{what}, new records",
                        f"plain INSERT {name} (no idempotence)",
                        size,
                        _timing(raw, work),
                        unit,
                    ),
                    BenchRow.timed(
                        "storage",
                        f"{what}, {WRITERS} concurrent writers",
                        f"storelens {name}",
                        f"{WRITERS} x {WRITER_BATCHES} batches x {per_batch}",
                        _timing(conc, WRITERS * WRITER_BATCHES * per_batch),
                        unit,
                    ),
                ]
        finally:
            if schema:
                db.drop_schema()
            db.close()
    write_page("storage", rows, __doc__ or "", page)
    return rows
