#!/usr/bin/python3
"""A GStreamer RTSP server for tests and the demo — a standalone script for the *system*
Python (`/usr/bin/python3`, where PyGObject and GstRtspServer live; the venv cannot import
`gi`). It imports nothing from storelens: `storelens.serving.rtsp_server.RtspServer` starts it
as a subprocess and prepares what it serves.

    /usr/bin/python3 gst_rtsp_server.py --host 127.0.0.1 --port 8554 \\
        --mount cam1=h264:/tmp/cam1.mp4 --mount pattern=testsrc:10 [--shared] [--loop]

Mounts:
- `NAME=h264:PATH` — an MP4 holding H.264 (no B-frames), sent as it is
  (`filesrc ! qtdemux ! h264parse ! rtph264pay`): no decoding or encoding here, the
  server only parses and packetises, paced by the buffers' timestamps against the clock.
- `NAME=testsrc[:FPS]` — a live 640x480 test pattern encoded with x264 (zerolatency,
  ultrafast), for tests that need no file.

Media are non-shared unless `--shared`: each client's session builds its own pipeline and so
gets the file from its first frame (its timestamps count from the file's start). `--loop`
plays a file mount again from the start at its end (a segment seek) instead of ending it;
known seam: the next round's first frame gets the last frame's timestamp (qtdemux ends the
segment at the last frame's start, not its end), so each round runs one frame early.

Prints `READY <port>` on stdout once it listens; SIGTERM / SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PAY = "rtph264pay name=pay0 pt=96 config-interval=1"


def _quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def launch_string(source: str) -> str:
    """The `gst-launch` style description of the media for one mount value."""
    kind, _, arg = source.partition(":")
    if kind == "h264":
        return f"( filesrc location={_quote(arg)} ! qtdemux name=demux ! h264parse ! {PAY} )"
    if kind == "testsrc":
        fps = int(arg or 10)
        return (
            "( videotestsrc is-live=true pattern=ball ! "
            f"video/x-raw,width=640,height=480,framerate={fps}/1 ! videoconvert ! "
            "x264enc tune=zerolatency speed-preset=ultrafast "
            f"key-int-max={max(1, fps)} threads=1 ! {PAY} )"
        )
    raise SystemExit(f"unknown mount source {source!r} (want h264:PATH or testsrc[:FPS])")


def _loop_on_eos(media: GstRtspServer.RTSPMedia) -> None:
    """Replay from the start at the end: a segment seek keeps the running time going on
    (clients see one continuous stream), and the EOS that ends the segment is never sent."""
    pipeline = media.get_element()
    demux = pipeline.get_by_name("demux")
    if demux is None:
        return
    flags = Gst.SeekFlags.SEGMENT

    def on_segment_done(_pad, info):
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.SEGMENT_DONE:
            GLib.idle_add(lambda: demux.seek_simple(Gst.Format.TIME, flags, 0) and False)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def on_pad(_demux, pad):
        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_segment_done)

    demux.connect("pad-added", on_pad)

    def on_prepared(m):
        demux.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | flags, 0)

    media.connect("prepared", on_prepared)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", action="append", default=[], help="NAME=SOURCE")
    parser.add_argument("--shared", action="store_true")
    parser.add_argument("--loop", action="store_true")
    args = parser.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mount:
        name, _, source = spec.partition("=")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_string(source))
        factory.set_shared(args.shared)
        if args.loop and source.startswith("h264:"):
            factory.connect("media-configure", lambda _f, media: _loop_on_eos(media))
        mounts.add_factory("/" + name.strip("/"), factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, lambda: loop.quit() or False)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
