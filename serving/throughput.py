"""Measurements of the live path on this machine, for `storelens bench --only serving`:
`python -m storelens.serving.throughput --videos V1 V2 ... --out FILE.json`.

- **cameras per core**: 2, 4, 6, 8 cameras of 10 fps video, each paced in real time as a live
  camera delivers it, read through the real ingest (newest frame wins: what the detector cannot
  take is dropped), letterboxed, detected by the ONNX detector on one thread and tracked, the
  whole process pinned to one CPU core. Camera-frames per second processed at each count; a
  count is sustained when at least 95 % of its frames are processed;
- **latency** from each frame's decode to its tracks (p50 / p99) at each count;
- **memory**: the process's resident memory at each count (its growth per camera);
- **detector batch size** against latency and throughput (`batch_sweep`, a local
  `OnnxDetector` without Serve).

Each figure is the median of `repeats` passes after a warm-up, with the spread over passes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from storelens.inference.loading import SHIPPED
from storelens.inference.onnx_detector import OnnxDetector
from storelens.serving.letterbox import Letterboxed, letterbox


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _drive(videos: list[Path], seconds: float, *, realtime: bool, detector, imgsz: int) -> dict:  # type: ignore[no-untyped-def]
    """Stream `videos` for `seconds` through ingest → letterbox → detect → track."""
    from storelens.serving.ingest import StreamReader
    from storelens.serving.stream_loop import StreamLoop

    readers = {
        f"cam{i}": StreamReader(f"cam{i}", v, realtime_files=realtime).start()
        for i, v in enumerate(videos)
    }
    loop = StreamLoop(readers, detector, imgsz=imgsz)
    started = time.monotonic()
    try:
        loop.run(until=lambda: time.monotonic() - started >= seconds)
        elapsed = time.monotonic() - started
        processed = sum(loop.processed.values())
        return {
            "frames": processed,
            "seconds": elapsed,
            "frames_per_s": processed / elapsed,
            "latency_s": loop.latency_s,
            "rss_mib": _rss_mib(),
        }
    finally:
        for r in readers.values():
            r.stop()


def measure(
    videos: list[Path],
    *,
    cameras: tuple[int, ...] = (2, 4, 6, 8),
    seconds: float = 10.0,
    repeats: int = 3,
    imgsz: int = 320,
) -> dict:
    """Every figure of the module docstring; `videos` are cycled to make up `cameras` streams."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    detector = OnnxDetector("shipped", imgsz=imgsz, threads=1)
    out: dict = {"imgsz": imgsz, "repeats": repeats, "seconds": seconds, "by_cameras": {}}
    _drive(videos[:1], 3.0, realtime=True, detector=detector, imgsz=imgsz)  # warm-up
    for n in cameras:
        streams = [videos[i % len(videos)] for i in range(n)]
        passes = [
            _drive(streams, seconds, realtime=True, detector=detector, imgsz=imgsz)
            for _ in range(repeats)
        ]
        out["by_cameras"][n] = {
            "frames_per_s": [p["frames_per_s"] for p in passes],
            "latency_p50_ms": [1000 * float(np.percentile(p["latency_s"], 50)) for p in passes],
            "latency_p99_ms": [1000 * float(np.percentile(p["latency_s"], 99)) for p in passes],
            "rss_mib": [p["rss_mib"] for p in passes],
        }
    out["batch_sweep"] = batch_sweep(imgsz=imgsz, threads=1)
    return out


def benchmark_frames(n: int, imgsz: int = 320) -> list[Letterboxed]:
    """`n` letterboxed real photos (the two ultralytics ships, alternating)."""
    import importlib.util

    import cv2

    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.origin is not None
    assets = Path(spec.origin).parent / "assets"
    photos = [cv2.imread(str(assets / name)) for name in ("bus.jpg", "zidane.jpg")]
    return [letterbox(photos[i % len(photos)], imgsz) for i in range(n)]


def batch_sweep(
    sizes: Sequence[int] = (1, 2, 4, 8),
    n: int = 64,
    *,
    model: str = SHIPPED,
    imgsz: int = 320,
    threads: int = 1,
    repeats: int = 5,
) -> list[dict[str, float]]:
    """Latency per batch and frames/s per batch size on a local `OnnxDetector` (no Serve):
    `n` frames in batches of each size, after a warm-up; medians over `repeats` runs."""
    detector = OnnxDetector(model, imgsz=imgsz, threads=threads)
    tensors = np.stack([f.tensor for f in benchmark_frames(n, imgsz)])
    rows = []
    for size in sizes:
        batches = [tensors[i : i + size] for i in range(0, n, size)]
        detector.detect_letterboxed(batches[0])  # warm-up
        per_batch, per_run = [], []
        for _ in range(repeats):
            latencies = []
            for batch in batches:
                start = time.perf_counter()
                detector.detect_letterboxed(batch)
                latencies.append(time.perf_counter() - start)
            per_batch.append(statistics.median(latencies))
            per_run.append(sum(latencies))
        batch_s, run_s = statistics.median(per_batch), statistics.median(per_run)
        rows.append(
            {
                "batch_size": size,
                "batch_ms": round(batch_s * 1000, 2),
                "ms_per_frame": round(batch_s * 1000 / size, 2),
                "frames_per_s": round(n / run_s, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", nargs="+", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.videos, seconds=args.seconds, repeats=args.repeats)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
