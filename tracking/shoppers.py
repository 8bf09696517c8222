"""Shoppers: every camera's person tracks fused into one global identity per person, online,
on the floor plan.

    shoppers = ShopperTracker(geometries)            # camera id → CameraGeometry
    step = shoppers.update(t, tracks)                # each pipeline step's confirmed tracks
    step.shopper_id                                  # (N,) global id of each person track
    shoppers.corrections                             # merges and splits so far (revisions)

A camera track's floor point is where its box stands (`standing.StandingPoints`): the foot
point through the camera's calibration (lens distortion undone), or the head at a person's
height where the box stops short of the feet. Each shopper has a floor position and velocity,
refreshed every step from the mean of its tracks' floor points.

- **Joining**: a track seen for the first time (or split off) joins a live shopper by a
  one-to-one assignment (Hungarian on floor distance) within `join_m`, widened by
  `walk_mps` for every second the shopper has gone unseen (up to `lost_s`). It may not join
  a shopper that the same camera already sees through another track: two tracks seen at once
  in one camera are two people. New tracks left over start shoppers, those of different
  cameras standing within `join_m` of each other one shopper.
- **Splitting**: a track whose floor point stays farther than `split_m` from where the
  shopper's other tracks put it, for `split_steps` steps in a row, was joined wrongly: it is
  split off (and joins another shopper, or starts one). With two tracks the one farther from
  the shopper's predicted position goes.
- **Merging**: two shoppers seen within `merge_m` of each other for `merge_steps` steps in a
  row, never by one camera at once, are one person whom two cameras' tracks started apart:
  the younger is merged into the older.

Merges and splits are `ShopperCorrection` records, in order: what was reported before one
stays as it was reported (the revision contract), and `resolve` maps an old id to the id it
ended up as. The assignment is causal: a step's ids depend only on tracks up to that step.
Nothing of how anyone looks is used or kept, only where they stand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from storelens.detections import PERSON, Detections
from storelens.tracking.standing import HEAD_M, SHORT, StandingPoints

if TYPE_CHECKING:
    from storelens.geometry import CameraGeometry

STRIDE = 1_000_000  # a camera track's key: camera index * STRIDE + track id


@dataclass(frozen=True)
class ShopperConfig:
    join_m: float = 1.2
    walk_mps: float = 1.0
    lost_s: float = 3.0
    split_m: float = 2.0
    split_steps: int = 10
    merge_m: float = 1.2
    merge_steps: int = 10
    duplicate_ios: float = 1.01  # > 1: a second box on a person is kept apart like any other
    head_m: float = HEAD_M
    short_box: float = SHORT


@dataclass(frozen=True)
class ShopperCorrection:
    """`merge`: shopper `removed` is `kept` from time `t` on. `split`: camera track
    (`camera_id`, `track_id`) left shopper `removed` for shopper `kept` at `t`."""

    kind: Literal["merge", "split"]
    t: float
    kept: int
    removed: int
    camera_id: str = ""
    track_id: int = -1


@dataclass(frozen=True)
class ShopperStep:
    """One step's person tracks with their shopper: (N,) arrays in the order of the tracks'
    person rows."""

    camera_id: np.ndarray
    track_id: np.ndarray
    shopper_id: np.ndarray
    floor: np.ndarray  # (N,2) metres, NaN where the camera has no calibration
    primary: np.ndarray  # (N,) False for a second box on a person (it has the person's id)


def duplicate_parents(cam_index: np.ndarray, xyxy: np.ndarray, min_ios: float) -> np.ndarray:
    """(N,) for each box, the larger box of the same camera that covers at least `min_ios` of
    it (a second box the detector put on one person: a part of the body, a duplicate NMS
    kept), else -1. A covering box that is itself covered hands on its own parent."""
    n = len(xyxy)
    if n < 2 or min_ios > 1.0:  # no box covers more than all of another
        return np.full(n, -1)
    lt = np.maximum(xyxy[:, None, :2], xyxy[None, :, :2])
    rb = np.minimum(xyxy[:, None, 2:], xyxy[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = np.prod(np.clip(xyxy[:, 2:] - xyxy[:, :2], 1e-6, None), axis=1)
    covered = inter / area[:, None]  # [i, j]: share of box i inside box j
    bigger = (area[None, :] > area[:, None]) | (
        (area[None, :] == area[:, None]) & (np.arange(n)[None, :] < np.arange(n)[:, None])
    )
    covered = np.where((cam_index[:, None] == cam_index[None, :]) & bigger, covered, 0.0)
    parent = np.where(covered.max(axis=1) >= min_ios, covered.argmax(axis=1), -1)
    for _ in range(2):  # chains are short: a part box on a duplicate on a person
        up = parent >= 0
        grand = np.full(n, -1)
        grand[up] = parent[parent[up]]
        parent = np.where(grand >= 0, grand, parent)
    return parent


class ShopperTracker:
    """Camera person tracks → global shoppers on the floor (see the module docstring).

    A shopper's id is its row in the column arrays below (ids are handed out in order)."""

    def __init__(
        self, geometries: dict[str, CameraGeometry], config: ShopperConfig | None = None
    ) -> None:
        self.geometries = geometries
        self.config = config or ShopperConfig()
        self.cameras = sorted(geometries)
        self.standing = StandingPoints(geometries, self.config.head_m, self.config.short_box)
        self._index = {c: i for i, c in enumerate(self.cameras)}
        # camera-track links, sorted by key
        self._keys = np.zeros(0, np.int64)
        self._key_shopper = np.zeros(0, np.int64)
        self._key_far = np.zeros(0, np.int64)  # steps in a row far from the shopper's others
        self._key_since = np.zeros(0)  # when the link was made
        # shoppers, one row each
        self._pos = np.zeros((0, 2))
        self._vel = np.zeros((0, 2))
        self._last_t = np.zeros(0)
        self._first_t = np.zeros(0)
        self._alias = np.zeros(0, np.int64)  # the id each shopper is now (merges)
        self._near: dict[tuple[int, int], int] = {}  # shopper pair → steps in a row close
        self._apart: set[tuple[int, int]] = set()  # pairs one camera has seen at once
        self.corrections: list[ShopperCorrection] = []

    # ------------------------------------------------------------------ queries
    def resolve(self, shopper: np.ndarray | int) -> np.ndarray:
        """The id(s) `shopper` ended up as after every merge so far."""
        return self._alias[np.asarray(shopper, np.int64)]

    @property
    def apart(self) -> set[tuple[int, int]]:
        """Pairs of shopper ids (smaller first) one camera has seen at once: two people."""
        return self._apart

    def first_seen(self, shopper: np.ndarray) -> np.ndarray:
        """When each shopper id was first seen (merges take the earlier)."""
        return self._first_t[np.asarray(shopper, np.int64)]

    def live(self, t: float) -> np.ndarray:
        """Ids of the shoppers seen within `lost_s` of `t` and not merged away."""
        ids = np.arange(len(self._alias))
        return ids[(self._alias == ids) & (t - self._last_t <= self.config.lost_s)]

    # ------------------------------------------------------------------ update
    def update(self, t: float, tracks: Detections) -> ShopperStep:
        persons = tracks.class_id == PERSON
        cams = tracks.camera_id[persons]
        ids = tracks.tracker_id[persons].astype(np.int64)
        xyxy = tracks.xyxy[persons].astype(np.float64)
        floor, _ = self.standing(cams, xyxy)
        names, inverse = np.unique(cams, return_inverse=True)
        per_name = [self._index.get(c, len(self.cameras)) for c in names.tolist()]  # per camera
        cam_index = np.asarray(per_name, np.int64)[inverse.ravel()]
        key = cam_index * STRIDE + ids

        self._forget_ended(t, key)
        key_row = np.full(len(key), -1)
        shopper = np.full(len(key), -1, np.int64)
        if len(self._keys):
            row = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
            found = self._keys[row] == key
            key_row[found] = row[found]
            shopper[found] = self._alias[self._key_shopper[row[found]]]

        # a second box on one person is that person: it neither places nor separates anyone
        parent = duplicate_parents(cam_index, xyxy, self.config.duplicate_ios)
        main = np.flatnonzero(parent < 0)
        shopper[main] = self._fuse(
            t, shopper[main], floor[main], cam_index[main], key_row[main], cams[main], ids[main]
        )
        shopper[parent >= 0] = shopper[parent[parent >= 0]]
        self._store_links(t, key, key_row, shopper)
        return ShopperStep(cams, ids, shopper, floor, parent < 0)

    def _fuse(
        self,
        t: float,
        shopper: np.ndarray,
        floor: np.ndarray,
        cam_index: np.ndarray,
        key_row: np.ndarray,
        cams: np.ndarray,
        ids: np.ndarray,
    ) -> np.ndarray:
        """The step for the tracks that stand for a person each: their shoppers (resolved)."""
        shopper = self._same_camera_apart(shopper, cam_index, key_row)
        shopper, strays = self._split_strays(t, shopper, floor, key_row)
        old = self._key_shopper[key_row[strays]]
        shopper = self._join(t, shopper, floor, cam_index, strays, old)
        for i in strays.tolist():  # a wrong join undone: rare
            self.corrections.append(
                ShopperCorrection(
                    "split",
                    t,
                    int(shopper[i]),
                    int(self._key_shopper[key_row[i]]),
                    str(cams[i]),
                    int(ids[i]),
                )
            )
        self._refresh(t, shopper, floor)
        self._merge_close(t, shopper, cam_index)
        return self._alias[shopper]

    def _forget_ended(self, t: float, seen: np.ndarray) -> None:
        """Links of tracks no longer reported are dropped once their shopper is lost."""
        if not len(self._keys):
            return
        live = t - self._last_t[self._alias[self._key_shopper]] <= self.config.lost_s
        keep = np.isin(self._keys, seen) | live
        self._keys, self._key_shopper = self._keys[keep], self._key_shopper[keep]
        self._key_far, self._key_since = self._key_far[keep], self._key_since[keep]

    def _same_camera_apart(
        self, shopper: np.ndarray, cam_index: np.ndarray, key_row: np.ndarray
    ) -> np.ndarray:
        """One camera's two tracks on one shopper (after a merge): the newer link goes."""
        known = np.flatnonzero(shopper >= 0)
        if len(known) < 2:
            return shopper
        pair = shopper[known] * (len(self.cameras) + 1) + cam_index[known]
        since = self._key_since[key_row[known]]
        order = np.lexsort((since, pair))
        dup = np.zeros(len(known), bool)
        dup[order[1:]] = pair[order[1:]] == pair[order[:-1]]
        shopper = shopper.copy()
        shopper[known[dup]] = -1
        return shopper

    def _predicted(self, sids: np.ndarray, t: float) -> np.ndarray:
        dt = np.clip(t - self._last_t[sids], 0.0, self.config.lost_s)
        return self._pos[sids] + self._vel[sids] * dt[:, None]

    def _split_strays(
        self, t: float, shopper: np.ndarray, floor: np.ndarray, key_row: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracks far from their shopper's other tracks for `split_steps` steps: unlinked."""
        cfg = self.config
        rows = np.flatnonzero((shopper >= 0) & np.isfinite(floor[:, 0]))
        far_now = np.zeros(len(shopper), bool)
        if len(rows):
            labels, inverse, counts = np.unique(
                shopper[rows], return_inverse=True, return_counts=True
            )
            sums = np.zeros((len(labels), 2))
            np.add.at(sums, inverse, floor[rows])
            n = counts[inverse]
            others = (sums[inverse] - floor[rows]) / np.maximum(n - 1, 1)[:, None]
            far = (n >= 2) & (np.linalg.norm(floor[rows] - others, axis=1) > cfg.split_m)
            # with two tracks each is far from the other: blame the one off the prediction
            off = np.linalg.norm(floor[rows] - self._predicted(shopper[rows], t), axis=1)
            two = far & (n == 2)
            if two.any():
                worst = np.full(len(labels), -np.inf)
                np.maximum.at(worst, inverse[two], off[two])
                far &= ~two | (off >= worst[inverse])
            far_now[rows] = far
        known = np.flatnonzero(key_row >= 0)
        self._key_far[key_row[known]] = np.where(
            far_now[known], self._key_far[key_row[known]] + 1, 0
        )
        strays = known[far_now[known] & (self._key_far[key_row[known]] >= cfg.split_steps)]
        self._key_far[key_row[strays]] = 0
        shopper = shopper.copy()
        shopper[strays] = -1
        return shopper, strays

    def _join(
        self,
        t: float,
        shopper: np.ndarray,
        floor: np.ndarray,
        cam_index: np.ndarray,
        strays: np.ndarray,
        left_behind: np.ndarray,
    ) -> np.ndarray:
        """Tracks without a shopper join one (a split-off track not the one it left)."""
        cfg = self.config
        new = np.flatnonzero(shopper < 0)
        if not len(new):
            return shopper
        shopper = shopper.copy()
        live = self.live(t)
        placed = new[np.isfinite(floor[new, 0])]
        if len(live) and len(placed):
            cost = np.linalg.norm(floor[placed][:, None] - self._predicted(live, t)[None], axis=2)
            gate = cfg.join_m + cfg.walk_mps * np.clip(t - self._last_t[live], 0.0, cfg.lost_s)
            # a camera that sees a shopper through another track cannot see it again
            column = np.full(len(self._alias), -1)
            column[live] = np.arange(len(live))
            seen = shopper >= 0
            taken = np.zeros((len(self.cameras) + 1, len(live)), bool)
            hit = column[shopper[seen]]
            taken[cam_index[seen][hit >= 0], hit[hit >= 0]] = True
            allowed = (cost <= gate[None]) & ~taken[cam_index[placed]]
            placed_row = np.full(len(shopper), -1)
            placed_row[placed] = np.arange(len(placed))
            p, j = placed_row[strays], column[self._alias[left_behind]]
            allowed[p[(p >= 0) & (j >= 0)], j[(p >= 0) & (j >= 0)]] = False
            r, c = linear_sum_assignment(np.where(allowed, cost, 1e6))
            ok = allowed[r, c]
            shopper[placed[r[ok]]] = live[c[ok]]
        self._start(t, shopper, floor, cam_index, new[shopper[new] < 0])
        return shopper

    def _start(
        self,
        t: float,
        shopper: np.ndarray,
        floor: np.ndarray,
        cam_index: np.ndarray,
        left: np.ndarray,
    ) -> None:
        """New shoppers for the tracks left over; new tracks of different cameras standing
        within `join_m` of each other start one shopper (births only: a few per second)."""
        groups: list[list[int]] = []
        for i in left.tolist():
            home = next(
                (
                    g
                    for g, members in enumerate(groups)
                    if np.isfinite(floor[i, 0])
                    and np.isfinite(floor[members[0], 0])
                    and cam_index[i] not in cam_index[members]
                    and np.linalg.norm(floor[members].mean(axis=0) - floor[i]) <= self.config.join_m
                ),
                -1,
            )
            if home < 0:
                groups.append([i])
            else:
                groups[home].append(i)
        first = len(self._alias)
        for g, members in enumerate(groups):
            shopper[members] = first + g
        n = len(groups)
        self._pos = np.concatenate([self._pos, np.full((n, 2), np.nan)])
        self._vel = np.concatenate([self._vel, np.zeros((n, 2))])
        self._last_t = np.concatenate([self._last_t, np.full(n, t)])
        self._first_t = np.concatenate([self._first_t, np.full(n, t)])
        self._alias = np.concatenate([self._alias, np.arange(first, first + n, dtype=np.int64)])

    def _refresh(self, t: float, shopper: np.ndarray, floor: np.ndarray) -> None:
        """Each seen shopper's position: the mean of its tracks' floor points; its velocity
        smoothed over steps."""
        if not len(shopper):
            return
        seen = np.unique(shopper)
        ok = np.isfinite(floor[:, 0])
        sums = np.zeros((len(self._alias), 2))
        counts = np.zeros(len(self._alias))
        np.add.at(sums, shopper[ok], floor[ok])
        np.add.at(counts, shopper[ok], 1)
        placed = seen[counts[seen] > 0]
        mean = sums[placed] / counts[placed, None]
        dt = t - self._last_t[placed]
        moved = np.isfinite(self._pos[placed, 0]) & (dt > 0)
        step = np.where(
            moved[:, None], (mean - self._pos[placed]) / np.maximum(dt, 1e-6)[:, None], 0
        )
        self._vel[placed] = np.where(
            moved[:, None], 0.7 * self._vel[placed] + 0.3 * step, self._vel[placed]
        )
        self._pos[placed] = mean
        self._last_t[seen] = t

    def _merge_close(self, t: float, shopper: np.ndarray, cam_index: np.ndarray) -> None:
        """Two shoppers close for `merge_steps` steps, never in one camera at once: one."""
        cfg = self.config
        seen = np.unique(shopper)
        seen = seen[np.isfinite(self._pos[seen, 0])]
        if len(seen) < 2:
            self._near = {}
            return
        sees = np.zeros((len(seen), len(self.cameras) + 1), np.int64)
        mine = np.isin(shopper, seen)
        sees[np.searchsorted(seen, shopper[mine]), cam_index[mine]] = 1
        together = np.triu((sees @ sees.T) > 0, 1)
        a, b = np.nonzero(together)
        self._apart.update(zip(seen[a].tolist(), seen[b].tolist(), strict=True))
        gap = np.linalg.norm(self._pos[seen][:, None] - self._pos[seen][None], axis=2)
        a, b = np.nonzero(np.triu(gap <= cfg.merge_m, 1) & ~together)
        close = [
            p for p in zip(seen[a].tolist(), seen[b].tolist(), strict=True) if p not in self._apart
        ]
        self._near = {p: self._near.get(p, 0) + 1 for p in close}
        for pair, steps in sorted(self._near.items()):
            a, b = (int(x) for x in self._alias[list(pair)])
            if steps < cfg.merge_steps or a == b or (min(a, b), max(a, b)) in self._apart:
                continue
            old, young = sorted((a, b), key=lambda s: (self._first_t[s], s))
            self._alias[self._alias == young] = old
            self._last_t[old] = max(self._last_t[old], self._last_t[young])
            self._first_t[old] = min(self._first_t[old], self._first_t[young])
            # whoever one camera saw beside the merged shopper stays apart from the one it is now
            self._apart |= {
                (min(old, x), max(old, x))
                for p in self._apart
                if young in p
                for x in p
                if x != young
            }
            self.corrections.append(ShopperCorrection("merge", t, old, young))
        self._near = {p: n for p, n in self._near.items() if n < cfg.merge_steps}

    def _store_links(
        self, t: float, key: np.ndarray, key_row: np.ndarray, shopper: np.ndarray
    ) -> None:
        known = key_row >= 0
        self._key_shopper[key_row[known]] = shopper[known]
        new = np.flatnonzero(~known)
        if not len(new):
            return
        keys = np.concatenate([self._keys, key[new]])
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._key_shopper = np.concatenate([self._key_shopper, shopper[new]])[order]
        self._key_far = np.concatenate([self._key_far, np.zeros(len(new), np.int64)])[order]
        self._key_since = np.concatenate([self._key_since, np.full(len(new), t)])[order]
