"""Time at the edges: seconds since the Unix epoch (UTC) inside, ISO-8601 with a zone outside."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def to_iso(t: float) -> str:
    """Epoch seconds → ISO-8601 UTC in milliseconds, e.g. `2026-11-25T10:00:00.000+00:00`."""
    if not math.isfinite(t):
        raise ValueError(f"timestamp {t!r} is not a finite number of seconds")
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def from_iso(text: str) -> float:
    """ISO-8601 with an explicit zone → epoch seconds. A time without a zone is refused."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not ISO-8601") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone (add Z or +hh:mm)")
    return parsed.timestamp()
