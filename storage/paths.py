"""Shoppers' floor paths in storage: `save_paths` keeps each shopper's path sampled down to
`PATH_HZ` in stretches of `STRETCH_S`, and `session_path` reads a session's path back (its
shoppers between its enter and exit times) for the API's floor-plan view. Saving the same
paths again stores nothing twice; saving them again as they grow (a live worker saves the paths
so far every few seconds) extends each stretch it had stored."""

from __future__ import annotations

import json
from typing import Protocol

import numpy as np
from sqlalchemy import Connection, select

from storelens.records import Session
from storelens.storage.database import Database, upsert_insert
from storelens.storage.tables import ShopperPathRow

PATH_HZ = 2.0
STRETCH_S = 60.0


class Paths(Protocol):
    """Floor samples sorted by shopper then time (`storelens.attribution.FloorPaths`)."""

    shopper_id: np.ndarray  # (N,) str
    t: np.ndarray  # (N,) seconds
    xy: np.ndarray  # (N, 2) metres

    def __len__(self) -> int: ...


def _insert_or_extend(conn: Connection):  # type: ignore[no-untyped-def]
    """Insert a stretch; one stored already is replaced only by a longer one (same start)."""
    table = ShopperPathRow.__table__
    stmt = upsert_insert(conn, table)
    return stmt.on_conflict_do_update(
        index_elements=["store_id", "shopper_id", "t0"],
        set_={"t1": stmt.excluded.t1, "points": stmt.excluded.points},
        where=table.c.t1 < stmt.excluded.t1,
    )


def save_paths(db: Database, store_id: str, paths: Paths) -> int:
    """Store `paths` (thinned to `PATH_HZ`); returns the stretches written."""
    if not len(paths):
        return 0
    slot = np.floor(paths.t * PATH_HZ)
    keep = np.ones(len(paths), bool)
    keep[1:] = (paths.shopper_id[1:] != paths.shopper_id[:-1]) | (slot[1:] != slot[:-1])
    sid, t, xy = paths.shopper_id[keep], paths.t[keep], paths.xy[keep]
    stretch = np.floor(t / STRETCH_S)
    cut = np.flatnonzero((sid[1:] != sid[:-1]) | (stretch[1:] != stretch[:-1])) + 1
    rows = []
    for lo, hi in zip(np.r_[0, cut], np.r_[cut, len(t)], strict=True):
        pts = np.column_stack([t[lo:hi], xy[lo:hi]]).round(3).tolist()
        rows.append(
            {
                "store_id": store_id,
                "shopper_id": str(sid[lo]),
                "t0": float(t[lo]),
                "t1": float(t[hi - 1]),
                "points": json.dumps(pts, separators=(",", ":")),
            }
        )
    with db.write() as conn:
        stmt = _insert_or_extend(conn)
        for i in range(0, len(rows), 500):
            conn.execute(stmt, rows[i : i + 500])
    return len(rows)


def session_path(conn: Connection, session: Session) -> dict[str, list[list[float]]]:
    """Per shopper of `session`: `[[t, x, y], …]` between its enter and exit times."""
    p = ShopperPathRow.__table__
    end = session.exit_t if session.exit_t is not None else float("inf")
    query = select(p.c.shopper_id, p.c.points).where(
        p.c.store_id == session.store_id,
        p.c.shopper_id.in_(session.shopper_ids),
        p.c.t1 >= session.enter_t,
    )
    if session.exit_t is not None:
        query = query.where(p.c.t0 <= session.exit_t)
    out: dict[str, list[list[float]]] = {s: [] for s in session.shopper_ids}
    for shopper, points in conn.execute(query.order_by(p.c.shopper_id, p.c.t0)):
        out[shopper] += [q for q in json.loads(points) if session.enter_t <= q[0] <= end]
    return out
