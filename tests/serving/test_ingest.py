"""Stream ingest against a real RTSP server (GStreamer's, in a subprocess): frames arrive in
order and on time, a reader reconnects by itself after the server goes away, a dead camera
does not disturb a live one, newest-frame-wins drops what a slow consumer cannot take, files
play in real time with stream-clock stamps, and nothing is left running afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from storelens.serving.ingest import CapturedFrame, StreamClock, StreamReader
from storelens.serving.rtsp_server import RtspServer, free_port, rtsp_server_problem

FPS = 10
PROBLEM = rtsp_server_problem()
needs_rtsp = pytest.mark.skipif(PROBLEM is not None, reason=f"no RTSP server: {PROBLEM}")


def make_video(path: Path, seconds: float, fps: int = FPS) -> Path:
    """A simulator-like file: mp4v, 640x480, a bar sweeping across and the frame number."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    assert writer.isOpened()
    for i in range(round(seconds * fps)):
        img = np.full((480, 640, 3), 40, np.uint8)
        x = (i * 8) % 600
        img[:, x : x + 40] = (255, 200, 0)
        cv2.putText(img, str(i), (80, 240), cv2.FONT_HERSHEY_SIMPLEX, 4, (0, 255, 0), 6)
        writer.write(img)
    writer.release()
    return path


def collect(reader: StreamReader, seconds: float, poll_s: float = 0.02) -> list[CapturedFrame]:
    frames, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        f = reader.latest()
        if f is not None:
            frames.append(f)
        time.sleep(poll_s)
    return frames


def wait_for(cond, timeout_s: float, poll_s: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(poll_s)
    return bool(cond())


def assert_in_order(frames: list[CapturedFrame]) -> None:
    idx = [f.frame_index for f in frames]
    pts = [f.stream_pts_s for f in frames]
    stamps = [f.timestamp for f in frames]
    assert idx == sorted(set(idx)), "a frame older than one already seen"
    assert all(p is not None for p in pts)
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False)), pts
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return make_video(tmp_path_factory.mktemp("ingest") / "cam.mp4", 8.0)


@pytest.fixture(scope="module")
def server(video: Path):  # type: ignore[no-untyped-def]
    if PROBLEM is not None:
        pytest.skip(f"no RTSP server: {PROBLEM}")
    with RtspServer({"cam": video, "cam2": video, "pattern": "testsrc"}) as srv:
        yield srv


@needs_rtsp
def test_reads_a_real_rtsp_stream(server: RtspServer) -> None:
    """(a) Frames arrive from the file's start, in order, at the source rate."""
    t0 = time.time()
    with StreamReader("cam", server.url("cam")) as reader:
        frames = collect(reader, 3.5)
        health = reader.health()
    assert frames, reader.health()
    first_latency = frames[0].arrival_t - t0
    assert first_latency < 2.5, f"first frame after {first_latency:.2f} s"
    assert frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8
    assert frames[0].stream_pts_s is not None and frames[0].stream_pts_s < 0.5
    assert_in_order(frames)
    assert health.state == "streaming", health
    assert abs(health.fps_in - FPS) < 2.5, health
    assert health.lag_s < 1.0, health
    assert health.reconnects == 0 and health.last_error == ""


@needs_rtsp
def test_reconnects_after_the_server_comes_back(video: Path) -> None:
    """(b) The server is away for 10 s and comes back on the same port: the reader reconnects
    by itself, frames flow again and its lag recovers."""
    with RtspServer({"cam": video}) as srv:
        reader = StreamReader("cam", srv.url("cam"), backoff_initial_s=0.25, backoff_max_s=1.0)
        with reader:
            assert wait_for(lambda: reader.health().state == "streaming", 5), reader.health()
            srv.stop()
            down_t = time.monotonic()
            assert wait_for(lambda: reader.health().state == "reconnecting", 6), reader.health()
            time.sleep(max(0.0, 10 - (time.monotonic() - down_t)))
            before = reader.health()
            assert before.state == "reconnecting" and before.last_error
            srv.restart()
            up_t = time.monotonic()
            assert wait_for(lambda: reader.health().frames_in > before.frames_in + 5, 8)
            back_s = time.monotonic() - up_t
            reader.latest()  # the frame held from before the outage
            frames = collect(reader, 1.5)
            after = reader.health()
    assert after.reconnects >= 1, after
    assert after.state == "streaming" and after.lag_s < 1.0, after
    assert frames and frames[-1].arrival_t > time.time() - 2.0
    assert back_s < 6, f"streaming again {back_s:.1f} s after the server came back"


@needs_rtsp
def test_a_dead_camera_does_not_disturb_a_live_one(server: RtspServer) -> None:
    """(c) A stream that never opens: the reader keeps retrying and says why (without the
    URI's password); a reader of a good stream beside it carries on."""
    dead_uri = f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/x"
    dead = StreamReader("dead", dead_uri, open_timeout_s=2.0, backoff_initial_s=0.2)
    live = StreamReader("live", server.url("cam2"))
    with dead, live:
        frames = collect(live, 3.0)
        bad, good = dead.health(), live.health()
    assert bad.state == "reconnecting" and bad.reconnects >= 1 and bad.frames_in == 0, bad
    assert "refused" in bad.last_error.lower(), bad.last_error
    assert "s3cret" not in bad.last_error and "admin:***@" in bad.last_error
    assert good.state == "streaming" and good.reconnects == 0, good
    assert len(frames) >= 2.0 * FPS
    assert_in_order(frames)


def test_a_server_that_never_answers_times_out() -> None:
    """A camera that accepts the connection and then says nothing: the open times out (no
    thread blocked for ever), the reader says so and retries; stop() returns at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    uri = f"rtsp://u:pw@127.0.0.1:{listener.getsockname()[1]}/x"
    reader = StreamReader("mute", uri, open_timeout_s=1.0, read_timeout_s=1.0).start()
    try:
        assert wait_for(lambda: reader.health().state == "reconnecting", 4), reader.health()
        h = reader.health()
        assert "no answer in" in h.last_error and "pw" not in h.last_error, h
        t0 = time.monotonic()
        reader.stop(timeout_s=3)
        assert time.monotonic() - t0 < 3 and reader.threads() == []
    finally:
        listener.close()
        for c in held:
            c.close()


@needs_rtsp
def test_newest_frame_wins_and_sample_fps(server: RtspServer) -> None:
    """(d) A slow consumer gets the newest frame each time, never an older one after a newer,
    and what it could not take counts as dropped; `sample_fps` halves the delivered rate."""
    slow = StreamReader("slow", server.url("pattern"))
    sampled = StreamReader("sampled", server.url("pattern"), sample_fps=FPS / 2)
    with slow, sampled:
        assert wait_for(lambda: slow.health().frames_in > 3, 5)
        assert wait_for(lambda: sampled.health().frames_in > 3, 5)
        slow_frames: list[CapturedFrame] = []
        got: list[CapturedFrame] = []

        def take_slowly() -> None:
            for _ in range(9):
                f = slow.latest()
                if f is not None:
                    slow_frames.append(f)
                time.sleep(0.35)

        t = threading.Thread(target=take_slowly)
        t.start()
        sampled.latest()  # what waited while nobody took
        start = sampled.health()
        got = collect(sampled, 3.0)
        t.join()
        s_health, h = slow.health(), sampled.health()
    assert len(slow_frames) >= 6
    assert_in_order(slow_frames)
    assert s_health.dropped > 0 and s_health.frames_out == len(slow_frames)
    gaps = np.diff([f.frame_index for f in slow_frames])
    assert gaps.min() >= 2, "a slow consumer should skip to the newest frame"
    decoded = h.frames_in - start.frames_in
    assert 0.35 < len(got) / decoded < 0.65, (len(got), decoded)
    spacing = np.diff([f.stream_pts_s for f in got])
    assert abs(float(np.median(spacing)) - 2.0 / FPS) < 0.02, spacing
    assert h.dropped == start.dropped  # the fast consumer took everything it was offered


def test_a_file_plays_in_real_time_with_stream_clock_stamps(tmp_path: Path) -> None:
    """(e) A plain path through the same reader: paced by its timestamps, stamped
    origin + pts * scale, and it stops (no error) at its end."""
    path = make_video(tmp_path / "short.mp4", 2.0)
    origin = 1_000_000.0
    reader = StreamReader("file", path, clock=StreamClock(origin, scale=0.5))
    with reader:
        frames = collect(reader, 1.2, poll_s=0.01)
        assert wait_for(lambda: reader.health().state == "stopped", 3), reader.health()
        frames += collect(reader, 0.1)
        h = reader.health()
    assert_in_order(frames)
    for f in frames:
        assert f.timestamp == pytest.approx(origin + f.stream_pts_s * 0.5, abs=1e-9)
    wall = np.array([f.arrival_t for f in frames]) - frames[0].arrival_t
    pts = np.array([f.stream_pts_s for f in frames]) - frames[0].stream_pts_s
    assert np.abs(wall - pts).max() < 0.1, "not paced by the file's timestamps"
    assert frames[-1].stream_pts_s == pytest.approx(1.9, abs=0.01)
    assert h.state == "stopped" and h.last_error == "" and h.frames_in == 2 * FPS, h
    # file:// works too, unpaced when asked
    fast = StreamReader("file2", path.as_uri(), realtime_files=False).start()
    assert wait_for(lambda: fast.health().state == "stopped", 2), fast.health()
    fast.stop()
    assert fast.health().frames_in == 2 * FPS


@needs_rtsp
def test_rate_slows_the_stream_and_stream_clock_undoes_it(video: Path) -> None:
    """`rate=0.5` serves the file at half speed; StreamClock(scale=rate) gives back the
    original timeline (the demo's simulation clock)."""
    with RtspServer({"cam": video}, rate=0.5) as srv:
        with StreamReader("slowcam", srv.url("cam"), clock=StreamClock(0.0, 0.5)) as reader:
            frames = collect(reader, 3.5)
            h = reader.health()
    assert abs(h.fps_in - FPS * 0.5) < 1.5, h
    assert_in_order(frames)
    sim = np.array([f.timestamp for f in frames])
    assert np.median(np.diff(sim)) == pytest.approx(1.0 / FPS, abs=0.01)
    assert sim[0] < 0.5


@needs_rtsp
def test_loop_plays_the_file_again(tmp_path: Path) -> None:
    """`loop=True`: a 2 s file keeps streaming past its end, its timestamps going on."""
    with RtspServer({"cam": make_video(tmp_path / "two.mp4", 2.0)}, loop=True) as srv:
        with StreamReader("loop", srv.url("cam")) as reader:
            frames = collect(reader, 3.5)
            h = reader.health()
    pts = [f.stream_pts_s for f in frames]
    # known seam: the next round's first frame carries the last frame's timestamp (qtdemux
    # ends its segment at the last frame's start), so non-decreasing rather than increasing
    assert all(b >= a for a, b in zip(pts, pts[1:], strict=False)), pts
    assert pts[-1] > 2.5 and h.state == "streaming" and h.reconnects == 0, h


@needs_rtsp
def test_clean_shutdown_leaves_nothing_running(video: Path) -> None:
    """(f) After stop() the server's process is gone (by pid) and the reader's threads too."""
    srv = RtspServer({"cam": video}).start()
    pid = srv.pid
    assert pid is not None
    reader = StreamReader("bye", srv.url("cam")).start()
    assert wait_for(lambda: reader.health().frames_in > 0, 5)
    srv.stop()
    reader.stop(timeout_s=5)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert srv.pid is None
    assert reader.threads() == []
    assert not [t for t in threading.enumerate() if t.name.startswith("ingest-bye")]
    assert reader.health().state == "stopped"
    with pytest.raises(OSError), socket.create_connection((srv.host, srv.port), timeout=0.5):
        pass
