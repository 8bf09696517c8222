"""Stream ingest: one `StreamReader` per camera decodes an RTSP stream (or a file) with PyAV,
keeps only the newest frame for its consumer, reconnects by itself, and reports its health.

**Newest frame wins.** The reader holds one slot. `latest()` returns the newest frame not yet
taken and marks it taken; a frame overwritten before anyone took it counts as `dropped`. A slow
consumer so never works on stale frames and never sees an older frame after a newer one.

**Never blocked for ever.** PyAV opens with `timeout=(open, read)` (an interrupt callback
around every FFmpeg I/O call) and RTSP over TCP. Behind that, a watchdog: the reader's own
thread supervises a session thread per connection and abandons a session that delivers no frame
for `open_timeout_s + read_timeout_s` (+ a margin); the abandoned thread exits when its FFmpeg
call finally returns, and its frames are ignored. On an error, a hung session or the end of an
RTSP stream the reader reconnects with exponential backoff (`backoff_initial_s`, doubling to
`backoff_max_s`, reset once frames flow). A file that ends stops the reader (state `stopped`):
that is no error. No URI credential reaches an error or a log line (`redact_text`).

**Clocks** (`CapturedFrame.timestamp`):
- `ArrivalClock` — `time.time()` when the frame was decoded (the default; real cameras). It
  includes network and decode delay and jitter.
- `SenderClock` — the sender's wall clock from RTCP sender reports: FFmpeg maps the first SR to
  `AVFormatContext.start_time_realtime`, which PyAV 18 exposes as `container.start_time_realtime`
  (µs since the epoch; None until the first SR arrives, ~1-3 s after PLAY with GStreamer's
  server, and for files). Measured with `RtspServer`: it works, and `start_time_realtime +
  (pts - first pts)` lands within a few ms of the server's send time. Until the first SR the
  clock falls back to arrival time. OpenCV's `VideoCapture` exposes no such value. This is the
  clock for cameras with NTP-synchronised clocks (capture time, free of network jitter).
- `StreamClock(origin_t, scale)` — `origin_t + stream_pts_s * scale`: a simulator video played
  at `rate` by `RtspServer` (its timestamps stretched by 1/rate) is stamped with the
  simulation's clock when `scale = rate`. Every RTSP session of a non-shared mount starts the
  file over, so after a reconnect these stamps start over too.

**Health** (`StreamHealth`): `fps_in` is decoded frames per second over the last
`FPS_WINDOW_S` (all decoded frames, before `sample_fps`), `fps_out` frames taken by `latest()`
per second over the same window. `lag_s` is how far the reader is behind its stream: the larger
of (a) seconds since the newest frame was decoded (or since the session started, before any
frame) and (b) the backlog — how much more wall time than stream time has passed since the
session's best frame (`(arrival - pts) - min over the session of (arrival - pts)`), which grows
when decoding falls behind a live stream. `reconnects` counts connection attempts after the
first one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import av
import numpy as np

from storelens.storage.cameras import STATES, redact_text

log = logging.getLogger(__name__)

FPS_WINDOW_S = 3.0
WATCHDOG_MARGIN_S = 2.0
# Small probing: the codec parameters come from the SDP; FFmpeg's default (5 s of analysis)
# delays the first frame of a slow stream by seconds. Measured: first frame 0.4-1.2 s after open.
RTSP_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "100000", "probesize": "32768"}


@dataclass(frozen=True)
class CapturedFrame:
    """One decoded frame. `image` is BGR uint8 (H, W, 3); `timestamp` comes from the reader's
    clock; `frame_index` is 1-based over the frames this reader delivered (after `sample_fps`);
    `stream_pts_s` is seconds since the source's start by the stream's timestamps;
    `arrival_t` is `time.time()` when it was decoded."""

    camera_id: str
    image: np.ndarray
    timestamp: float
    frame_index: int
    stream_pts_s: float | None
    arrival_t: float


@dataclass(frozen=True)
class StreamHealth:
    """A reader's state now (see the module docstring for each figure)."""

    camera_id: str
    state: str  # one of storelens.storage.cameras.STATES
    fps_in: float
    fps_out: float
    lag_s: float
    frames_in: int
    frames_out: int
    dropped: int
    reconnects: int
    last_error: str
    last_frame_t: float | None


class Clock(Protocol):
    def stamp(
        self, *, arrival_t: float, stream_pts_s: float | None, sender_t: float | None
    ) -> float:
        """The timestamp of a frame decoded at `arrival_t`."""
        ...


@dataclass(frozen=True)
class ArrivalClock:
    """Stamps the arrival (decode) time."""

    def stamp(
        self, *, arrival_t: float, stream_pts_s: float | None, sender_t: float | None
    ) -> float:
        return arrival_t


@dataclass(frozen=True)
class SenderClock:
    """Stamps the sender's time from RTCP sender reports; arrival time until the first one."""

    def stamp(
        self, *, arrival_t: float, stream_pts_s: float | None, sender_t: float | None
    ) -> float:
        return arrival_t if sender_t is None else sender_t


@dataclass(frozen=True)
class StreamClock:
    """Stamps `origin_t + stream_pts_s * scale` (arrival time for a frame without one)."""

    origin_t: float
    scale: float = 1.0

    def stamp(
        self, *, arrival_t: float, stream_pts_s: float | None, sender_t: float | None
    ) -> float:
        return arrival_t if stream_pts_s is None else self.origin_t + stream_pts_s * self.scale


class _Session:
    """One connection: its thread, progress and outcome (read by the supervisor)."""

    def __init__(self) -> None:
        self.started_t = time.monotonic()
        self.progress_t = self.started_t
        self.frames = 0
        self.abandoned = False
        self.ended = False  # the source ended (end of file / stream)
        self.error = ""
        self.thread: threading.Thread | None = None
        # per-session stream bookkeeping
        self.first_pts: float | None = None
        self.last_pts: float | None = None
        self.next_due: float | None = None
        self.pace_origin: float | None = None
        self.best_offset: float | None = None


class StreamReader:
    """Reads one camera's stream in the background; `latest()` gives the newest frame.

    Args:
        camera_id: the camera's id (carried by every frame and health report).
        uri: `rtsp://`, `rtsps://`, `file://` or a plain path.
        sample_fps: keep at most this many frames per second of stream time (None: all).
        clock: stamps `CapturedFrame.timestamp` (`ArrivalClock`, `SenderClock`, `StreamClock`).
        open_timeout_s: longest wait to open the stream.
        read_timeout_s: longest wait for data once open.
        backoff_initial_s: first wait before reconnecting; doubles on each failure...
        backoff_max_s: ...up to this. Short values retry a dead camera often.
        realtime_files: pace a file by its timestamps (as if it were a live camera).
    """

    def __init__(
        self,
        camera_id: str,
        uri: str | Path,
        *,
        sample_fps: float | None = None,
        clock: Clock = ArrivalClock(),  # noqa: B008 - frozen, stateless
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        realtime_files: bool = True,
    ) -> None:
        if sample_fps is not None and sample_fps <= 0:
            raise ValueError(f"sample_fps must be > 0, got {sample_fps}")
        self.camera_id = camera_id
        uri = str(uri)
        scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
        if scheme in ("rtsp", "rtsps"):
            self._target, self.is_file = uri, False
        elif scheme in ("", "file"):
            self._target = unquote(urlsplit(uri).path) if scheme == "file" else uri
            self.is_file = True
        else:
            raise ValueError(f"camera {camera_id}: unsupported stream {redact_text(uri)}")
        self.uri_redacted = redact_text(uri)
        self.sample_fps = sample_fps
        self.clock = clock
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.realtime_files = realtime_files
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: _Session | None = None
        self._slot: CapturedFrame | None = None
        self._taken = True
        self._state = "starting"
        self._frames_in = self._delivered = self._frames_out = self._dropped = 0
        self._reconnects = 0
        self._last_error = ""
        self._last_frame_t: float | None = None
        self._in_times: deque[float] = deque()
        self._out_times: deque[float] = deque()
        self._streaming_since: float | None = None
        self._backlog = 0.0

    # --- consumer side -------------------------------------------------------------------

    def start(self) -> StreamReader:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._supervise, name=f"ingest-{self.camera_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading; waits up to `timeout_s` for the threads to end."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in (self._thread, self._session.thread if self._session else None):
            if t is not None:
                t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._state = "stopped"

    def threads(self) -> list[threading.Thread]:
        """The reader's threads still alive (its own and its current session's)."""
        found = [self._thread, self._session.thread if self._session else None]
        return [t for t in found if t is not None and t.is_alive()]

    def latest(self) -> CapturedFrame | None:
        """The newest frame not taken yet (and mark it taken), or None."""
        with self._lock:
            if self._slot is None or self._taken:
                return None
            self._taken = True
            self._frames_out += 1
            self._out_times.append(time.time())
            return self._slot

    @property
    def state(self) -> str:
        """`starting`, `streaming`, `reconnecting` or `stopped`: the cheap part of `health()`."""
        return self._state

    def health(self) -> StreamHealth:
        now = time.time()
        with self._lock:
            since = self._streaming_since
            window = FPS_WINDOW_S if since is None else max(0.5, min(FPS_WINDOW_S, now - since))
            for q in (self._in_times, self._out_times):
                while q and q[0] < now - window:
                    q.popleft()
            s = self._session
            if self._last_frame_t is not None:
                lag = now - self._last_frame_t
            else:
                lag = time.monotonic() - (s.started_t if s else time.monotonic())
            lag = max(lag, self._backlog)
            return StreamHealth(
                camera_id=self.camera_id,
                state=self._state,
                fps_in=len(self._in_times) / window,
                fps_out=len(self._out_times) / window,
                lag_s=max(0.0, lag),
                frames_in=self._frames_in,
                frames_out=self._frames_out,
                dropped=self._dropped,
                reconnects=self._reconnects,
                last_error=self._last_error,
                last_frame_t=self._last_frame_t,
            )

    def __enter__(self) -> StreamReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- reader side ---------------------------------------------------------------------

    def _set_state(self, state: str, error: str | None = None) -> None:
        assert state in STATES
        with self._lock:
            if not self._stop.is_set() or state == "stopped":
                self._state = state
            if error is not None:
                self._last_error = error
            if state != "streaming":
                self._streaming_since = None

    def _supervise(self) -> None:
        backoff = self.backoff_initial_s
        attempt = 0
        while not self._stop.is_set():
            if attempt:
                with self._lock:
                    self._reconnects += 1
            attempt += 1
            s = _Session()
            s.thread = threading.Thread(
                target=self._run_session, args=(s,), name=f"ingest-{self.camera_id}-s", daemon=True
            )
            with self._lock:
                self._session, self._backlog = s, 0.0
            s.thread.start()
            while s.thread.is_alive() and not self._stop.is_set():
                s.thread.join(0.1)
                limit = self.read_timeout_s + WATCHDOG_MARGIN_S
                if s.frames == 0:
                    limit += self.open_timeout_s
                if time.monotonic() - s.progress_t > limit:
                    s.abandoned = True
                    s.error = f"no frame for {limit:.1f} s: read hung, session abandoned"
                    break
            if self._stop.is_set():
                break
            if s.ended and self.is_file:
                self._set_state("stopped")
                log.info("camera %s: %s ended", self.camera_id, self.uri_redacted)
                return
            error = s.error or "end of stream"
            self._set_state("reconnecting", error)
            log.warning("camera %s: %s (reconnecting in %.1f s)", self.camera_id, error, backoff)
            backoff = self.backoff_initial_s if s.frames else backoff
            if self._stop.wait(backoff):
                break
            backoff = min(self.backoff_max_s, backoff * 2)
        self._set_state("stopped")

    def _run_session(self, s: _Session) -> None:
        try:
            options = {} if self.is_file else dict(RTSP_OPTIONS)
            if not self.is_file:
                options["timeout"] = str(int(self.read_timeout_s * 1e6))  # socket I/O, µs
            container = av.open(
                self._target, options=options, timeout=(self.open_timeout_s, self.read_timeout_s)
            )
        except Exception as e:  # noqa: BLE001 - every failure to open is a reason to retry
            waited = time.monotonic() - s.started_t
            why = f"no answer in {waited:.1f} s, " if waited >= 0.9 * self.open_timeout_s else ""
            s.error = redact_text(f"cannot open {self._target}: {why}{type(e).__name__}: {e}")
            return
        try:
            s.progress_t = time.monotonic()
            stream = container.streams.video[0]
            rate = float(stream.average_rate or 0) or None
            start = container.start_time
            s.first_pts = start / 1e6 if start is not None and not self.is_file else None
            for packet in container.demux(stream):
                for frame in packet.decode():
                    if s.abandoned or self._stop.is_set():
                        return
                    self._on_frame(s, frame, container, rate)
            s.ended = True
        except Exception as e:  # noqa: BLE001 - decode / network errors: reconnect
            s.error = redact_text(f"{type(e).__name__}: {e}")
        finally:
            try:
                container.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken stream may fail too
                pass

    def _on_frame(self, s: _Session, frame: av.VideoFrame, container, rate: float | None) -> None:  # type: ignore[no-untyped-def]
        if frame.time is not None:
            pts = float(frame.time)
        elif s.last_pts is not None and rate:
            pts = s.last_pts + 1.0 / rate
        else:  # an RTSP session's first packet: FFmpeg counts its pts from it
            pts = s.first_pts if s.first_pts is not None else 0.0
        if s.first_pts is None:
            s.first_pts = pts
        s.last_pts = pts
        if self.is_file and self.realtime_files:
            now = time.monotonic()
            if s.pace_origin is None:
                s.pace_origin = now - pts
            if self._stop.wait(max(0.0, s.pace_origin + pts - now)):
                return
        arrival = time.time()
        s.progress_t = time.monotonic()
        s.frames += 1
        offset = arrival - pts
        s.best_offset = offset if s.best_offset is None else min(s.best_offset, offset)
        keep = True
        if self.sample_fps is not None:
            period = 1.0 / self.sample_fps
            if s.next_due is None or pts >= s.next_due - 0.25 * period:
                s.next_due = (pts if s.next_due is None else s.next_due) + period
                if s.next_due < pts:  # after a gap: start the grid again
                    s.next_due = pts + period
            else:
                keep = False
        image = frame.to_ndarray(format="bgr24") if keep else None
        srt = container.start_time_realtime
        sender_t = None if srt is None else srt / 1e6 + (pts - s.first_pts)
        with self._lock:
            if s.abandoned:
                return
            self._frames_in += 1
            self._in_times.append(arrival)
            self._last_frame_t = arrival
            self._backlog = offset - s.best_offset
            if self._state != "streaming" and not self._stop.is_set():
                self._state = "streaming"
                self._streaming_since = arrival
            if not keep:
                return
            self._delivered += 1
            stamped = self.clock.stamp(arrival_t=arrival, stream_pts_s=pts, sender_t=sender_t)
            if not self._taken:
                self._dropped += 1
            self._slot = CapturedFrame(
                self.camera_id, image, stamped, self._delivered, pts, arrival
            )
            self._taken = False
