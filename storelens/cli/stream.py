"""`storelens stream VIDEO... --out DIR`: recorded footage through the live ingest path.

Each video is served as an RTSP stream from a local GStreamer RTSP server (or, with `--files`
or where no RTSP server can run, read as a file through the same reader), read by the live
ingest (`StreamReader`: timeouts, reconnects, sampling, newest frame wins), letterboxed,
detected and tracked by the same code the store worker runs (`StreamLoop`). Writes, per video,
`DIR/<name>.csv` (the tracks: t, track id, x1, y1, x2, y2, score; t is seconds into the video)
and `DIR/<name>.mp4` (the video with its tracks drawn), and prints what each stream did.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import check_output_dir, service_errors, user_errors

console = Console()


def stream(
    videos: list[Path] = typer.Argument(..., help="video files (any codec FFmpeg reads)"),
    out: Path = typer.Option(..., help="output folder"),
    model: str = typer.Option("shipped", help="detector: shipped, a weights file, models:/…"),
    sample_fps: float = typer.Option(5.0, min=0.1, help="frames per second of video taken"),
    files: bool = typer.Option(False, help="read the files directly instead of over RTSP"),
    rate: float = typer.Option(1.0, min=0.1, max=8.0, help="replay speed (x real time)"),
    imgsz: int = typer.Option(320, min=32, help="detector input size"),
) -> None:
    """Stream recorded videos through the live ingest, detector and tracker; save the tracks."""
    import time

    import cv2
    import numpy as np

    from storelens.evaluation.annotate_video import annotate_video
    from storelens.inference.onnx_detector import OnnxDetector
    from storelens.serving.frame_steps import TRACK_ROW_FORMAT
    from storelens.serving.ingest import StreamClock, StreamReader
    from storelens.serving.rtsp_server import RtspServer, rtsp_server_problem
    from storelens.serving.stream_loop import StreamLoop

    with user_errors():
        names = {}
        for v in videos:
            if not v.is_file():
                raise FileNotFoundError(f"{v}: no such video")
            names[v.stem] = v
        if len(names) != len(videos):
            raise ValueError(f"videos: two files share a name ({[v.name for v in videos]})")
        info = {}
        for name, v in names.items():
            cap = cv2.VideoCapture(str(v))
            fps, n = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            if not fps or n <= 0:
                raise ValueError(f"{v}: not a video OpenCV can read (fps {fps}, frames {n})")
            info[name] = (fps, n)
        check_output_dir(out)
        detector = OnnxDetector(model, imgsz=imgsz, threads=1)
    with user_errors(), service_errors("streaming"):
        problem = "--files" if files else rtsp_server_problem()
        server = None
        if problem is None:
            server = RtspServer(names, rate=rate).start()
            uris = {name: server.url(name) for name in names}
            console.print(f"serving {len(names)} RTSP streams at rtsp://127.0.0.1:{server.port}/")
        else:
            uris = {name: str(v) for name, v in names.items()}
            rate = 1.0  # a file is paced by its own timestamps
            console.print(f"reading the files through the same ingest ({problem})")
        readers = {
            name: StreamReader(
                name, uri, sample_fps=sample_fps * rate, clock=StreamClock(0.0, rate)
            ).start()
            for name, uri in uris.items()
        }
        # a replayed stream starts over when it ends: a camera is done at its last sampled frame
        end_t = {name: (n - 1) / fps - 1.0 / sample_fps for name, (fps, n) in info.items()}
        loop = StreamLoop(readers, detector, imgsz=imgsz, end_t=end_t)
        started = time.monotonic()
        limit = max(end_t.values()) / rate * 1.5 + 30
        try:
            with console.status("streaming…"):
                loop.run(until=lambda: loop.done or time.monotonic() - started > limit)
            health = {name: r.health() for name, r in readers.items()}
            completed = loop.done
        finally:
            for r in readers.values():
                r.stop()
            if server is not None:
                server.stop()

    if not completed:
        console.print(
            f"[yellow]warning:[/] stopped after {limit:.0f} s before every stream ended; "
            "the tracks so far are saved"
        )
    with user_errors():
        out.mkdir(parents=True, exist_ok=True)
    table = Table(title="recorded footage through the live path")
    for col in (
        "video",
        "frames in",
        "tracked",
        "persons / frame (≥ 0.25)",
        "tracks",
        "reconnects",
        "to",
    ):
        table.add_column(col)
    for name, rows in loop.tracks.items():
        csv = out / f"{name}.csv"
        np.savetxt(csv, rows, fmt=TRACK_ROW_FORMAT)
        fps, n = info[name]
        video = annotate_video(names[name], np.arange(n) / fps, csv, out / f"{name}.mp4")
        h = health[name]
        table.add_row(
            name,
            str(h.frames_in),
            str(loop.processed[name]),
            f"{loop.detected[name] / max(loop.processed[name], 1):.1f}",
            str(len(np.unique(rows[:, 1]))),
            str(h.reconnects),
            str(video),
        )
    console.print(table)
