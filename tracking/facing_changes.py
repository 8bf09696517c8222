"""Facing changes: when a facing's look changed, found online from the shelf cameras alone.

    detector = FacingChangeDetector(regions, threshold=0.3)
    changes = detector.update(camera_id, t, image, person_boxes)   # every frame of a camera

Each camera keeps, for every facing it sees (`shelf_change.FacingRegions`), the facing's
*settled look*: its appearance (`shelf_change.appearance`, cells inside person boxes hidden) in
the last clear view that matched it. Every `sample_s` the facing's clear views are compared
with it (1 - NCC per colour channel on the cells visible in both, as `normalised_change`):

- a clear view within `threshold` of the settled look confirms it (`settled_t` moves on);
- one beyond it is *pending*; the next clear view confirms the change when it matches the
  pending look (two agreeing views: a passing arm or a box that did not cover the whole body
  shows once, a moved product stays), and replaces the pending look when it does not;
- a confirmed change is a `FacingChange`: the facing, the camera, the last clear view with the
  old look (`t_before`) and the first with the new one (`t_after`), the score, and whether the
  new look is one the facing had before its previous change (`restores`: a unit put back on
  the spot a pick emptied).

Nothing here knows about hands: the events stage joins the changes with the reaches that
explain them, and the baseline joins them with the person boxes over the facing. Every update
is vectorised over the facings a camera sees; only the few changed facings are visited.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from storelens.tracking.shelf_change import SUB, FacingRegions, appearance, hidden_cells

MIN_CELLS = 4  # fewer cells visible in both views: no comparison


@dataclass(frozen=True)
class FacingChange:
    facing: int
    camera_id: str
    t_before: float  # last clear view with the old look
    t_after: float  # first clear view with the new look
    score: float
    restores: bool  # the new look is the one before the facing's previous change


def change_scores(a: np.ndarray, b: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(K,) 1 - NCC per colour channel of appearances (K,R,C,3) over their `visible` (K,R,C)
    cells; NaN where fewer than `MIN_CELLS` are visible."""
    m = visible[..., None].astype(np.float32)
    n = m.sum(axis=(1, 2))  # (K,1)
    safe = np.maximum(n, 1.0)
    xa = (a - ((a * m).sum(axis=(1, 2)) / safe)[:, None, None]) * m
    xb = (b - ((b * m).sum(axis=(1, 2)) / safe)[:, None, None]) * m
    num = (xa * xb).sum(axis=(1, 2))
    den = np.sqrt((xa**2).sum(axis=(1, 2)) * (xb**2).sum(axis=(1, 2))) + 1e-9
    score = 1.0 - (num / den).mean(axis=-1)
    return np.where(n[:, 0] >= MIN_CELLS, score, np.nan)


class _CameraState:
    """The settled and pending looks of every facing one camera sees, as (K,...) arrays."""

    def __init__(self, region: FacingRegions, history: int) -> None:
        K, R, C = len(region), region.grid.shape[1] // SUB, region.grid.shape[2] // SUB
        self.look = np.zeros((K, R, C, 3), np.float32)
        self.visible = np.zeros((K, R, C), bool)
        self.settled_t = np.full(K, -np.inf)
        self.settled = np.zeros(K, bool)
        self.pending_look = np.zeros_like(self.look)
        self.pending_visible = np.zeros_like(self.visible)
        self.pending_t = np.full(K, np.nan)
        self.pending = np.zeros(K, bool)
        # per facing row: the looks it settled in before, newest last (only changed rows touched)
        self.earlier: list[deque] = [deque(maxlen=history) for _ in range(K)]


class FacingChangeDetector:
    """Online changes of every facing the cameras see (see the module docstring)."""

    def __init__(
        self,
        regions: dict[str, FacingRegions],
        threshold: float = 0.3,
        sample_s: float = 0.3,
        clear_share: float = 0.6,
        box_margin: float = 0.1,
        history: int = 4,
    ) -> None:
        self.regions = {c: r for c, r in regions.items() if len(r)}
        self.threshold, self.sample_s = threshold, sample_s
        self.clear_share, self.box_margin = clear_share, box_margin
        self._state = {c: _CameraState(r, history) for c, r in self.regions.items()}
        self._last: dict[str, float] = {}

    def settled_since(self, camera_id: str) -> dict[int, float]:
        """facing → the last time this camera saw it clear with its settled look, for the
        facings with no change pending."""
        s, r = self._state.get(camera_id), self.regions.get(camera_id)
        if s is None or r is None:
            return {}
        ok = s.settled & ~s.pending
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
        visible = ~hidden_cells(region.grid, _grown(person_boxes, self.box_margin))
        clear = visible.mean(axis=(1, 2)) >= self.clear_share
        look = appearance(image, region.grid)

        first = clear & ~s.settled
        s.look[first], s.visible[first] = look[first], visible[first]
        s.settled_t[first], s.settled[first] = t, True

        judged = clear & ~first
        vs_settled = change_scores(look, s.look, visible & s.visible)
        vs_pending = change_scores(look, s.pending_look, visible & s.pending_visible)
        same = judged & (vs_settled < self.threshold)
        differs = judged & (vs_settled >= self.threshold)  # NaN (too few cells) is neither
        confirmed = differs & s.pending & (vs_pending < self.threshold)
        repending = differs & ~confirmed

        s.settled_t[same], s.pending[same] = t, False
        s.pending_look[repending], s.pending_visible[repending] = (
            look[repending],
            visible[repending],
        )
        s.pending_t[repending], s.pending[repending] = t, True

        out = []
        for row in np.flatnonzero(confirmed).tolist():  # the few facings that changed now
            restores = any(
                np.nan_to_num(
                    change_scores(look[row, None], old[None], (visible[row] & seen)[None]),
                    nan=np.inf,
                )[0]
                < self.threshold
                for old, seen in list(s.earlier[row])[-1:]
            )
            out.append(
                FacingChange(
                    facing=int(region.facing[row]),
                    camera_id=camera_id,
                    t_before=float(s.settled_t[row]),
                    t_after=float(s.pending_t[row]),
                    score=float(vs_settled[row]),
                    restores=restores,
                )
            )
            s.earlier[row].append((s.look[row].copy(), s.visible[row].copy()))
        s.look[confirmed], s.visible[confirmed] = look[confirmed], visible[confirmed]
        s.settled_t[confirmed], s.pending[confirmed] = t, False
        return out


def _grown(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Boxes (N,4 xyxy) grown by `margin` of their size on every side (a detector's box can
    stop short of an outstretched arm)."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    pad = np.concatenate([b[:, 2:] - b[:, :2]] * 2, axis=1) * margin
    return b + pad * np.array([-1, -1, 1, 1])
