"""One benchmark row, and timing: what every suite of `storelens bench` is made of.

Speed is always a median over repeated passes after a warm-up, reported with its spread (the
fastest and slowest pass). Nothing here asserts a speed: numbers are for people to compare
beside their peers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BenchRow:
    suite: str
    operation: str
    implementation: str
    size: str
    value: float
    unit: str = "ms / call"
    low: float | None = None  # spread of a timed value over its repeats (min and max)
    high: float | None = None

    @classmethod
    def timed(
        cls, suite: str, operation: str, implementation: str, size: str, timing: Timing, unit: str
    ) -> BenchRow:
        return cls(
            suite, operation, implementation, size, timing.median, unit, timing.low, timing.high
        )


@dataclass(frozen=True)
class Timing:
    """The median of `repeats` measured passes after warm-up, with the fastest and slowest."""

    median: float
    low: float
    high: float
    repeats: int

    def scaled(self, factor: float) -> Timing:
        return Timing(self.median * factor, self.low * factor, self.high * factor, self.repeats)

    def as_rate(self, work: float) -> Timing:
        """`work` units over these seconds as units per second (low = the slowest pass)."""
        return Timing(work / self.median, work / self.high, work / self.low, self.repeats)


def repeat_timing(measure: Callable[[], float], repeats: int = 5, warmup: int = 1) -> Timing:
    """`measure()` runs one pass and returns its seconds; `warmup` passes are discarded."""
    for _ in range(warmup):
        measure()
    seconds = np.array([measure() for _ in range(repeats)])
    return Timing(float(np.median(seconds)), float(seconds.min()), float(seconds.max()), repeats)


def time_call(fn: Callable[[], object], repeats: int = 7, min_seconds: float = 0.05) -> Timing:
    """Milliseconds per call of `fn`: the median over `repeats` passes (after one warm-up),
    each pass calling `fn` until `min_seconds` have gone by."""

    def one_pass() -> float:
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return elapsed / calls

    return repeat_timing(one_pass, repeats=repeats).scaled(1e3)
