"""Facing changes: when a facing's look changed, found online from the shelf cameras alone.

    detector = FacingChangeDetector(regions, threshold=0.3)
    changes = detector.update(camera_id, t, image, person_boxes)   # every frame of a camera

Each camera keeps, for every facing it sees (`shelf_change.FacingRegions`), the facing's
*settled look*: its appearance (`shelf_change.appearance`, cells inside person boxes hidden) in
the last clear view that matched it. Every `sample_s` the facing's clear views are compared
with it (`shelf_change.change_scores` on the cells visible in both):

- a clear view within `threshold` of the settled look confirms it (`settled_t` moves on);
- one beyond it is *pending*; the next clear view confirms the change when it matches the
  pending look (two agreeing views: a passing arm or a box that did not cover the whole body
  shows once, a moved product stays), and replaces the pending look when it does not;
- a confirmed change is a `FacingChange`: the facing, the camera, the last clear view with the
  old look (`t_before`) and the first with the new one (`t_after`), the score, and whether the
  new look is the one the facing had before its previous change (`restores`: a unit put back
  on the spot a pick emptied).

Nothing here knows about hands. The events stage does not use these changes yet: joining them
with the reaches or person boxes that explain them is its next step. Every update is vectorised
over the facings a camera sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storelens.tracking.shelf_change import SUB, FacingRegions, change_scores, sample_facings


@dataclass(frozen=True)
class FacingChange:
    facing: int
    camera_id: str
    t_before: float  # last clear view with the old look
    t_after: float  # first clear view with the new look
    score: float
    restores: bool  # the new look is the one before the facing's previous change


class _CameraState:
    """Per facing one camera sees, as (K,...) arrays: the settled look (`settled_t` -inf until
    the first clear view), the pending look (`pending_t` NaN when none) and the look before the
    last change (`had_before` False until a change)."""

    def __init__(self, region: FacingRegions) -> None:
        K, R, C = len(region), region.grid.shape[1] // SUB, region.grid.shape[2] // SUB
        self.look = np.zeros((K, R, C, 3), np.float32)
        self.visible = np.zeros((K, R, C), bool)
        self.settled_t = np.full(K, -np.inf)
        self.pending_look, self.pending_visible = (
            np.zeros_like(self.look),
            np.zeros_like(self.visible),
        )
        self.pending_t = np.full(K, np.nan)
        self.before_look, self.before_visible = (
            np.zeros_like(self.look),
            np.zeros_like(self.visible),
        )
        self.had_before = np.zeros(K, bool)


class FacingChangeDetector:
    """Online changes of every facing the cameras see (see the module docstring)."""

    def __init__(
        self,
        regions: dict[str, FacingRegions],
        threshold: float = 0.3,
        sample_s: float = 0.3,
        clear_share: float = 0.6,
        box_margin: float = 0.1,
    ) -> None:
        self.regions = {c: r for c, r in regions.items() if len(r)}
        self.threshold, self.sample_s = threshold, sample_s
        self.clear_share, self.box_margin = clear_share, box_margin
        self._state = {c: _CameraState(r) for c, r in self.regions.items()}
        self._last: dict[str, float] = {}

    def settled_since(self, camera_id: str) -> dict[int, float]:
        """facing → the last time this camera saw it clear with its settled look, for the
        facings seen clear and with no change pending."""
        s, r = self._state.get(camera_id), self.regions.get(camera_id)
        if s is None or r is None:
            return {}
        ok = np.isfinite(s.settled_t) & np.isnan(s.pending_t)
        return dict(zip(r.facing[ok].tolist(), s.settled_t[ok].tolist(), strict=True))

    def update(
        self, camera_id: str, t: float, image: np.ndarray, person_boxes: np.ndarray
    ) -> list[FacingChange]:
        """Sample `camera_id`'s frame at time t (skipped within `sample_s` of its last sample);
        the changes this sample confirms."""
        region, s = self.regions.get(camera_id), self._state.get(camera_id)
        if region is None or s is None:
            return []
        if t - self._last.get(camera_id, -np.inf) < self.sample_s - 1e-9:
            return []
        self._last[camera_id] = t
        boxes = _grown(person_boxes, self.box_margin)
        look, visible, clear = sample_facings(region, image, boxes, self.clear_share)

        first = clear & ~np.isfinite(s.settled_t)
        s.look[first], s.visible[first], s.settled_t[first] = look[first], visible[first], t

        judged = clear & ~first
        vs_settled = change_scores(look, s.look, visible & s.visible)
        vs_pending = change_scores(look, s.pending_look, visible & s.pending_visible)
        same = judged & (vs_settled < self.threshold)
        differs = judged & (vs_settled >= self.threshold)  # NaN (too few cells) is neither
        confirmed = differs & ~np.isnan(s.pending_t) & (vs_pending < self.threshold)
        repending = differs & ~confirmed
        vs_before = change_scores(look, s.before_look, visible & s.before_visible)
        restores = confirmed & s.had_before & (vs_before < self.threshold)

        changes = [
            FacingChange(
                facing=int(region.facing[row]),
                camera_id=camera_id,
                t_before=float(s.settled_t[row]),
                t_after=float(s.pending_t[row]),
                score=float(vs_settled[row]),
                restores=bool(restores[row]),
            )
            for row in np.flatnonzero(confirmed).tolist()  # the few facings that changed now
        ]
        s.settled_t[same], s.pending_t[same] = t, np.nan
        s.pending_look[repending], s.pending_visible[repending] = (
            look[repending],
            visible[repending],
        )
        s.pending_t[repending] = t
        s.before_look[confirmed], s.before_visible[confirmed] = (
            s.look[confirmed],
            s.visible[confirmed],
        )
        s.had_before[confirmed] = True
        s.look[confirmed], s.visible[confirmed] = look[confirmed], visible[confirmed]
        s.settled_t[confirmed], s.pending_t[confirmed] = t, np.nan
        return changes


def _grown(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Boxes (N,4 xyxy) grown by `margin` of their size on every side (a detector's box can
    stop short of an outstretched arm)."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    pad = np.concatenate([b[:, 2:] - b[:, :2]] * 2, axis=1) * margin
    return b + pad * np.array([-1, -1, 1, 1])
