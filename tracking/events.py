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
  holds it, so its next reach is a put-back of that item's SKU — on another facing too (a
  misplaced put-back keeps the SKU it took); any other reach is a pick of the facing's
  planogram SKU.
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
    """Episodes of one facing that overlap in time: one reach (see the module docstring)."""

    facing: int
    t_start: float
    t_end: float
    episodes: list[Episode] = field(default_factory=list)

    def add(self, ep: Episode) -> None:
        self.episodes.append(ep)
        self.t_start, self.t_end = min(self.t_start, ep.t_start), max(self.t_end, ep.t_end)


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
        self.reaches: list[Reach] = []
        self.touches: list[Touch] = []
        self._held: dict[int, tuple[str, float]] = {}  # hand key 2 * person + side → (SKU, t)
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
            with_hands = persons_here[np.isin(tracks_here, obs.track_id)] if obs else []
            self._frames.setdefault(camera, deque(maxlen=600)).append(
                (
                    float(frames.timestamp[i]),
                    int(frames.frame_index[i]),
                    set(with_hands.tolist() if len(with_hands) else []),
                )
            )
            if frames.images is not None:
                mine = (detections.camera_id == camera) & (detections.class_id == PERSON)
                self.monitor.update(
                    camera, float(frames.timestamp[i]), frames.images[i], detections.xyxy[mine]
                )
        seen = [obs for obs in hands if obs.camera_id in self.geometries]
        points = locate_hands(seen, self.geometries, person_of, self.planes)
        ok = np.all(np.isfinite(points.xyz), axis=1)
        closed = self.episodes.update(t, points.person_id[ok], points.side[ok], points.xyz[ok])
        self._add(closed)
        return self._decide(t, final=False)

    def finish(self, t: float) -> list[ObservedShelfEvent]:
        """Close every open episode and decide every reach (the end of a run)."""
        self._add(self.episodes.finish())
        return self._decide(t, final=True)

    def _add(self, closed: list[Episode]) -> None:
        merge = self.config.merge_s
        for ep in sorted(closed, key=lambda e: e.t_start):  # the few episodes closing now
            for reach in self.reaches:
                if (
                    reach.facing == ep.facing
                    and ep.t_start <= reach.t_end + merge
                    and ep.t_end >= reach.t_start - merge
                ):
                    reach.add(ep)
                    break
            else:
                self.reaches.append(Reach(ep.facing, ep.t_start, ep.t_end, [ep]))

    # ------------------------------------------------------------------ deciding
    def _decide(self, t: float, final: bool) -> list[ObservedShelfEvent]:
        cfg = self.config
        out: list[ObservedShelfEvent] = []
        waiting: list[Reach] = []
        for reach in sorted(self.reaches, key=lambda r: r.t_end):
            if not final and t - reach.t_end < cfg.merge_s:
                waiting.append(reach)
                continue
            until = min(
                [r.t_start for r in self.reaches if r.facing == reach.facing and r is not reach
                 and r.t_start > reach.t_end] + [self.episodes.open_since(reach.facing)]
            )  # fmt: skip
            score = self.monitor.change(reach.facing, reach.t_start, reach.t_end, until)
            blocked_view = until < float("inf") and until <= t
            if (
                score is None
                and not final
                and not blocked_view
                and t - reach.t_end < cfg.wait_s
                and self.monitor.sees(reach.facing)
            ):
                waiting.append(reach)
                continue
            event = self._event(reach, score, t)
            if event is not None:
                out.append(event)
        self.reaches = waiting
        return out

    def _event(self, reach: Reach, score: float | None, now: float) -> ObservedShelfEvent | None:
        cfg = self.config
        if score is not None and score < cfg.change_threshold:
            self.touches.append(Touch(reach.facing, reach.t_start, reach.t_end, score))
            return None
        keys = [2 * e.person_id + e.side for e in reach.episodes]
        held = [
            (self._held[k], k)
            for k in keys
            if k in self._held and reach.t_start - self._held[k][1] <= cfg.hold_s
        ]
        f = self.facings
        if held:
            (sku, _), key = max(held, key=lambda h: h[0][1])
            kind = "put_back"
            for k in keys:
                self._held.pop(k, None)
        else:
            sku, kind = str(f.sku[reach.facing]), "pick"
        lead = max(reach.episodes, key=lambda e: e.instants)
        if kind == "pick":
            for k in {2 * lead.person_id + lead.side}:
                self._held[k] = (sku, reach.t_end)
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
