"""Shelf events: hand episodes turned into picks and put-backs, online, inside the pipeline.

    stage = ShelfEventStage(layout, geometries, store_id)
    events = stage.update(t, frames, detections, tracks, hands)   # each pipeline step
    events += stage.finish(t)                                      # at the end of a run

Per step, every camera's hands (`HandObservations`) are put in 3-D (`locate_hands`, with the
camera tracks of one person joined by where they stand: `floor_link.FloorLinker`, until the
shoppers stage gives global identities), and their facing episodes found (`EpisodeDetector`).
Where frames carry images, a `ShelfChangeMonitor` samples every facing the cameras see.

- **One reach, one event**: episodes at the same facing that overlap in time (within
  `merge_s`) are one reach, whichever camera, track or hand they came from (several cameras'
  views of one hand, both hands of a two-handed reach). Its interval is their union; its
  shopper the person with the most instants inside, named by its first camera track
  `"<camera>:<track>"`.
- **Touch or not**: once the hand is out, the facing's change score (`ShelfChangeMonitor`)
  between the last clear view before the reach and the first clear one after it — and before
  the next reach at that facing begins. Below `change_threshold` it was a touch: no event.
  No clear view within `wait_s` (or no images, or no camera that sees the facing): decided
  without it, with lower confidence.
- **Pick or put-back**: a hand that picked an item within `hold_s` and has not put one back
  holds it. Its next reach at the facing it picked from is a put-back of that item when the
  facing looks as it did before the pick (its change score between the view before the pick
  and the view after this reach is below the threshold): a put-back restores the front spot a
  pick emptied, a second pick empties another. Any other reach is a pick of the facing's
  planogram SKU (a put-back at another facing is not yet told from a pick).
- **Timing**: an event is reported at `decided_at`: `gap_s` + `merge_s` after the hand left
  at the earliest, later when it waits for a clear view. The event's time `t` is when the hand
  left the facing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from storelens.detections import PERSON, Detections
from storelens.facings import facing_volumes
from storelens.frames import FrameBatch
from storelens.records import FrameRange, ObservedShelfEvent
from storelens.tracking.episodes import GAP_S, Episode, EpisodeDetector
from storelens.tracking.floor_link import FloorLinker
from storelens.tracking.hands import HandObservations, locate_hands, shelf_planes
from storelens.tracking.shelf_change import ShelfChangeMonitor, facing_regions

if TYPE_CHECKING:
    from storelens.geometry import CameraGeometry
    from storelens.layout import StoreLayout

SIDES = ("left", "right")


@dataclass(frozen=True)
class EventConfig:
    change_threshold: float = 0.12
    hold_s: float = 4.0
    merge_s: float = 0.5
    wait_s: float = 6.0
    gap_s: float = GAP_S
    sample_s: float = 0.3  # how often each camera's facings are sampled


@dataclass
class Reach:
    """Episodes close in time at one facing or its neighbours: one reach (see the module
    docstring). `facing` is the facing decided on (the most changed one), once decided."""

    t_start: float
    t_end: float
    episodes: list[Episode] = field(default_factory=list)
    facing: int = -1

    @property
    def facings(self) -> list[int]:
        return sorted({e.facing for e in self.episodes})

    def add(self, ep: Episode) -> None:
        self.episodes.append(ep)
        self.t_start, self.t_end = min(self.t_start, ep.t_start), max(self.t_end, ep.t_end)
        self.facing = max(self.episodes, key=lambda e: e.instants).facing

    def overlaps(self, ep: Episode, merge_s: float, neighbours: np.ndarray) -> bool:
        """Close in time, at a facing beside (or at) one of this reach's: noisy hands of one
        reach land in neighbouring facings, a two-handed reach spans them."""
        near = ep.t_start <= self.t_end + merge_s and ep.t_end >= self.t_start - merge_s
        return near and bool(neighbours[ep.facing, self.facings].any())


@dataclass(frozen=True)
class Touch:
    """A reach decided to be a touch: no event (kept for pictures and tests)."""

    facing: int
    t_start: float
    t_end: float
    change_score: float


class ShelfEventStage:
    """Hands in, shelf events out (see the module docstring)."""

    def __init__(
        self,
        layout: StoreLayout,
        geometries: dict[str, CameraGeometry],
        store_id: str | None = None,
        config: EventConfig | None = None,
    ) -> None:
        self.config = config or EventConfig()
        self.store_id = store_id or layout.store_id
        self.geometries = {c: g for c, g in geometries.items() if g.has_pose}
        self.linker = FloorLinker(self.geometries)
        self.facings = facing_volumes(layout)
        self.planes = shelf_planes(layout)
        self.episodes = EpisodeDetector(self.facings, gap_s=self.config.gap_s)
        self.monitor = ShelfChangeMonitor(
            facing_regions(self.facings, self.geometries, layout), sample_s=self.config.sample_s
        )
        f = self.facings
        self.neighbours = (
            (f.shelf_id[:, None] == f.shelf_id[None])
            & (np.abs(f.level[:, None] - f.level[None]) <= 1)
            & (np.abs(f.slot[:, None] - f.slot[None]) <= 1)
        )  # (F,F): facings a reach's hands may stray between
        self.reaches: list[Reach] = []
        self.touches: list[Touch] = []
        # hand key 2 * person + side → (SKU, when picked, facing, when the pick's reach began)
        self._held: dict[int, tuple[str, float, int, float]] = {}
        # per camera: (t, frame, persons with hands seen) of its recent steps, for evidence
        self._frames: dict[str, deque] = {c: deque(maxlen=600) for c in self.geometries}

    # ------------------------------------------------------------------ stepping
    def update(
        self,
        t: float,
        frames: FrameBatch,
        detections: Detections,
        tracks: Detections,
        hands: tuple[HandObservations, ...],
    ) -> list[ObservedShelfEvent]:
        """Advance to instant `t`; return the events decided now."""
        person_of = self.linker.update(tracks)
        for i, camera in enumerate(frames.camera_id.tolist()):  # per camera, never per box
            obs = next((o for o in hands if o.camera_id == camera), None)
            tracks_here, persons_here = person_of.get(camera, (np.zeros(0, int),) * 2)
            with_hands = (
                set(persons_here[np.isin(tracks_here, obs.track_id)].tolist()) if obs else set()
            )
            self._frames.setdefault(camera, deque(maxlen=600)).append(
                (float(frames.timestamp[i]), int(frames.frame_index[i]), with_hands)
            )
            if frames.images is not None:
                mine = (detections.camera_id == camera) & (detections.class_id == PERSON)
                self.monitor.update(
                    camera, float(frames.timestamp[i]), frames.images[i], detections.xyxy[mine]
                )
        seen = [obs for obs in hands if obs.camera_id in self.geometries]
        points = locate_hands(seen, self.geometries, person_of, self.planes)
        ok = np.all(np.isfinite(points.xyz), axis=1)
        return self.update_points(t, points.person_id[ok], points.side[ok], points.xyz[ok])

    def update_points(
        self, t: float, person_id: np.ndarray, side: np.ndarray, xyz: np.ndarray
    ) -> list[ObservedShelfEvent]:
        """Advance to instant `t` with hands already in 3-D (what `update` does after
        locating them; also for hands from elsewhere, e.g. true wrists)."""
        self._add(self.episodes.update(t, person_id, side, xyz))
        return self._decide(t, final=False)

    def finish(self, t: float) -> list[ObservedShelfEvent]:
        """Close every open episode and decide every reach (the end of a run)."""
        self._add(self.episodes.finish())
        return self._decide(t, final=True)

    def _add(self, closed: list[Episode]) -> None:
        merge = self.config.merge_s
        for ep in sorted(closed, key=lambda e: e.t_start):  # the few episodes closing now
            for reach in self.reaches:
                if reach.overlaps(ep, merge, self.neighbours):
                    reach.add(ep)
                    break
            else:
                self.reaches.append(Reach(ep.t_start, ep.t_end, [ep], ep.facing))

    # ------------------------------------------------------------------ deciding
    def _decide(self, t: float, final: bool) -> list[ObservedShelfEvent]:
        cfg = self.config
        out: list[ObservedShelfEvent] = []
        waiting: list[Reach] = []
        for reach in sorted(self.reaches, key=lambda r: r.t_end):
            if not final and t - reach.t_end < cfg.merge_s:
                waiting.append(reach)
                continue
            known: dict[int, tuple[float, float]] = {}  # facing → (change score, until)
            hopeless = set()  # facings whose next reach came before any clear view
            for facing in reach.facings:
                until = min(
                    [r.t_start for r in self.reaches
                     if r is not reach and facing in r.facings and r.t_start > reach.t_end]
                    + [self.episodes.open_since(facing)]
                )  # fmt: skip
                score = self.monitor.change(facing, reach.t_start, reach.t_end, until)
                if score is not None:
                    known[facing] = (score, until)
                elif until <= t:
                    hopeless.add(facing)
            if (
                not known
                and not final
                and t - reach.t_end < cfg.wait_s
                and any(self.monitor.sees(f) and f not in hopeless for f in reach.facings)
            ):
                waiting.append(reach)
                continue
            score, until = None, float("inf")
            if known:
                reach.facing = max(known, key=lambda f: known[f][0])
                score, until = known[reach.facing]
            event = self._event(reach, score, t, until)
            if event is not None:
                out.append(event)
        self.reaches = waiting
        self._held = {k: h for k, h in self._held.items() if t - h[1] <= cfg.hold_s}
        return out

    def _event(
        self, reach: Reach, score: float | None, now: float, until: float
    ) -> ObservedShelfEvent | None:
        cfg = self.config
        if score is not None and score < cfg.change_threshold:
            self.touches.append(Touch(reach.facing, reach.t_start, reach.t_end, score))
            return None
        f = self.facings
        sku, kind = str(f.sku[reach.facing]), "pick"
        keys = [2 * e.person_id + e.side for e in reach.episodes]
        held = [
            self._held[k]
            for k in keys
            if k in self._held and reach.t_start - self._held[k][1] <= cfg.hold_s
        ]
        if held and score is not None:
            held_sku, _, picked_from, pick_start = max(held, key=lambda h: h[1])
            if picked_from == reach.facing:  # back where it came from: the facing is restored
                restored = self.monitor.change(reach.facing, pick_start, reach.t_end, until)
                if restored is not None and restored < cfg.change_threshold:
                    sku, kind = held_sku, "put_back"
        if kind == "put_back":
            for k in keys:
                self._held.pop(k, None)
        lead = max(reach.episodes, key=lambda e: e.instants)
        if kind == "pick":
            self._held[2 * lead.person_id + lead.side] = (
                sku,
                reach.t_end,
                reach.facing,
                reach.t_start,
            )
        camera, track = self.linker.name_of(lead.person_id) or ("unknown", lead.person_id)
        confidence = 0.6 if score is None else float(min(1.0, 0.7 + score))
        return ObservedShelfEvent(
            store_id=self.store_id,
            kind=kind,
            t=reach.t_end,
            sku=sku,
            shelf_id=str(f.shelf_id[reach.facing]),
            shopper_id=f"{camera}:{track}",
            confidence=confidence,
            evidence=self._evidence(reach),
            level=int(f.level[reach.facing]),
            slot=int(f.slot[reach.facing]),
            hand=SIDES[lead.side],
            t_start=reach.t_start,
            t_end=reach.t_end,
            change_score=score,
            decided_at=max(now, reach.t_end),
        )

    def _evidence(self, reach: Reach) -> list[FrameRange]:
        """Per camera, the frames of the reach in which one of its persons' hands was seen."""
        persons = {e.person_id for e in reach.episodes}
        out = []
        for camera in sorted(self._frames):
            frames = [
                f
                for ts, f, seen in self._frames[camera]
                if reach.t_start <= ts <= reach.t_end and seen & persons
            ]
            if frames:
                out.append(
                    FrameRange(camera_id=camera, first_frame=min(frames), last_frame=max(frames))
                )
        return out
