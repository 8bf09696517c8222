"""`TruthFeed`: a simulated store's true shelf events, sessions and floor paths, released as the
live clock passes them — the stand-in for the events and shoppers stages until they land.

The live worker runs ingest → detection → tracking on the real streams; what turns tracks into
shelf events and shopper sessions does not exist yet. So that the rest of the live path
(attribution against POS and RFID as a store posts them, storage, the API, webhooks) runs on the
same clock as the streams, a worker serving a simulated store may be given a *truth bundle*
(`write_truth_bundle`: the simulation's sessions and events as core records, its floor paths and
its tag registry; the CLI makes one from a simulated run): each session is released as `open`
when the stream clock passes its entry and revised with its exit when the clock passes that;
each shelf event when the clock passes its time; the floor paths up to the clock. Every time is
shifted by `offset_s` (the demo replays a simulation recorded at another date as if it happened
now). Nothing here looks at pixels: the figures a demo prints with this feed measure
attribution, storage and serving, not perception."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from storelens.attribution.paths import FloorPaths
from storelens.records import Session, ShelfEvent

SESSIONS, EVENTS, PATHS, TAGS = "sessions.jsonl", "events.jsonl", "floor_paths.npz", "tags.json"


def write_truth_bundle(
    out_dir: str | Path,
    sessions: Sequence[Session],
    events: Sequence[ShelfEvent],
    paths: FloorPaths | None,
    tags: Mapping[str, str],
) -> Path:
    """Write a bundle `TruthFeed` reads: core records only (a subclass keeps its core fields)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, model, records in ((SESSIONS, Session, sessions), (EVENTS, ShelfEvent, events)):
        lines = [
            model.model_validate(r.model_dump(include=set(model.model_fields))).model_dump_json()
            for r in records
        ]
        (out / name).write_text("".join(f"{line}\n" for line in lines))
    (paths or FloorPaths.empty()).save(out / PATHS)
    (out / TAGS).write_text(json.dumps({k.upper(): v for k, v in sorted(tags.items())}))
    return out


def read_tags(bundle_dir: str | Path) -> dict[str, str]:
    """The bundle's tag registry (EPC → SKU)."""
    return dict(json.loads((Path(bundle_dir) / TAGS).read_text()))


def _read(path: Path, model):  # type: ignore[no-untyped-def]
    text = path.read_text() if path.is_file() else ""
    try:
        return [model.model_validate_json(line) for line in text.splitlines() if line.strip()]
    except ValueError as err:
        raise ValueError(f"{path}: not a truth bundle's {model.__name__} records: {err}") from None


@dataclass
class Released:
    """What passed the clock since the previous `advance`."""

    sessions: list[Session] = field(default_factory=list)
    events: list[ShelfEvent] = field(default_factory=list)
    paths: FloorPaths | None = None  # every sample up to the clock (None: unchanged)


class TruthFeed:
    """See the module docstring. `advance(clock_t)` is monotonic: a clock that goes back
    releases nothing again; `position` and `seek` let a restarted worker resume."""

    def __init__(self, bundle_dir: str | Path, offset_s: float = 0.0) -> None:
        run = Path(bundle_dir)
        if not (run / SESSIONS).is_file():
            raise FileNotFoundError(f"{run}: not a truth bundle (no {SESSIONS})")
        sessions = _read(run / SESSIONS, Session)
        events = _read(run / EVENTS, ShelfEvent)
        self.offset_s = float(offset_s)
        self._closed = [
            s.model_copy(
                update={
                    "enter_t": s.enter_t + offset_s,
                    "exit_t": None if s.exit_t is None else s.exit_t + offset_s,
                }
            )
            for s in sessions
        ]
        self._opened = [
            s.model_copy(update={"exit_t": None, "exit_id": None}) for s in self._closed
        ]
        self._events = [e.model_copy(update={"t": e.t + offset_s}) for e in events]
        self._enter_t = np.array([s.enter_t for s in self._closed], float)
        self._exit_t = np.array(
            [np.inf if s.exit_t is None else s.exit_t for s in self._closed], float
        )
        self._event_t = np.array([e.t for e in self._events], float)
        paths_file = run / PATHS
        full = FloorPaths.load(paths_file) if paths_file.is_file() else FloorPaths.empty()
        self._paths = FloorPaths(full.shopper_id, full.t + offset_s, full.xy)
        self.position = -np.inf

    @property
    def end_t(self) -> float:
        """When the last session leaves (the feed has nothing more after it)."""
        finite = self._exit_t[np.isfinite(self._exit_t)]
        return float(max(finite.max(initial=-np.inf), self._event_t.max(initial=-np.inf)))

    @property
    def counts(self) -> dict[str, int]:
        return {"sessions": len(self._closed), "events": len(self._events)}

    def seek(self, position: float) -> None:
        """Resume after `position` (what a checkpoint kept): nothing up to it is released again."""
        self.position = float(position)

    def advance(self, clock_t: float) -> Released:
        """Everything with a time in (previous clock, clock_t]."""
        before, now = self.position, float(clock_t)
        if now <= before:
            return Released()
        self.position = now
        entered = np.flatnonzero((self._enter_t > before) & (self._enter_t <= now))
        left = np.flatnonzero((self._exit_t > before) & (self._exit_t <= now))
        happened = np.flatnonzero((self._event_t > before) & (self._event_t <= now))
        out = Released()
        # always `open` first and the exit as its revision, however the clock steps, so a
        # restarted worker replaying a step writes exactly the records it wrote before
        out.sessions = [self._opened[i] for i in entered.tolist()]
        for i in left.tolist():
            closed = self._closed[i]
            out.sessions.append(
                self._opened[i].revised(exit_t=closed.exit_t, exit_id=closed.exit_id)
            )
        out.events = [self._events[i] for i in happened.tolist()]
        if len(self._paths) and ((self._paths.t > before) & (self._paths.t <= now)).any():
            out.paths = self.paths_until(now)
        return out

    def paths_until(self, t: float) -> FloorPaths | None:
        """Every floor sample up to `t` (None: none yet)."""
        keep = self._paths.t <= t
        if not keep.any():
            return None
        return FloorPaths(self._paths.shopper_id[keep], self._paths.t[keep], self._paths.xy[keep])
