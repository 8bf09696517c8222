"""Progress bars for long loops (rich), switched off when no description is given."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def maybe_track(items: Sequence[T], description: str | None) -> Iterable[T]:
    """`items` with a rich progress bar labelled `description`, or bare when it is None."""
    if description is None:
        return items
    from rich.progress import track

    return track(items, description=description, transient=True)
