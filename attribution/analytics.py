"""The store's own questions, from attributed records: what is picked up and then not bought
(per SKU and per shelf zone), how long shoppers stay at each shelf, and per hour how many
sessions bought, how many lines went out unpaid and how many sessions a person must review.

Pure functions over core records (the SQL storage answers the same questions for the API):

- *picks*, *put-backs*: shelf events; *purchased*: paid units in the sessions' baskets
  (`paid` and `paid_unseen`); per shelf zone, a session's purchase of a SKU counts for a shelf
  up to the units of it the session picked there (so a purchase is never counted twice);
- *conversion* = purchased / picks (None where nothing was picked);
- *dwell*: seconds shoppers spent within `DWELL_MARGIN_M` of the shelf, per visiting session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from storelens.attribution.paths import FloorPaths
from storelens.layout import StoreLayout
from storelens.records import Alert, Basket, EventKind, LineStatus, Session, ShelfEvent

DWELL_MARGIN_M = 0.8  # standing this close to a shelf is shopping at it
_PAID = (LineStatus.PAID, LineStatus.PAID_UNSEEN)
_UNPAID = (LineStatus.UNPAID, LineStatus.RFID_EXIT_UNPAID)


@dataclass(frozen=True)
class Funnel:
    """Picks → purchases of one SKU or shelf zone."""

    key: str
    picks: int
    put_backs: int
    purchased: int
    dwell_s: float | None = None  # mean per visiting session (shelf zones with paths only)

    @property
    def conversion(self) -> float | None:
        return self.purchased / self.picks if self.picks else None


@dataclass(frozen=True)
class Hour:
    """One hour of the store (UTC, start at `t`)."""

    t: float
    sessions: int
    with_purchase: int
    unpaid_lines: int
    reviewed_sessions: int  # sessions with at least one alert raised

    @property
    def conversion(self) -> float | None:
        return self.with_purchase / self.sessions if self.sessions else None

    @property
    def reviews_per_1000(self) -> float | None:
        return 1000 * self.reviewed_sessions / self.sessions if self.sessions else None


def _session_of(sessions: Sequence[Session]) -> dict[str, str]:
    return {sh: s.session_id for s in sessions for sh in s.shopper_ids}


def _paid_by_session(baskets: Sequence[Basket]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in baskets:
        for ln in b.lines:
            if ln.status in _PAID:
                out[b.session_id][ln.sku] += ln.qty
    return out


def sku_funnels(events: Sequence[ShelfEvent], baskets: Sequence[Basket]) -> list[Funnel]:
    """Per SKU: picks, put-backs, purchased units; sorted by picks, most first."""
    picks: dict[str, int] = defaultdict(int)
    backs: dict[str, int] = defaultdict(int)
    for ev in events:
        (picks if ev.kind == EventKind.PICK else backs)[ev.sku] += ev.quantity
    bought: dict[str, int] = defaultdict(int)
    for per_sku in _paid_by_session(baskets).values():
        for sku, q in per_sku.items():
            bought[sku] += q
    keys = sorted(set(picks) | set(backs) | set(bought), key=lambda k: (-picks.get(k, 0), k))
    return [Funnel(k, picks.get(k, 0), backs.get(k, 0), bought.get(k, 0)) for k in keys]


def shelf_funnels(
    layout: StoreLayout,
    sessions: Sequence[Session],
    events: Sequence[ShelfEvent],
    baskets: Sequence[Basket],
    paths: FloorPaths | None = None,
) -> list[Funnel]:
    """Per shelf zone (shelf unit): picks, put-backs, purchases (see the module docstring) and,
    with floor paths, mean dwell per visiting session; in the layout's order."""
    owner = _session_of(sessions)
    paid = _paid_by_session(baskets)
    picks: dict[str, int] = defaultdict(int)
    backs: dict[str, int] = defaultdict(int)
    net: dict[tuple[str, str, str], int] = defaultdict(int)  # (session, shelf, sku) → units
    for ev in events:
        sign = 1 if ev.kind == EventKind.PICK else -1
        (picks if sign > 0 else backs)[ev.shelf_id] += ev.quantity
        sid = owner.get(ev.shopper_id)
        if sid is not None:
            net[(sid, ev.shelf_id, ev.sku)] += sign * ev.quantity
    bought: dict[str, int] = defaultdict(int)
    left: dict[tuple[str, str], int] = {  # purchases not yet counted for a shelf
        (sid, sku): q for sid, per_sku in paid.items() for sku, q in per_sku.items()
    }
    for (sid, shelf, sku), q in sorted(net.items()):
        take = min(max(q, 0), left.get((sid, sku), 0))
        if take:
            bought[shelf] += take
            left[(sid, sku)] -= take
    dwell: dict[str, float | None] = {}
    for shelf in layout.shelves:
        if paths is None or len(paths) == 0:
            dwell[shelf.shelf_id] = None
            continue
        visits = paths.zone_visits(shelf.polygon, DWELL_MARGIN_M)
        known = np.array([s in owner for s in visits.shopper_id.tolist()], bool)
        per_session: dict[str, float] = defaultdict(float)
        for sh, a, b in zip(
            visits.shopper_id[known].tolist(),
            visits.start[known].tolist(),
            visits.end[known].tolist(),
            strict=True,
        ):
            per_session[owner[sh]] += b - a
        dwell[shelf.shelf_id] = float(np.mean(list(per_session.values()))) if per_session else None
    return [
        Funnel(
            s.shelf_id,
            picks.get(s.shelf_id, 0),
            backs.get(s.shelf_id, 0),
            bought.get(s.shelf_id, 0),
            dwell[s.shelf_id],
        )
        for s in layout.shelves
    ]


def hourly(
    sessions: Sequence[Session], baskets: Sequence[Basket], alerts: Sequence[Alert]
) -> list[Hour]:
    """Per UTC hour of the sessions' entry: sessions, those that bought, unpaid lines and
    sessions raised for review. Open sessions (no basket yet) count as sessions only."""
    by_session = {b.session_id: b for b in baskets}
    reviewed = {a.session_id for a in alerts if not a.withdrawn}
    rows: dict[float, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for s in sessions:
        hour = float(np.floor(s.enter_t / 3600.0) * 3600.0)
        row = rows[hour]
        row[0] += 1
        basket = by_session.get(s.session_id)
        if basket is not None:
            row[1] += any(ln.status in _PAID for ln in basket.lines)
            row[2] += sum(ln.status in _UNPAID for ln in basket.lines)
        row[3] += s.session_id in reviewed
    return [Hour(t, *rows[t]) for t in sorted(rows)]


def pick_positions(
    sessions: Sequence[Session], events: Sequence[ShelfEvent], paths: FloorPaths
) -> np.ndarray:
    """(N,2) floor positions where shoppers stood when they picked (from their paths)."""
    picks = [e for e in events if e.kind == EventKind.PICK]
    if not picks or len(paths) == 0:
        return np.zeros((0, 2))
    order = np.lexsort((paths.t, paths.shopper_id))
    ids, ts, xy = paths.shopper_id[order], paths.t[order], paths.xy[order]
    keys = np.array([e.shopper_id for e in picks])
    when = np.array([e.t for e in picks])
    lo = np.searchsorted(ids, keys, side="left")
    hi = np.searchsorted(ids, keys, side="right")
    out = np.full((len(picks), 2), np.nan)
    for i in np.flatnonzero(hi > lo):  # one searchsorted per pick within its shopper's path
        j = lo[i] + np.searchsorted(ts[lo[i] : hi[i]], when[i])
        out[i] = xy[min(j, hi[i] - 1)]
    return out[np.isfinite(out).all(axis=1)]
