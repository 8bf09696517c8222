"""Per-key rate limits: a token bucket per API key, in memory (each replica limits what it
serves; a key spread over n replicas gets up to n times the rate)."""

from __future__ import annotations

import threading
import time

DEFAULT_RATE_PER_S = 50.0
DEFAULT_BURST = 100


class RateLimits:
    """`take(key)` spends one token of `key`'s bucket and returns 0, or, when it is empty, the
    seconds until a token is back (nothing is spent)."""

    def __init__(self, rate_per_s: float, burst: int, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s {rate_per_s} and burst {burst} must be positive")
        self.rate_per_s, self.burst, self._clock = rate_per_s, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate_per_s
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
