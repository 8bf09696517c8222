"""Tracker speed: tracker-only updates on synthetic walking boxes, 20 people per camera, at 1 / 8
/ 64 cameras; storelens runs one batched tracker, each peer one instance per camera (boxmot's in
its own environment). Camera-frames per second and peak Python memory."""

from __future__ import annotations

import logging
import time
import tracemalloc

import numpy as np

from storelens.detections import Detections
from storelens.evaluation.bench.rows import BenchRow, Timing, repeat_timing
from storelens.evaluation.peers.boxmot_peers import BOXMOT_PEERS, time_boxmot, unavailable_reason
from storelens.evaluation.peers.trackers import PEERS, PeerTracker
from storelens.tracking.tracker import StoreTracker

log = logging.getLogger(__name__)


def synthetic_streams(
    n_cams: int, people: int, frames: int, seed: int = 0
) -> list[list[Detections]]:
    """frames x cameras of `people` walking boxes with 5% misses, as per-camera Detections."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([0, 0], [1800, 900], (n_cams, people, 2))
    vel = rng.uniform(-60, 60, (n_cams, people, 2))
    out = []
    for k in range(frames):
        t = k / 10.0
        xy = start + vel * t + rng.normal(0, 1.5, start.shape)
        seen = rng.random((n_cams, people)) > 0.05
        out.append(
            [
                Detections(
                    xyxy=np.concatenate([xy[c, seen[c]], xy[c, seen[c]] + [40, 100]], axis=1),
                    confidence=rng.uniform(0.3, 1.0, int(seen[c].sum())),
                    camera_id=f"cam-{c:03d}",
                    timestamp=t,
                )
                for c in range(n_cams)
            ]
        )
    return out


# frames per camera count: enough for a stable rate (each pass takes at least ~1 s for storelens)
FRAMES = {1: 300, 8: 150, 64: 100}
REPEATS = 5


def _time_ours(streams: list[list[Detections]]) -> float:
    tracker = StoreTracker()
    batches = [Detections.concatenate(parts) for parts in streams]
    start = time.perf_counter()
    for batch in batches:
        tracker.update(batch)
    return time.perf_counter() - start


def _time_peer(name: str, streams: list[list[Detections]]) -> float:
    peers = [PeerTracker(name, 10.0) for _ in streams[0]]
    start = time.perf_counter()
    for parts in streams:
        for peer, dets in zip(peers, parts, strict=True):
            peer.step(dets.xyxy, dets.confidence)
    return time.perf_counter() - start


def _peak_mb(fn, *args) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def speed_suite(cameras: tuple[int, ...] = (1, 8, 64), people: int = 20) -> list[BenchRow]:
    """Camera-frames per second: median of `REPEATS` passes after a warm-up pass, with the
    slowest and fastest pass; peak traced Python memory from one more pass."""
    rows = []
    boxmot_reason = unavailable_reason()
    if boxmot_reason is not None:
        log.warning("boxmot peers skipped: %s", boxmot_reason)
    suite = "tracking speed (CPU)"
    for n_cams in cameras:
        frames = FRAMES.get(n_cams, 100)
        streams = synthetic_streams(n_cams, people, frames)
        size = f"{n_cams} cams x {people} people x {frames} frames"
        runners = {"storelens StoreTracker (batched)": (_time_ours, (streams,))}
        runners.update({peer: (_time_peer, (peer, streams)) for peer in PEERS})
        work = n_cams * frames
        for name, (fn, args) in runners.items():
            rate = repeat_timing(lambda fn=fn, args=args: fn(*args), REPEATS).as_rate(work)
            rows += [
                BenchRow.timed(suite, "camera-frames / s", name, size, rate, "camera-frames / s"),
                BenchRow(suite, "peak Python memory", name, size, _peak_mb(fn, *args), "MiB"),
            ]
        if boxmot_reason is None:
            for name, tracker in BOXMOT_PEERS.items():
                passes = [time_boxmot(tracker, streams, 10.0) for _ in range(REPEATS)]
                seconds = np.array([p[0] for p in passes])
                rate = Timing(
                    float(np.median(seconds)), float(seconds.min()), float(seconds.max()), REPEATS
                ).as_rate(work)
                rows += [
                    BenchRow.timed(
                        suite, "camera-frames / s", name, size, rate, "camera-frames / s"
                    ),
                    BenchRow(suite, "peak Python memory", name, size, passes[0][1], "MiB"),
                ]
    return rows
