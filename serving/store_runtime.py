"""`StoreRuntime`: one store's live pipeline — cameras in, records in storage out — as the store
worker runs it (and as a test or notebook can run it in-process, without Ray).

    runtime = StoreRuntime("demo", settings, db=db, secret=secret, detect=detect, state_dir=d)
    while not runtime.finished:
        runtime.tick()                       # one pass: read, detect, track, attribute, flush
    runtime.close()

Per tick: every camera's reader (`storelens.serving.ingest.StreamReader`, one thread each) holds
its newest frame; a camera with no detect request in flight sends that frame, letterboxed to
the model's square, to the detector (newest frame wins; at most one request in flight per
camera; a refused request — backpressure — drops the frame and counts it). Finished detections
step the tracker (`StorePipeline`, the same object the offline runner drives). Shelf events and
sessions come from the events and shoppers stages once they exist; until then a store may be
given a simulated run whose true ones are released on the stream clock (`TruthFeed`).
Attribution (`Attributor`) runs every second over everything held, with the POS and RFID
records the store posted through the API read back from storage.

Durability: derived records are saved (idempotently: a replayed revision is a no-op) before
the checkpoint moves past them, and the checkpoint (`<state_dir>/checkpoint.npz`: the tracker's
state, each camera's last frame time and the feed's position — no images, no embeddings) is
written every `checkpoint_every_s`. POS and RFID records are read back from storage: the last
`HISTORY_S` on a resume, then every round from a cursor with an overlap. A runtime started
over an existing checkpoint resumes from it and rebuilds
its attribution state from storage, so a worker killed at any moment loses nothing that was
acknowledged and writes no event twice.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storelens.attribution.online import Attributor
from storelens.layout import StoreLayout
from storelens.serving.config import StoreSettings
from storelens.serving.frame_steps import (
    TRACK_ROW_FORMAT,
    DetectedBoxes,
    step_inputs,
    track_rows,
)
from storelens.serving.ingest import ArrivalClock, CapturedFrame, StreamClock, StreamReader
from storelens.serving.letterbox import Letterboxed, letterbox
from storelens.serving.truth_feed import TruthFeed, read_tags
from storelens.serving.view_check import ViewCheck
from storelens.storage import Database, save_records
from storelens.storage.cameras import list_cameras, redact_text, report_health, stream_uri
from storelens.storage.paths import save_paths
from storelens.storage.replay import current_records, inputs_received
from storelens.tracking.checkpoint import load_checkpoint, save_checkpoint
from storelens.tracking.pipeline import StorePipeline

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "storelens-store-worker/1"
HISTORY_S = 24 * 3600.0  # what a restarted worker reads back (the late-data horizon)
INPUT_OVERLAP_S = 30.0  # inputs re-read behind the cursor each round


DetectFn = Callable[[Letterboxed], DetectedBoxes]  # `worker.local_detect` / `serve_detect`


@dataclass
class RuntimeTimings:
    interval_s: float = 0.02  # sleep between ticks when nothing is ready
    attribute_every_s: float = 1.0
    checkpoint_every_s: float = 3.0
    health_every_s: float = 2.0
    view_check_every_s: float = 5.0


class StoreRuntime:
    """See the module docstring."""

    def __init__(
        self,
        store_id: str,
        settings: StoreSettings,
        *,
        db: Database,
        secret: str,
        detect: DetectFn,
        state_dir: str | Path,
        imgsz: int = 320,
        worker: str = "",
        timings: RuntimeTimings | None = None,
    ) -> None:
        self.store_id = store_id
        self.settings = settings
        self.db = db
        self.secret = secret
        self.detect = detect
        self.imgsz = imgsz
        self.worker = worker or f"pid {os.getpid()}"
        self.timings = timings or RuntimeTimings()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.layout = StoreLayout.from_yaml(settings.layout)
        self.pipeline = StorePipeline()
        self.feed = TruthFeed(settings.truth, settings.truth_offset_s) if settings.truth else None
        self.attributor = Attributor(self.layout, tag_registry=self._tag_registry())
        self.readers: dict[str, StreamReader] = {}
        self.views: dict[str, ViewCheck] = {}
        self.view_state: dict[str, str] = {}
        self.last_t: dict[str, float] = {}
        self.in_flight: dict[str, tuple[CapturedFrame, Future]] = {}
        self.refused: dict[str, int] = {}
        self.replayed: set[str] = set()
        self.fresh: set[str] = set()  # cameras that delivered a frame newer than the resume point
        self.unreadable: dict[str, str] = {}  # camera -> why its URI cannot be read
        self.reader_uri: dict[str, str] = {}  # camera -> the URI its reader opened
        self._paths: Any = None
        self.model_version = ""
        self.input_cursor = -math.inf
        self.pending: list[Any] = []  # derived records not yet saved
        self._released_at: list[float] = []  # monotonic release time of each pending event
        self.event_latency_s: deque[float] = deque(maxlen=1000)  # release → committed
        self.frame_latency_s: deque[float] = deque(maxlen=1000)  # decode → tracked
        self.track_rows: dict[str, list[np.ndarray]] = {}
        self.saved = {"ShelfEvent": 0, "Session": 0, "Basket": 0, "Alert": 0}
        self.resumed = False
        self.finished = False
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"detect-{store_id}")
        self._next = {"attribute": 0.0, "checkpoint": 0.0, "health": 0.0, "view": 0.0}
        self._resume()
        self.sync_cameras()

    # ------------------------------------------------------------------ set-up
    def _tag_registry(self) -> dict[str, str]:
        return {} if self.settings.truth is None else read_tags(self.settings.truth)

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "checkpoint.npz"

    def _resume(self) -> None:
        """Load the checkpoint if there is one, then rebuild attribution from storage."""
        if self.checkpoint_path.is_file():
            state = load_checkpoint(self.checkpoint_path)
            if state.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(
                    f"{self.checkpoint_path}: not a store-worker checkpoint "
                    f"(format {state.get('format')!r})"
                )
            self.pipeline.load_state_dict(state["pipeline"])
            self.last_t = {k: float(v) for k, v in state["last_t"].items()}
            if self.feed is not None:
                self.feed.seek(float(state["feed_position"]))
            self.saved = {k: int(v) for k, v in state["saved"].items()}
            self.resumed = True
        since = time.time() - HISTORY_S if self.feed is None else -math.inf
        with self.db.read() as conn:
            held = current_records(conn, self.store_id, since)
            received = inputs_received(conn, self.store_id, since)
        self.attributor.add_sessions(held.sessions)
        self.attributor.add_events(held.events)
        self.attributor.baskets.update({b.session_id: b for b in held.baskets})
        self.attributor.alerts.update({a.alert_id: a for a in held.alerts})
        self._add_inputs(received)
        if self.feed is not None and self.resumed:
            paths = self.feed.paths_until(self.feed.position)
            if paths is not None:
                self.attributor.set_paths(paths)

    def sync_cameras(self) -> None:
        """Open readers for cameras registered since, close those removed, reopen those
        re-registered with another URI (rotated credentials, a new host)."""
        with self.db.read() as conn:
            cameras = {c.camera_id: c for c in list_cameras(conn, self.store_id)}
            uris = {c: stream_uri(conn, self.secret, self.store_id, c) for c in cameras}
        changed = {c for c in set(self.readers) & set(cameras) if self.reader_uri[c] != uris[c]}
        for camera in sorted((set(self.readers) - set(cameras)) | changed):
            self.readers.pop(camera).stop()  # removed, or re-registered with another URI
        clock = self.settings.clock
        # sample_fps counts frames per second of the store's clock; a replay at `scale` x real
        # time has 1 / scale stream seconds per store second
        per_stream_s = self.settings.sample_fps * (clock.scale if clock.kind == "stream" else 1.0)
        for camera in sorted(set(cameras) - set(self.readers)):
            uri = uris[camera]
            if uri is None:
                continue
            stamp = (
                StreamClock(clock.origin_t, clock.scale)
                if clock.kind == "stream"
                else ArrivalClock()
            )
            try:
                reader = StreamReader(camera, uri, sample_fps=per_stream_s, clock=stamp)
            except ValueError as err:  # a URI the reader cannot open: said, the rest carry on
                self.unreadable[camera] = redact_text(str(err))
                report_health(
                    self.db,
                    store_id=self.store_id,
                    camera_id=camera,
                    state="stopped",
                    fps=0.0,
                    lag_s=-1.0,
                    frames_dropped=0,
                    worker=self.worker,
                    detail=f"cannot read this stream: {self.unreadable[camera]}",
                )
                continue
            self.unreadable.pop(camera, None)
            reader.start()
            self.readers[camera] = reader
            self.reader_uri[camera] = uri
            self.views[camera] = ViewCheck()

    # -------------------------------------------------------------------- tick
    def tick(self) -> bool:
        """One pass; True when a step ran (the caller sleeps a little otherwise). After the
        recording ended it goes on attributing what the store still posts (a sale rung up
        after the last frame)."""
        stepped = False
        if not self.finished:
            self._send_frames()
            stepped = self._step_finished()
        now = time.monotonic()
        if self.feed is not None and not self.finished:
            self._advance_feed(self.clock_t)
        if now >= self._next["attribute"]:
            self._next["attribute"] = now + self.timings.attribute_every_s
            self._attribute()
            self._save_pending()
        if now >= self._next["checkpoint"]:
            self._next["checkpoint"] = now + self.timings.checkpoint_every_s
            self.flush()
        if now >= self._next["health"]:
            self._next["health"] = now + self.timings.health_every_s
            self._report_health()
        if not self.finished and self._ended():
            self._finish()
        return stepped

    def _send_frames(self) -> None:
        for camera, reader in self.readers.items():
            if camera in self.in_flight:
                continue
            frame = reader.latest()
            last = self.last_t.get(camera, -math.inf)
            if frame is None:
                continue
            if frame.timestamp <= last:
                # a finite recording that started over after this worker had read past its
                # resume point has ended; before that (a restarted worker) it is skipped until
                # it passes the checkpoint
                if self.settings.end_t is not None and frame.timestamp < last - 1:
                    if camera in self.fresh:
                        self.replayed.add(camera)
                continue
            self.fresh.add(camera)
            boxed = letterbox(frame.image, self.imgsz)
            self.in_flight[camera] = (frame, self._pool.submit(self.detect, boxed))
            if time.monotonic() >= self._next["view"]:
                self.view_state[camera] = self.views[camera].check(frame.image).state

        if self.readers and time.monotonic() >= self._next["view"]:
            self._next["view"] = time.monotonic() + self.timings.view_check_every_s

    def _step_finished(self) -> bool:
        done = sorted(c for c, (_, fut) in self.in_flight.items() if fut.done())
        frames, boxes = [], []
        for camera in done:
            frame, fut = self.in_flight.pop(camera)
            try:
                answer = fut.result()
            except Exception as err:  # backpressure or a detector restart: the frame is dropped
                self.refused[camera] = self.refused.get(camera, 0) + 1
                log.info("camera %s: frame dropped (%s)", camera, redact_text(str(err))[:200])
                continue
            frames.append(frame)
            boxes.append(answer)
        if not frames:
            return False
        self.model_version = boxes[-1].model_version or self.model_version
        out = self.pipeline.step(*step_inputs(frames, boxes))
        tracked = time.time()
        for f in frames:
            self.last_t[f.camera_id] = f.timestamp
            self.frame_latency_s.append(tracked - f.arrival_t)
        for camera, rows in track_rows(out.tracks).items():
            self.track_rows.setdefault(camera, []).append(rows)
        return True

    @property
    def clock_t(self) -> float:
        """The store's clock: the latest time every streaming camera has been processed to."""
        streaming = [
            self.last_t[c]
            for c, r in self.readers.items()
            if c in self.last_t and r.state == "streaming"
        ]
        if streaming:
            return min(streaming)
        return max(self.last_t.values(), default=-math.inf)

    def _advance_feed(self, clock_t: float) -> None:
        """Take in what the truth feed releases up to `clock_t` (to save on the next round)."""
        assert self.feed is not None
        released = self.feed.advance(clock_t)
        if released.sessions or released.events:
            self.attributor.add_sessions(released.sessions)
            self.attributor.add_events(released.events)
            self.pending.extend(released.events)
            self.pending.extend(released.sessions)
            self._released_at += [time.monotonic()] * len(released.events)
        if released.paths is not None:
            self.attributor.set_paths(released.paths)
            self._paths = released.paths

    def _add_inputs(self, received) -> None:  # type: ignore[no-untyped-def]
        for txn, t in received.pos:
            self.attributor.add_pos([txn], t)
        for read, t in received.rfid:
            self.attributor.add_rfid([read], t)
        self.input_cursor = max(self.input_cursor, received.cursor)

    def _attribute(self) -> None:
        with self.db.read() as conn:
            # re-read an overlap: a batch stamped before another may commit after it (the
            # attributor ignores an id it holds)
            since = self.input_cursor - INPUT_OVERLAP_S
            self._add_inputs(inputs_received(conn, self.store_id, since))
        out = self.attributor.step()
        self.pending.extend(out.baskets)
        self.pending.extend(out.alerts)

    # --------------------------------------------------------------- durability
    def flush(self) -> None:
        """Save what is pending, then checkpoint past it."""
        self._save_pending()
        if self._paths is not None:
            save_paths(self.db, self.store_id, self._paths)
            self._paths = None
        self._write_tracks()
        save_checkpoint(
            self.checkpoint_path,
            {
                "format": CHECKPOINT_FORMAT,
                "pipeline": self.pipeline.state_dict(),
                "last_t": dict(self.last_t),
                "feed_position": float(self.feed.position) if self.feed else 0.0,
                "saved": dict(self.saved),
            },
        )

    def _save_pending(self) -> None:
        """Records released or attributed since the last save, in one transaction (a replay
        after a restart writes the same revisions again: a no-op)."""
        if self.pending:
            report = save_records(self.db, self.pending)
            for kind, n in report.stored.items():
                self.saved[kind] = self.saved.get(kind, 0) + n
            self.pending = []
            committed = time.monotonic()
            self.event_latency_s.extend(committed - t for t in self._released_at)
            self._released_at = []

    def _write_tracks(self) -> None:
        folder = self.state_dir / "tracks"
        for camera, chunks in self.track_rows.items():
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / f"{camera}.csv").open("a") as f:
                np.savetxt(f, np.concatenate(chunks), fmt=TRACK_ROW_FORMAT)
        self.track_rows = {}

    def _report_health(self) -> None:
        for camera, reader in self.readers.items():
            h = reader.health()
            view = self.view_state.get(camera, "ok")
            detail = (
                f"in {h.fps_in:.1f} fps, out {h.fps_out:.1f} fps, reconnects {h.reconnects}, "
                f"refused {self.refused.get(camera, 0)}, view {view}"
                + (f"; last error: {h.last_error}" if h.last_error else "")
            )
            report_health(
                self.db,
                store_id=self.store_id,
                camera_id=camera,
                state=h.state,
                fps=h.fps_out,
                lag_s=h.lag_s if math.isfinite(h.lag_s) else -1.0,
                frames_dropped=h.dropped + self.refused.get(camera, 0),
                worker=self.worker,
                detail=detail,
            )

    def _ended(self) -> bool:
        if not self.readers:
            return False
        end = self.settings.end_t
        if end is not None:
            # the last frame sampled may precede the recording's last by a sampling period
            last_sample = end - 1.0 / self.settings.sample_fps
            done = [
                c in self.replayed or self.last_t.get(c, -math.inf) >= last_sample
                for c in self.readers
            ]
            if all(done) or self.clock_t >= end:
                return True
        return not self.in_flight and all(r.state == "stopped" for r in self.readers.values())

    def _finish(self) -> None:
        """The recording is over: release what the feed still holds, attribute, save."""
        if self.feed is not None:
            self._advance_feed(max(self.feed.end_t, self.clock_t) + 1.0)
        for reader in self.readers.values():
            reader.stop()  # a replayed recording would otherwise start over
        self._attribute()
        self.flush()
        self._report_health()
        self.finished = True

    def status(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "pid": os.getpid(),
            "steps": self.pipeline.steps,
            "clock_t": self.clock_t,
            "resumed": self.resumed,
            "finished": self.finished,
            "model_version": self.model_version,
            "saved": dict(self.saved),
            "latency_ms": {
                name: _percentiles(values)
                for name, values in (
                    ("frame_to_tracks", self.frame_latency_s),
                    ("event_to_storage", self.event_latency_s),
                )
            },
            "cameras": {
                c: {**r.health().__dict__, "view": self.view_state.get(c, "ok")}
                for c, r in self.readers.items()
            },
        }

    def close(self) -> None:
        """Stop the readers and flush (a clean stop)."""
        for reader in self.readers.values():
            reader.stop()
        for camera in list(self.in_flight):
            self.in_flight.pop(camera)[1].cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.flush()


def _percentiles(seconds: deque[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p99": None, "n": 0}
    values = 1000 * np.asarray(seconds)
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "n": len(values),
    }
