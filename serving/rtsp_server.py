"""A real RTSP server for tests and the demo: `RtspServer` runs GStreamer's RTSP server
(`serving/gst_rtsp_server.py`, under the system `/usr/bin/python3`, where PyGObject lives) as a
subprocess in its own process group, and prepares what it serves.

**What a mount serves.** A video file (the simulator writes MPEG-4 Part 2, `mp4v`, which this
machine's GStreamer cannot decode: no gst-libav) is transcoded once, at `start()`, with PyAV
into a *retimed H.264 copy*: libx264 ultrafast/zerolatency (no B-frames), a keyframe about every
wall-clock second, every timestamp divided by `rate`. The server then only parses and packetises
(`qtdemux ! h264parse ! rtph264pay config-interval=1`), so a stream costs it ~0.35 % of a
core (measured: six 640x480 10 fps streams at once), and a file played at `rate=0.25` lasts four
times as long (a 2-core machine cannot detect six cameras at 10 fps in real time). Transcoding
takes ~0.1 s per 80 frames at 640x480. A mount value `"testsrc"` (or `"testsrc:FPS"`) is a live
test pattern that GStreamer encodes itself (x264, one thread): ~3.4 % of a core per stream.
The script itself takes ~2 s to come up (`start()` / `restart()`); a reader's first frame
follows ~0.35 s after it connects.

**Clock (non-shared media).** Each client session gets its own pipeline and so the file from
its first frame: the stream's timestamps count from the file's start, and
`stream_pts_s * rate` is the position in the original video — what `ingest.StreamClock` needs to
stamp frames with the simulation's clock. A reconnecting reader, or any reader after
`restart()`, starts the file over (its timestamps restart at 0). `shared=True` gives all clients
one pipeline (a late joiner starts mid-file; its timestamps count from its own first packet).

Typical use::

    with RtspServer({"cam1": Path("cam1.mp4")}, rate=0.25) as server:
        uri = server.url("cam1")  # rtsp://127.0.0.1:<port>/cam1
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad python3-gi"
)
_PROBE = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')\n"
    "from gi.repository import Gst, GstRtspServer\n"
    "Gst.init(None)\n"
    "missing = [e for e in ('qtdemux', 'h264parse', 'rtph264pay', 'x264enc', 'videotestsrc')"
    " if Gst.ElementFactory.find(e) is None]\n"
    "print(' '.join(missing))\n"
)
_problem_cache: list[str | None] = []


class RtspServerError(RuntimeError):
    """The RTSP server could not start (carries the script's stderr)."""


def rtsp_server_problem() -> str | None:
    """None when a GStreamer RTSP server can run here, else a one-line reason."""
    if _problem_cache:
        return _problem_cache[0]
    fix = f"install the Debian packages {PACKAGES}"
    if not Path(SYSTEM_PYTHON).exists():
        problem: str | None = f"no {SYSTEM_PYTHON} to run GStreamer's RTSP server: {fix}"
    else:
        try:
            done = subprocess.run(
                [SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            problem = f"{SYSTEM_PYTHON} cannot probe GStreamer ({e}): {fix}"
        else:
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["failed"])[-1]
                problem = f"{SYSTEM_PYTHON} cannot import GstRtspServer ({last}): {fix}"
            elif done.stdout.strip():
                problem = f"GStreamer lacks the elements {done.stdout.strip()}: {fix}"
            else:
                problem = None
    _problem_cache.append(problem)
    return problem


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (it may be taken before it is used: a small race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def prepare_h264(src: Path, dst: Path, *, rate: float = 1.0) -> Path:
    """Transcode `src` (anything FFmpeg reads) into an MP4 of H.264 with every timestamp
    divided by `rate`: no B-frames, a keyframe about every wall-clock second."""
    import av  # the venv's PyAV (pinned); imported here so probing the server needs no av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = inp.streams.video[0]
        fps = float(s.average_rate or 10)
        o = out.add_stream("libx264", rate=Fraction(fps / rate).limit_denominator(1000))
        o.width, o.height, o.pix_fmt = s.codec_context.width, s.codec_context.height, "yuv420p"
        o.time_base = o.codec_context.time_base = Fraction(1, 1000)
        gop = max(1, round(fps * rate))
        o.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "bf": "0"}
        # every packet lasts one frame: the MP4's duration then ends one frame after the last
        # one (a loop's next round starts there instead of on top of the last frame)
        frame_ms = round(1000 / fps / rate)
        t0: float | None = None
        for n, frame in enumerate(inp.decode(s)):
            t = float(frame.time) if frame.time is not None else n / fps
            t0 = t if t0 is None else t0
            f = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
            f.pts, f.time_base = round((t - t0) / rate * 1000), Fraction(1, 1000)
            for packet in o.encode(f):
                packet.duration = frame_ms
                out.mux(packet)
        for packet in o.encode():
            packet.duration = frame_ms
            out.mux(packet)
    return dst


class RtspServer:
    """GStreamer's RTSP server in a subprocess, serving `mounts` (name -> file, or
    `"testsrc"` / `"testsrc:FPS"`) at `rtsp://host:port/name`.

    Args:
        mounts: mount name -> video file path, or a test-pattern spec.
        host: the address to listen on (loopback by default).
        port: the TCP port; None picks a free one (kept across `restart()`).
        rate: playback speed of file mounts (0.25 = four times slower than real time).
        loop: play file mounts again from the start instead of ending them.
        shared: one pipeline for all clients of a mount (default: each client its own).
        start_timeout_s: how long `start()` waits for the port to accept connections.
    """

    def __init__(
        self,
        mounts: Mapping[str, Path | str],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        rate: float = 1.0,
        loop: bool = False,
        shared: bool = False,
        start_timeout_s: float = 20.0,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.mounts = dict(mounts)
        self.host = host
        self.port = free_port(host) if port is None else int(port)
        self.rate = float(rate)
        self.loop = loop
        self.shared = shared
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._specs: list[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def url(self, mount: str) -> str:
        return f"rtsp://{self.host}:{self.port}/{mount.strip('/')}"

    def _mount_specs(self) -> list[str]:
        if self._specs is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="storelens-rtsp-"))
            specs = []
            for name, source in self.mounts.items():
                if isinstance(source, str) and source.split(":", 1)[0] == "testsrc":
                    specs.append(f"{name}={source}")
                    continue
                src = Path(source)
                if not src.is_file():
                    raise RtspServerError(f"mount {name!r}: no file {src}")
                dst = prepare_h264(src, self._workdir / f"{name.strip('/')}.mp4", rate=self.rate)
                specs.append(f"{name}=h264:{dst}")
            self._specs = specs
        return self._specs

    def start(self) -> RtspServer:
        """Start the server; returns once its port accepts TCP connections."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        cmd = [SYSTEM_PYTHON, str(SCRIPT), "--host", self.host, "--port", str(self.port)]
        for spec in self._mount_specs():
            cmd += ["--mount", spec]
        cmd += ["--shared"] * self.shared + ["--loop"] * self.loop
        assert self._workdir is not None
        err_path = self._workdir / "stderr.txt"
        with open(err_path, "wb") as err:
            self._proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        stderr = err_path.read_text(errors="replace").strip()
        code = self._proc.poll()
        self._kill()
        raise RtspServerError(
            f"RTSP server on {self.host}:{self.port} did not come up "
            f"({'exited ' + str(code) if code is not None else 'timed out'}): {stderr[-2000:]}"
        )

    def _kill(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, timeout_s)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # anything left in the group (the script starts no children; belt and braces)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(timeout_s)

    def restart(self) -> RtspServer:
        """Stop and start again on the same port (file copies are kept)."""
        self._kill()
        return self.start()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove the prepared copies."""
        self._kill()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir, self._specs = None, None

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
