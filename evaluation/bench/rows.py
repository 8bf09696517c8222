"""One benchmark row, and timing a call: what every suite of `storelens bench` is made of.

Nothing here asserts a speed: numbers are for people to compare beside their peers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchRow:
    suite: str
    operation: str
    implementation: str
    size: str
    value: float
    unit: str = "ms / call"


def time_call(fn: Callable[[], object], repeats: int = 5, min_seconds: float = 0.05) -> float:
    """Best-of-`repeats` milliseconds per call, each repeat running ≥ `min_seconds`."""
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best * 1e3
