"""Idempotent ingestion of what registers and gates report: POS transactions and RFID reads.

A batch is a list of records (JSON-like mappings or the core records themselves). The rules:

- **Keyed by id.** A record whose `(store_id, txn_id)` / `(store_id, read_id)` is already stored
  with the same body is a *duplicate* (a retry): skipped, counted, never stored twice.
- **Conflicts are refused.** The same id with a different body is an error naming the id: a
  register corrects a sale with a void or refund of its own id, never by re-sending it.
- **Bad records are reported, good ones kept.** Each refused record is reported by its index in
  the batch and its field (`RecordError`); every valid record of the batch is stored. (Refusing
  the whole batch would make one malformed line from a register block every sale after it.)
- **What is acknowledged is committed.** The batch is stored in one transaction; the report is
  returned only after the commit, so a writer killed mid-batch leaves none of it, and a retry
  of the batch stores it exactly once.
- **Late data is stored and flagged.** A record that arrives more than `horizon_s` after its
  own time `t` is stored with `late = true`; attribution does not re-run for it.

Each batch is one `INSERT ... ON CONFLICT DO NOTHING RETURNING` per chunk: new records cost
no lookup, and only the ids the insert skipped — stored before, or by a concurrent writer a
moment earlier — are read back to tell a retry (same body) from a conflict.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Table, select

from storelens.records import PosTransaction, RfidRead
from storelens.revision import canonical_json
from storelens.storage.database import Database, upsert_insert
from storelens.storage.tables import PosLineRow, PosTransactionRow, RfidReadRow

DEFAULT_HORIZON_S = 24 * 3600.0  # the attribution's late-data horizon (AttributionConfig)
_CHUNK = 500  # ids per IN (...) lookup


@dataclass(frozen=True)
class RecordError:
    """One refused record: its position in the batch, the field at fault, what is wrong."""

    index: int
    field: str
    message: str
    record_id: str | None = None
    conflict: bool = False  # the id was sent before with another body (else: malformed)

    def __str__(self) -> str:
        rid = f" ({self.record_id})" if self.record_id else ""
        return f"record {self.index}{rid}: {self.field}: {self.message}"


@dataclass
class IngestReport:
    """What one batch did: ids stored now, ids already stored (retries), late ids among the
    stored, and the refused records."""

    kind: str
    received: int = 0
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = (
            f"{self.kind}: {self.received} received, {len(self.accepted)} stored, "
            f"{len(self.duplicates)} already stored, {len(self.late)} late, "
            f"{len(self.errors)} refused"
        )
        return "\n".join([text, *(f"  {e}" for e in self.errors)])


@dataclass(frozen=True)
class _Kind:
    name: str
    model: type[BaseModel]
    id_field: str
    table: Table


POS = _Kind("pos", PosTransaction, "txn_id", PosTransactionRow.__table__)
RFID = _Kind("rfid", RfidRead, "read_id", RfidReadRow.__table__)


def ingest_pos(
    db: Database,
    records: Sequence[Mapping[str, Any] | PosTransaction],
    *,
    store_id: str | None = None,
    received_t: float | None = None,
    horizon_s: float = DEFAULT_HORIZON_S,
) -> IngestReport:
    """Store a batch of POS transactions (and their lines); see the module docstring.

    `store_id`, when given, is the store the batch was sent to: a record of another store is
    refused. `received_t` defaults to now.
    """
    return _ingest(db, POS, records, store_id, received_t, horizon_s)


def ingest_rfid(
    db: Database,
    records: Sequence[Mapping[str, Any] | RfidRead],
    *,
    store_id: str | None = None,
    received_t: float | None = None,
    horizon_s: float = DEFAULT_HORIZON_S,
) -> IngestReport:
    """Store a batch of exit-gate reads; see the module docstring."""
    return _ingest(db, RFID, records, store_id, received_t, horizon_s)


def _validate(
    kind: _Kind, records: Sequence[Any], store_id: str | None
) -> tuple[list[tuple[int, BaseModel]], list[RecordError]]:
    good: list[tuple[int, BaseModel]] = []
    errors: list[RecordError] = []
    for i, item in enumerate(records):
        rid = item.get(kind.id_field) if isinstance(item, Mapping) else None
        try:
            if isinstance(item, kind.model):
                rec = item
            elif isinstance(item, Mapping):
                rec = kind.model.model_validate(item)
            else:
                errors.append(
                    RecordError(i, "<record>", f"expected an object, got {type(item).__name__}")
                )
                continue
        except ValidationError as err:
            for e in err.errors():
                loc = ".".join(str(p) for p in e["loc"]) or "<record>"
                msg = e["msg"].removeprefix("Value error, ")
                errors.append(RecordError(i, loc, _with_input(msg, e), _str_or_none(rid)))
            continue
        if store_id is not None and rec.store_id != store_id:
            errors.append(
                RecordError(
                    i,
                    "store_id",
                    f"{rec.store_id!r} was sent to store {store_id!r}",
                    getattr(rec, kind.id_field),
                )
            )
            continue
        good.append((i, rec))
    return good, errors


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _sha(rec: BaseModel) -> tuple[str, str]:
    body = canonical_json(rec)
    return body, hashlib.sha256(body.encode()).hexdigest()


def _stored_hashes(conn: Connection, kind: _Kind, keys: list[tuple[str, str]]) -> dict:
    """(store_id, id) → body hash of the stored ones among `keys` (one IN list per store: a
    row-value IN is not served by the primary key's index on PostgreSQL)."""
    t = kind.table
    id_col = t.c[kind.id_field]
    by_store: dict[str, list[str]] = {}
    for store, rid in keys:
        by_store.setdefault(store, []).append(rid)
    out: dict[tuple[str, str], str] = {}
    for store, ids in by_store.items():
        for lo in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                select(id_col, t.c.body_sha256).where(
                    t.c.store_id == store, id_col.in_(ids[lo : lo + _CHUNK])
                )
            )
            out.update({(store, r[0]): r[1] for r in rows})
    return out


def _conflict(kind: _Kind, index: int, rid: str, detail: str) -> RecordError:
    fix = (
        "a sale is corrected by a void or refund with its own txn_id"
        if kind is POS
        else "a read is never changed once sent"
    )
    return RecordError(
        index, kind.id_field, f"{kind.id_field} {rid!r} {detail}; {fix}", rid, conflict=True
    )


def _insert_rows(conn: Connection, kind: _Kind, rows: list[dict]) -> set[tuple[str, str]]:
    """Insert, skipping ids already there; the keys actually inserted."""
    if not rows:
        return set()
    t = kind.table
    id_col = t.c[kind.id_field]
    stmt = (
        upsert_insert(conn, t)
        .on_conflict_do_nothing(index_elements=["store_id", kind.id_field])
        .returning(t.c.store_id, id_col)
    )
    inserted: set[tuple[str, str]] = set()
    for lo in range(0, len(rows), _CHUNK):
        result = conn.execute(stmt, rows[lo : lo + _CHUNK])
        inserted.update((r[0], r[1]) for r in result)
    return inserted


def _ingest(
    db: Database,
    kind: _Kind,
    records: Sequence[Any],
    store_id: str | None,
    received_t: float | None,
    horizon_s: float,
) -> IngestReport:
    if isinstance(records, Mapping | str | bytes) or not isinstance(records, Sequence):
        raise TypeError(f"{kind.name} ingestion takes a list of records, got {type(records)}")
    now = time.time() if received_t is None else received_t
    report = IngestReport(kind.name, received=len(records))
    good, report.errors = _validate(kind, records, store_id)

    first: dict[tuple[str, str], tuple[int, BaseModel, str, str]] = {}
    duplicate_in_batch: list[str] = []
    for i, rec in good:
        rid = getattr(rec, kind.id_field)
        key = (rec.store_id, rid)
        body, sha = _sha(rec)
        if key in first:
            if first[key][3] == sha:
                duplicate_in_batch.append(rid)
            else:
                report.errors.append(
                    _conflict(
                        kind,
                        i,
                        rid,
                        f"appears earlier in this batch (record "
                        f"{first[key][0]}) with a different body",
                    )
                )
            continue
        first[key] = (i, rec, body, sha)

    with db.write() as conn:
        # insert first: a new record costs no lookup; only the ids the insert skipped (stored
        # before, or by another writer a moment ago) are read back to tell retry from conflict
        fresh = first
        rows = [
            _row(kind, rec, body, sha, now, horizon_s) for (_, rec, body, sha) in fresh.values()
        ]
        inserted = _insert_rows(conn, kind, rows)
        skipped = [k for k in fresh if k not in inserted]
        if skipped:
            stored = _stored_hashes(conn, kind, skipped)
            for key in skipped:
                i, _, _, sha = fresh[key]
                if stored.get(key) == sha:
                    report.duplicates.append(key[1])
                else:
                    report.errors.append(
                        _conflict(kind, i, key[1], "is already stored with a different body")
                    )
        if kind is POS:
            lines = [
                {
                    "store_id": rec.store_id,
                    "txn_id": rec.txn_id,
                    "line_no": n,
                    "sku": line.sku,
                    "qty": line.qty,
                    "unit_price": line.unit_price,
                }
                for key, (_, rec, _, _) in fresh.items()
                if key in inserted
                for n, line in enumerate(rec.lines)
            ]
            for lo in range(0, len(lines), _CHUNK):
                conn.execute(PosLineRow.__table__.insert(), lines[lo : lo + _CHUNK])
        for key, (_, rec, _, _) in fresh.items():
            if key in inserted:
                report.accepted.append(key[1])
                if now - rec.t > horizon_s:
                    report.late.append(key[1])
    report.duplicates.extend(duplicate_in_batch)
    report.errors.sort(key=lambda e: e.index)
    return report


def _row(kind: _Kind, rec: Any, body: str, sha: str, now: float, horizon_s: float) -> dict:
    common = {
        "store_id": rec.store_id,
        kind.id_field: getattr(rec, kind.id_field),
        "t": rec.t,
        "body": body,
        "body_sha256": sha,
        "received_t": now,
        "late": bool(now - rec.t > horizon_s),
    }
    if kind is POS:
        return {
            **common,
            "terminal_id": rec.terminal_id,
            "kind": rec.kind.value,
            "refers_to": rec.refers_to,
            "total": rec.total,
        }
    return {
        **common,
        "reader_id": rec.reader_id,
        "epc": rec.epc,
        "sku": rec.sku,
        "rssi_dbm": rec.rssi_dbm,
    }


def _with_input(msg: str, error: Mapping[str, Any]) -> str:
    if "got" in msg or "input" not in error:
        return msg
    return f"{msg} (got {error['input']!r})"
