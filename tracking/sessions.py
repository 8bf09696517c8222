"""Sessions: each person's visit from the entrance to the exit, and the parties that shop
together, online, from the global shopper ids of `shoppers.ShopperTracker`.

    sessions = SessionTracker(layout, shoppers)      # shoppers: the pipeline's ShopperTracker
    closed = sessions.update(t, step)                # each step's ShopperStep → sessions closed
    closed += sessions.finish()                      # the end of the run: the rest

The shopper tracker's ids break where a person is lost for longer than it waits, and two
cameras' views of one person can stay two ids; a session must not break with them. So this
stage keeps its own, coarser identity — a **visitor** per person who came in — built from
what is true of a store:

- **A box must last.** A shopper counts once it has been seen for `settle_s`: the detector's
  short-lived false positives never do. Its door and enter time are where and when it was
  first seen.
- **People come in through a door.** A new shopper is first matched to the open visitors (a
  one-to-one assignment on floor distance): within `reattach_m` of where a visitor was last
  seen, plus `walk_mps` for each second it has been unseen (at most `reattach_walk_m`), never
  one the shopper tracker holds apart from it (one camera saw both at once), walkers before
  visitors that never moved. First seen within `door_m` of an entrance (`in` or `both`), only
  a visitor in view there can be it; otherwise it is a new visitor who entered there. First
  seen anywhere else and matching nobody, it is left out (`unexplained`: nobody came in),
  except in the run's first `start_grace_s`, when people were already inside.
- **People walk.** A visitor that never gets `min_travel_m` from where it was first seen is a
  box that stood still (a false positive on a display): it makes no session (`dropped`).
- **Parties come in together.** Visitors who enter through the same door within `party_s` of
  each other and stay within `party_m` of each other (mean over their first `party_window_s`)
  are one party: one session with several shoppers.
- **People leave.** A visitor in for `min_visit_s` and unseen for `exit_grace_s` after being
  seen within `door_m` of an exit (`out` or `both`) has left through it; one unseen for
  `close_after_s` anywhere was lost. A session closes when all of its visitors have: its
  `ObservedSession` record (enter and exit times and doors, dwell per shelf, the
  shopper-tracker ids behind each visitor) is returned then, once, with the time it was
  decided.

Merges of the shopper tracker fold the younger shopper's visitor into the older one's. Paths
(`paths()`) are sampled every `sample_s` on one clock for all visitors. Only positions are
kept, nothing of how anyone looks.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.optimize import linear_sum_assignment

from storelens.records import ObservedSession

if TYPE_CHECKING:
    from storelens.layout import StoreLayout
    from storelens.revision import Provenance
    from storelens.tracking.shoppers import ShopperStep, ShopperTracker

NO_DOOR = -1


@dataclass(frozen=True)
class SessionConfig:
    door_m: float = 1.5
    settle_s: float = 1.0
    start_grace_s: float = 5.0
    reattach_m: float = 2.0
    walk_mps: float = 1.2
    reattach_walk_m: float = 4.0
    exit_grace_s: float = 5.0
    close_after_s: float = 30.0
    party_s: float = 4.0
    party_m: float = 1.5
    party_window_s: float = 8.0
    min_travel_m: float = 3.0
    min_visit_s: float = 10.0
    shelf_reach_m: float = 1.0
    sample_s: float = 0.5


def visitor_name(visitor: int) -> str:
    return f"sh{visitor + 1:05d}"


def _distance_to_polygons(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """(N, P) distance of each point to each shapely polygon (0 inside)."""
    return shapely.distance(polygons[None, :], shapely.points(points)[:, None])


def _group_mean(labels: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct labels and the mean of the (N,2) values of each."""
    groups, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(groups), values.shape[1]))
    np.add.at(sums, inverse, values)
    return groups, sums / np.bincount(inverse, minlength=len(groups))[:, None]


class SessionTracker:
    """Visitors and sessions from global shopper ids (see the module docstring)."""

    def __init__(
        self,
        layout: StoreLayout,
        shoppers: ShopperTracker,
        config: SessionConfig | None = None,
        provenance: Provenance | None = None,
    ) -> None:
        self.layout = layout
        self.shoppers = shoppers
        self.config = config or SessionConfig()
        self.provenance = provenance
        doors = layout.entrances
        self._doors = np.array([shapely.Polygon(e.polygon) for e in doors], dtype=object)
        self._door_in = np.array([e.direction in ("in", "both") for e in doors])
        self._door_out = np.array([e.direction in ("out", "both") for e in doors])
        self._shelves = np.array([shapely.Polygon(s.polygon) for s in layout.shelves], dtype=object)
        self._t0: float | None = None
        self._seen_corrections = 0
        self.dropped = 0  # visitors that never walked `min_travel_m`: not people, no session
        self._visitor_of = np.zeros(0, np.int64)  # shopper id → visitor (-1: none yet)
        self._unexplained = np.zeros(0, bool)  # appeared inside with nobody it could be
        self._shopper_first_t = np.zeros(0)
        self._shopper_first_xy = np.zeros((0, 2))
        self._shoppers_of: list[set[int]] = []
        # visitors, one row each
        self._enter_t = np.zeros(0)
        self._enter_door = np.zeros(0, np.int64)
        self._last_t = np.zeros(0)
        self._last_xy = np.zeros((0, 2))
        self._first_xy = np.zeros((0, 2))
        self._travel = np.zeros(0)  # farthest from where the visitor was first seen
        self._dwell_s = np.zeros((0, len(layout.shelves)))  # seconds within reach of each shelf
        self._alias = np.zeros(0, np.int64)
        self._closed = np.zeros(0, bool)
        self._session = np.zeros(0, np.int64)  # -1 until the party is decided
        # sessions: their visitors; emitted ones
        self._members: list[list[int]] = []
        self._emitted: list[bool] = []
        # path samples
        self._samples: list[tuple[float, np.ndarray, np.ndarray]] = []
        self._sample_t: list[float] = []
        self._last_sample = -np.inf

    # ------------------------------------------------------------------ queries
    def paths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(visitor names (N,), t (N,), xy (N,2)) of every path sample so far, merges applied."""
        if not self._samples:
            return np.array([], str), np.zeros(0), np.zeros((0, 2))
        t = np.concatenate([np.full(len(v), s) for s, v, _ in self._samples])
        visitors = self._alias[np.concatenate([v for _, v, _ in self._samples])]
        xy = np.concatenate([p for _, _, p in self._samples])
        names = np.array([visitor_name(v) for v in range(len(self._alias))])
        return names[visitors] if len(names) else np.array([], str), t, xy

    def visitor_of(self, shopper: np.ndarray) -> np.ndarray:
        """The visitor (resolved) each global shopper id belongs to, -1 where none."""
        shopper = np.asarray(shopper, np.int64)
        out = np.full(len(shopper), -1)
        known = (shopper >= 0) & (shopper < len(self._visitor_of))
        v = self._visitor_of[shopper[known]]
        found = np.flatnonzero(known)[v >= 0]
        out[found] = self._alias[v[v >= 0]]
        return out

    # ------------------------------------------------------------------ update
    def update(self, t: float, step: ShopperStep) -> list[ObservedSession]:
        if self._t0 is None:
            self._t0 = t
        self._fold_merges()
        placed = step.primary & np.isfinite(step.floor[:, 0])
        everyone, at = np.unique(step.shopper_id[placed], return_index=True)
        self._note_first(t, everyone, step.floor[placed][at])
        ok = placed & (t - self.shoppers.first_seen(step.shopper_id) >= self.config.settle_s)
        sids, xy = _group_mean(step.shopper_id[ok], step.floor[ok])
        visitor = self.visitor_of(sids)
        new = np.flatnonzero((visitor < 0) & ~self._unexplained[sids])
        if len(new):
            visitor[new] = self._place(
                t,
                sids[new],
                xy[new],
                self._shopper_first_t[sids[new]],
                self._shopper_first_xy[sids[new]],
            )
            self._unexplained[sids[new[visitor[new] < 0]]] = True
            placed_new = new[visitor[new] >= 0]
            self._visitor_of[sids[placed_new]] = visitor[placed_new]
            for s, v in zip(sids[placed_new].tolist(), visitor[placed_new].tolist(), strict=True):
                self._shoppers_of[v].add(s)
        keep = visitor >= 0
        visitor, xy = visitor[keep], xy[keep]
        # one position per visitor this step: the mean of its shoppers'
        vis, pos = _group_mean(visitor, xy)
        self._last_t[vis] = t
        self._last_xy[vis] = pos
        away = np.linalg.norm(pos - self._first_xy[vis], axis=1)
        self._travel[vis] = np.maximum(self._travel[vis], away)
        if len(vis) and t - self._last_sample >= self.config.sample_s:
            self._samples.append((t, vis, pos))
            if len(self._shelves):
                near = _distance_to_polygons(pos, self._shelves) <= self.config.shelf_reach_m
                self._dwell_s[vis] += near * self.config.sample_s
            self._sample_t.append(t)
            self._last_sample = t
        self._decide_parties(t)
        return self._close(t)

    def finish(self) -> list[ObservedSession]:
        """Close every session still open (its visitors are inside, or lost, at the end)."""
        t_end = float(self._last_t.max()) if len(self._last_t) else 0.0
        self._decide_parties(np.inf)
        self._closed[:] = True
        return self._emit(t_end, at_end=True)

    # ------------------------------------------------------------------ visitors
    def _note_first(self, t: float, sids: np.ndarray, xy: np.ndarray) -> None:
        """Where and when each shopper id was first seen (its door, its enter time)."""
        if len(sids) and sids.max() >= len(self._visitor_of):
            grow = sids.max() + 1 - len(self._visitor_of)
            self._visitor_of = np.concatenate([self._visitor_of, np.full(grow, -1, np.int64)])
            self._unexplained = np.concatenate([self._unexplained, np.zeros(grow, bool)])
            self._shopper_first_t = np.concatenate([self._shopper_first_t, np.full(grow, np.nan)])
            self._shopper_first_xy = np.concatenate(
                [self._shopper_first_xy, np.full((grow, 2), np.nan)]
            )
        fresh = sids[np.isnan(self._shopper_first_t[sids])]
        self._shopper_first_t[fresh] = t
        self._shopper_first_xy[fresh] = xy[np.isin(sids, fresh)]

    def _near_doors(self, xy: np.ndarray, which: np.ndarray) -> np.ndarray:
        """(N,) index of the nearest door of kind `which` within `door_m`, else NO_DOOR."""
        if not which.any() or not len(xy):
            return np.full(len(xy), NO_DOOR)
        dist = _distance_to_polygons(xy, self._doors)
        dist[:, ~which] = np.inf
        best = dist.argmin(axis=1)
        return np.where(dist[np.arange(len(xy)), best] <= self.config.door_m, best, NO_DOOR)

    def _place(
        self, t: float, sids: np.ndarray, xy: np.ndarray, first_t: np.ndarray, first_xy: np.ndarray
    ) -> np.ndarray:
        """Visitors for shoppers counted for the first time (see the module docstring)."""
        cfg = self.config
        assert self._t0 is not None
        out = np.full(len(sids), -1)
        door = self._near_doors(first_xy, self._door_in)
        open_ = np.flatnonzero((self._alias == np.arange(len(self._alias))) & ~self._closed)
        if len(open_):
            gap = np.clip(t - self._last_t[open_], 0.0, cfg.close_after_s)
            cost = np.linalg.norm(xy[:, None] - self._last_xy[open_][None], axis=2)
            walked = np.minimum(cfg.walk_mps * gap, cfg.reattach_walk_m)
            allowed = cost <= (cfg.reattach_m + walked)[None]
            # at a door someone new comes in: only a visitor in view right there can be it
            allowed[door != NO_DOOR] &= (gap <= cfg.settle_s)[None]
            for r, s in enumerate(sids.tolist()):  # births only: a few a second
                for c in np.flatnonzero(allowed[r]).tolist():
                    allowed[r, c] = not self._apart_from(s, self._shoppers_of[open_[c]])
            # someone who has walked into the store is likelier than a box that never moved
            still = self._travel[open_] < cfg.min_travel_m
            cost = cost + still[None] * cfg.reattach_m
            r, c = linear_sum_assignment(np.where(allowed, cost, 1e6))
            keep = allowed[r, c]
            out[r[keep]] = open_[c[keep]]
        inside = (door == NO_DOOR) & (first_t - self._t0 > cfg.start_grace_s)
        fresh = np.flatnonzero((out < 0) & ~inside)  # in through a door, or in from the start
        # a shopper that appears inside with nobody it can be is left out: no one came in
        first = len(self._alias)
        n = len(fresh)
        out[fresh] = first + np.arange(n)
        self._enter_t = np.concatenate([self._enter_t, first_t[fresh]])
        self._enter_door = np.concatenate([self._enter_door, door[fresh]])
        self._last_t = np.concatenate([self._last_t, np.full(n, t)])
        self._last_xy = np.concatenate([self._last_xy, xy[fresh]])
        self._first_xy = np.concatenate([self._first_xy, first_xy[fresh]])
        self._travel = np.concatenate([self._travel, np.zeros(n)])
        self._dwell_s = np.concatenate([self._dwell_s, np.zeros((n, len(self._shelves)))])
        self._alias = np.concatenate([self._alias, first + np.arange(n, dtype=np.int64)])
        self._closed = np.concatenate([self._closed, np.zeros(n, bool)])
        self._session = np.concatenate([self._session, np.full(n, -1, np.int64)])
        self._shoppers_of.extend(set() for _ in range(n))
        return out

    def _apart_from(self, shopper: int, others: set[int]) -> bool:
        apart = self.shoppers.apart
        return any((min(shopper, o), max(shopper, o)) in apart for o in others)

    def _fold_merges(self) -> None:
        """A merge of two shoppers with different visitors: the younger visitor is the older."""
        for c in self.shoppers.corrections[self._seen_corrections :]:
            if c.kind != "merge":
                continue
            pair = self.visitor_of(np.array([c.kept, c.removed]))
            if (pair < 0).any() or pair[0] == pair[1]:
                continue
            old, young = sorted(pair.tolist(), key=lambda v: (self._enter_t[v], v))
            if self._session[young] >= 0 and self._session[young] != self._session[old]:
                continue  # decided into another party already: the session stands
            self._alias[self._alias == young] = old
            self._shoppers_of[old] |= self._shoppers_of[young]
            self._dwell_s[old] += self._dwell_s[young]
            self._last_t[old] = max(self._last_t[old], self._last_t[young])
            self._enter_t[old] = min(self._enter_t[old], self._enter_t[young])
            if self._enter_door[old] == NO_DOOR:
                self._enter_door[old] = self._enter_door[young]
            self._closed[young] = True
            members = self._members[self._session[young]] if self._session[young] >= 0 else []
            if young in members:
                members.remove(young)
        self._seen_corrections = len(self.shoppers.corrections)

    # ------------------------------------------------------------------ parties
    def _decide_parties(self, t: float) -> None:
        cfg = self.config
        ids = np.arange(len(self._alias))
        due = np.flatnonzero(
            (self._alias == ids) & (self._session < 0) & (self._enter_t + cfg.party_window_s <= t)
        )
        for v in due.tolist():  # once per visitor
            self._session[v] = self._party_of(v)
            if self._session[v] < 0:
                self._session[v] = len(self._members)
                self._members.append([])
                self._emitted.append(False)
            self._members[self._session[v]].append(v)

    def _party_of(self, v: int) -> int:
        """The session of a visitor that came in with `v` and kept beside it, else -1."""
        cfg = self.config
        if self._enter_door[v] == NO_DOOR:
            return -1
        ids = np.arange(len(self._alias))
        mates = np.flatnonzero(
            (self._alias == ids)
            & (ids != v)
            & (self._session >= 0)
            & (self._enter_door == self._enter_door[v])
            & (np.abs(self._enter_t - self._enter_t[v]) <= cfg.party_s)
        )
        best, best_gap = -1, cfg.party_m
        for m in mates.tolist():  # the few who came in within seconds
            if self._emitted[self._session[m]]:
                continue
            gap = self._mean_gap(v, m, self._enter_t[v], self._enter_t[v] + cfg.party_window_s)
            if gap <= best_gap:
                best, best_gap = int(self._session[m]), gap
        return best

    def _mean_gap(self, a: int, b: int, t0: float, t1: float) -> float:
        """Mean distance of two visitors at the samples where both were seen in [t0, t1]."""
        gaps = []
        start = bisect.bisect_left(self._sample_t, t0)
        for s, vis, pos in self._samples[start:]:  # samples of a few seconds only
            if s > t1:
                break
            vis = self._alias[vis]
            ia, ib = np.flatnonzero(vis == a), np.flatnonzero(vis == b)
            if len(ia) and len(ib):
                gaps.append(float(np.linalg.norm(pos[ia[0]] - pos[ib[0]])))
        return float(np.mean(gaps)) if gaps else np.inf

    # ------------------------------------------------------------------ closing
    def _close(self, t: float) -> list[ObservedSession]:
        cfg = self.config
        open_ = np.flatnonzero(~self._closed)
        unseen = t - self._last_t[open_]
        left = self._near_doors(self._last_xy[open_], self._door_out) != NO_DOOR
        stayed = self._last_t[open_] - self._enter_t[open_] >= cfg.min_visit_s
        done = (left & stayed & (unseen > cfg.exit_grace_s)) | (unseen > cfg.close_after_s)
        self._closed[open_[done]] = True
        return self._emit(t, at_end=False)

    def _emit(self, t: float, at_end: bool) -> list[ObservedSession]:
        out = []
        for s, members in enumerate(self._members):
            if self._emitted[s] or not members or not self._closed[members].all():
                continue
            self._emitted[s] = True
            walked = [m for m in members if self._travel[m] >= self.config.min_travel_m]
            if walked:
                out.append(self._record(walked, t, at_end))
            self.dropped += len(members) - len(walked)
        return out

    def _record(self, members: list[int], t: float, at_end: bool) -> ObservedSession:
        v = np.asarray(sorted(members, key=lambda m: (self._enter_t[m], m)))
        last = v[np.argmax(self._last_t[v])]  # the last of the party seen
        exit_door = int(self._near_doors(self._last_xy[last : last + 1], self._door_out)[0])
        left = exit_door != NO_DOOR
        gone = left or not at_end  # at the end of a run, someone not at an exit is still in
        enter_door = self._enter_door[v[0]]
        doors = self.layout.entrances
        dwell = self._dwell_s[v].sum(axis=0)
        return ObservedSession(
            store_id=self.layout.store_id,
            shopper_ids=[visitor_name(int(m)) for m in v],
            enter_t=float(self._enter_t[v].min()),
            exit_t=float(self._last_t[last]) if gone else None,
            entrance_id=doors[enter_door].entrance_id if enter_door != NO_DOOR else None,
            exit_id=doors[exit_door].entrance_id if left else None,
            shopper_tracks=[sorted(self._shoppers_of[int(m)]) for m in v],
            dwell_s={
                shelf.shelf_id: round(float(d), 1)
                for shelf, d in zip(self.layout.shelves, dwell, strict=True)
                if d > 0
            },
            decided_at=max(t, float(self._last_t[v].max())),
            provenance=self.provenance,
        )
