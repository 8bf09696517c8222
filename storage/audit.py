"""The audit log: every view of a session's evidence and every review action, by key — who,
when, what. Appended in its own transaction before the answer goes out; never changed."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, select

from storelens.storage.database import Database
from storelens.storage.tables import AuditRow

ACTIONS = ("view_session", "view_evidence", "review")


@dataclass(frozen=True)
class AuditEntry:
    entry_no: int
    t: float
    key_id: str
    store_id: str
    action: str
    target: str


def record_access(
    db: Database, *, key_id: str, store_id: str, action: str, target: str, t: float | None = None
) -> None:
    if action not in ACTIONS:
        raise ValueError(f"audit action {action!r}: one of {ACTIONS}")
    with db.write() as conn:
        conn.execute(
            AuditRow.__table__.insert().values(
                t=time.time() if t is None else t,
                key_id=key_id,
                store_id=store_id,
                action=action,
                target=target,
            )
        )


def audit_entries(conn: Connection, store_id: str, *, limit: int = 1000) -> list[AuditEntry]:
    """The store's audit entries, oldest first."""
    a = AuditRow.__table__
    rows = conn.execute(
        select(a).where(a.c.store_id == store_id).order_by(a.c.entry_no).limit(limit)
    ).mappings()
    return [AuditEntry(**r) for r in rows]
