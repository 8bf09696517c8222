"""Hand episodes: a hand entering a shelf facing's volume and leaving it, online.

    detector = EpisodeDetector(facing_volumes(layout))
    done = detector.update(t, person_id, side, xyz)   # this instant's hands in 3-D
    done += detector.finish()                          # at the end of a run

An episode is one hand of one person (`person_id`, `side` 0 left / 1 right) inside one facing
(`storelens.facings`) from its first instant there (`t_start`) to its last (`t_end`). A hand
that leaves the facing, moves to another one, or goes unseen for more than `gap_s` closes it;
an unseen hand that comes back into the same facing within `gap_s` continues it (a wrist the
pose model drops for a frame or two). An episode is reported when it closes, so its first
answer comes `gap_s` after the hand left; the events stage turns an episode into a pick, a
put-back or a touch.

The state is a few arrays per open episode; `update` is vectorised over the hands of an instant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storelens.facings import REACH_M, FacingVolumes

GAP_S = 0.3


@dataclass(frozen=True)
class Episode:
    person_id: int
    side: int
    facing: int  # index into the detector's `FacingVolumes`
    shelf_id: str
    level: int
    slot: int
    sku: str  # the facing's planogram SKU
    t_start: float
    t_end: float
    instants: int  # how many instants the hand was seen inside


class EpisodeDetector:
    """Online episodes of every hand of a store (see the module docstring)."""

    def __init__(
        self, facings: FacingVolumes, gap_s: float = GAP_S, reach_m: float = REACH_M
    ) -> None:
        if gap_s < 0:
            raise ValueError(f"gap_s: {gap_s} must be >= 0")
        self.facings, self.gap_s, self.reach_m = facings, gap_s, reach_m
        self._reset()

    def _reset(self) -> None:
        # open episodes, one row per hand key (2 * person + side), sorted by key
        self._key = np.zeros(0, np.int64)
        self._facing = np.zeros(0, np.int64)
        self._start = np.zeros(0)
        self._last = np.zeros(0)
        self._count = np.zeros(0, np.int64)

    def update(
        self, t: float, person_id: np.ndarray, side: np.ndarray, xyz: np.ndarray
    ) -> list[Episode]:
        """Advance to instant `t` with the hands seen now; return the episodes that closed."""
        person_id = np.asarray(person_id, np.int64)
        key = 2 * person_id + np.asarray(side, np.int64)
        facing = self.facings.containing(np.asarray(xyz, float).reshape(-1, 3), self.reach_m)
        inside = facing >= 0
        key, facing = key[inside], facing[inside]
        key, first = np.unique(key, return_index=True)  # one point per hand
        facing = facing[first]

        pos = np.searchsorted(self._key, key)
        pos_ok = np.minimum(pos, max(len(self._key) - 1, 0))
        known = (self._key[pos_ok] == key) if len(self._key) else np.zeros(len(key), bool)
        same = (
            known & (self._facing[pos_ok] == facing) & (t - self._last[pos_ok] <= self.gap_s)
            if len(self._key)
            else known
        )
        # open episodes continued now
        cont = pos_ok[same]
        self._last[cont] = t
        self._count[cont] += 1
        # an open episode closes when its hand is in another facing now, or unseen too long
        moved = np.zeros(len(self._key), bool)
        moved[pos_ok[known & ~same]] = True
        continued = np.zeros(len(self._key), bool)
        continued[cont] = True
        closing = moved | ((t - self._last > self.gap_s) & ~continued)
        done = self._episodes(closing)
        keep = ~closing
        # new episodes: hands in a facing with no open episode there
        new = ~same
        self._key = np.concatenate([self._key[keep], key[new]])
        self._facing = np.concatenate([self._facing[keep], facing[new]])
        self._start = np.concatenate([self._start[keep], np.full(new.sum(), t)])
        self._last = np.concatenate([self._last[keep], np.full(new.sum(), t)])
        self._count = np.concatenate([self._count[keep], np.ones(new.sum(), np.int64)])
        order = np.argsort(self._key, kind="stable")
        for name in ("_key", "_facing", "_start", "_last", "_count"):
            setattr(self, name, getattr(self, name)[order])
        return done

    def open_since(self, facing: int) -> float:
        """When the earliest hand now open in `facing` went in (inf when none is)."""
        mine = self._facing == facing
        return float(self._start[mine].min()) if mine.any() else float("inf")

    def finish(self) -> list[Episode]:
        """Close every open episode (the end of a run)."""
        done = self._episodes(np.ones(len(self._key), bool))
        self._reset()
        return done

    def _episodes(self, rows: np.ndarray) -> list[Episode]:
        f = self.facings
        idx = np.flatnonzero(rows)
        return [
            Episode(
                int(self._key[i] // 2),
                int(self._key[i] % 2),
                int(self._facing[i]),
                str(f.shelf_id[self._facing[i]]),
                int(f.level[self._facing[i]]),
                int(f.slot[self._facing[i]]),
                str(f.sku[self._facing[i]]),
                float(self._start[i]),
                float(self._last[i]),
                int(self._count[i]),
            )
            for i in idx  # only the episodes that closed: records out, not per-frame work
        ]
