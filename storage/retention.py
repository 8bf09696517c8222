"""Retention: delete what is older than the store's retention period — sessions with everything
hung on them (revisions, shoppers, baskets and their lines, alerts, lifecycle, reviews, evidence
frames), shelf events, floor paths, and settled webhooks — and nothing else.

A session is old when it ended before the cutoff (an open session: when it entered). POS
transactions and RFID reads stay (they are the store's own financial records, kept under its
own rules), and so do the audit log and API keys: who looked at what outlives what was looked
at. `purge` runs in one transaction; it is the only code that deletes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Table, delete, func, select

from storelens.storage.database import Database, StorageError
from storelens.storage.tables import (
    AlertRow,
    BasketLineRow,
    BasketRow,
    EvidenceFrameRow,
    SessionLifecycleRow,
    SessionReviewRow,
    SessionRow,
    SessionShopperRow,
    ShelfEventRow,
    ShopperPathRow,
    WebhookOutboxRow,
)

_CHUNK = 500
_BY_SESSION: tuple[Table, ...] = tuple(
    row.__table__
    for row in (
        SessionShopperRow,
        BasketLineRow,
        BasketRow,
        AlertRow,
        EvidenceFrameRow,
        SessionReviewRow,
        SessionLifecycleRow,
        SessionRow,
    )
)


@dataclass
class RetentionReport:
    cutoff_t: float
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def purge(
    db: Database,
    *,
    older_than_s: float,
    store_id: str | None = None,
    now: float | None = None,
) -> RetentionReport:
    """Delete what ended more than `older_than_s` ago (in one store, or every store)."""
    if not older_than_s > 0:
        raise StorageError(f"retention older_than_s={older_than_s}: give a positive period")
    cutoff = (time.time() if now is None else now) - older_than_s
    report = RetentionReport(cutoff)

    def scoped(table: Table, *where):  # type: ignore[no-untyped-def]
        if store_id is not None:
            where = (*where, table.c.store_id == store_id)
        return where

    s = SessionRow.__table__
    with db.write() as conn:
        old = sorted(
            set(
                conn.execute(
                    select(s.c.session_id).where(
                        *scoped(s, s.c.is_current, func.coalesce(s.c.exit_t, s.c.enter_t) < cutoff)
                    )
                ).scalars()
            )
        )
        for table in _BY_SESSION:
            n = 0
            for lo in range(0, len(old), _CHUNK):
                n += conn.execute(
                    delete(table).where(
                        *scoped(table, table.c.session_id.in_(old[lo : lo + _CHUNK]))
                    )
                ).rowcount
            report.deleted[table.name] = n
        ev, p, o = ShelfEventRow.__table__, ShopperPathRow.__table__, WebhookOutboxRow.__table__
        report.deleted[ev.name] = conn.execute(
            delete(ev).where(*scoped(ev, ev.c.t < cutoff))
        ).rowcount
        report.deleted[p.name] = conn.execute(delete(p).where(*scoped(p, p.c.t1 < cutoff))).rowcount
        report.deleted[o.name] = conn.execute(
            delete(o).where(*scoped(o, o.c.state != "pending", o.c.created_t < cutoff))
        ).rowcount
    return report
