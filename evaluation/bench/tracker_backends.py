"""Tracker backends: tracker-only camera-frames per second of one batched `StoreTracker` on
each array backend — numpy (the reference), cuda-shim (the CUDA kernels compiled as C++ and
run on one CPU thread) and cuda (the same kernels on a GPU, only where one is present).

Protocol:
- inputs: synthetic walking boxes (`tracking_speed.synthetic_streams`, 5 % misses, scores
  0.3–1.0) for 8, 64 and 256 cameras x 30 people at 10 fps, all cameras in one `update` call
  per frame, the default `TrackerConfig` (assignment included: `lap` on the host for every
  backend);
- per backend and size: a fresh tracker per pass, one warm-up pass (it also builds the
  kernels), then the median of `REPEATS` passes, spread = slowest and fastest pass;
- the warm-up pass of every backend is compared with numpy's: a backend that reports other
  track ids than numpy fails the suite instead of writing a figure.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from storelens.detections import Detections
from storelens.evaluation.bench.rows import BenchRow, repeat_timing

CAMERAS = (8, 64, 256)
PEOPLE = 30
FRAMES = {8: 100, 64: 40, 256: 20}
REPEATS = 5
SUITE = "tracker backends"


def _run(backend: str, batches: list[Detections]) -> tuple[float, list[np.ndarray]]:
    """Seconds for one pass of a fresh tracker over `batches`, and the ids it reported."""
    from storelens.tracking.tracker import IdCounter, StoreTracker

    tracker = StoreTracker(id_counter=IdCounter(), backend=backend)
    ids = []
    start = time.perf_counter()
    for batch in batches:
        ids.append(tracker.update(batch).tracker_id)
    return time.perf_counter() - start, ids


def _backends() -> tuple[list[str], str]:
    """The backends to measure, and a sentence on the GPU run for the page."""
    from storelens.tracking.kernels import gpu_loader

    loader, reasons = gpu_loader()
    if loader is None:
        return ["numpy", "cuda-shim"], (
            "No GPU on this machine (" + "; ".join(reasons) + "): the `cuda` rows wait for a "
            "machine with one (`storelens bench --only tracker-backends` there)."
        )
    return ["numpy", "cuda-shim", "cuda"], f"`cuda` ran on the GPU through {loader}."


def backends_suite(
    cameras: tuple[int, ...] = CAMERAS,
    people: int = PEOPLE,
    frames: dict[int, int] | None = None,
    repeats: int = REPEATS,
    page: Path | None = None,
) -> list[BenchRow]:
    """Rows of camera-frames / s per backend and camera count; writes the suite's page."""
    from storelens.evaluation.bench.pages import write_page
    from storelens.evaluation.bench.tracking_speed import synthetic_streams

    frames = frames or FRAMES
    backends, gpu_note = _backends()
    rows = []
    for n_cams in cameras:
        n_frames = frames.get(n_cams, 20)
        batches = [
            Detections.concatenate(parts)
            for parts in synthetic_streams(n_cams, people, n_frames, seed=n_cams)
        ]
        size = f"{n_cams} cams x {people} people x {n_frames} frames"
        reference = None
        for backend in backends:
            _, ids = _run(backend, batches)  # warm-up, and the parity check
            if reference is None:
                reference = ids
            elif not all(np.array_equal(a, b) for a, b in zip(ids, reference, strict=True)):
                raise RuntimeError(f"{backend} reported other track ids than numpy at {size}")
            rate = repeat_timing(
                lambda backend=backend, batches=batches: _run(backend, batches)[0],
                repeats,
                warmup=0,
            ).as_rate(n_cams * n_frames)
            rows.append(
                BenchRow.timed(SUITE, "camera-frames / s", backend, size, rate, "camera-frames / s")
            )
    write_page("tracker-backends", rows, f"{__doc__}\n{gpu_note}\n", page)
    return rows
