"""Builders for hand-made stores: sessions, events, POS, RFID and floor paths in the demo
store, so each attribution case is a few readable lines."""

from __future__ import annotations

import numpy as np
import pytest

from storelens.attribution import FloorPaths
from storelens.records import PosTransaction, RfidRead, Session, ShelfEvent

T0 = 1_800_000_000.0
STORE = "demo-store"
LANE_1 = (8.1, 1.2)  # pos-1's pay spot in the demo store
LANE_2 = (10.2, 1.2)  # pos-2's
GATE = (4.5, 0.35)
AISLE = (4.0, 4.0)


def session(n: int, shoppers: list[str], enter: float, exit_: float | None) -> Session:
    return Session(
        session_id=f"s{n}",
        store_id=STORE,
        shopper_ids=shoppers,
        enter_t=T0 + enter,
        exit_t=None if exit_ is None else T0 + exit_,
    )


def event(n: int, shopper: str, sku: str, t: float, kind: str = "pick") -> ShelfEvent:
    return ShelfEvent(
        event_id=f"e{n}",
        store_id=STORE,
        kind=kind,
        t=T0 + t,
        sku=sku,
        shelf_id="shelf-veg",
        shopper_id=shopper,
    )


def sale(
    txn: str,
    terminal: str,
    t: float,
    lines: dict[str, int],
    kind: str = "sale",
    refers_to: str | None = None,
) -> PosTransaction:
    return PosTransaction(
        txn_id=txn,
        store_id=STORE,
        terminal_id=terminal,
        t=T0 + t,
        kind=kind,
        lines=[{"sku": s, "qty": q, "unit_price": 1.0} for s, q in lines.items()],
        refers_to=refers_to,
    )


def read(n: int, epc: str, sku: str, t: float) -> RfidRead:
    return RfidRead(
        read_id=f"r{n}", store_id=STORE, reader_id="rfid-exit-a", epc=epc, sku=sku, t=T0 + t
    )


def path(shopper: str, legs: list[tuple[float, tuple[float, float]]]) -> FloorPaths:
    """A shopper standing at each leg's point from its time until the next leg's (5 Hz)."""
    ts, xy = [], []
    for (t, p), (t_next, _) in zip(legs, [*legs[1:], (legs[-1][0] + 0.2, None)], strict=True):
        steps = np.arange(t, t_next, 0.2)
        ts.extend(T0 + steps)
        xy.extend([p] * len(steps))
    return FloorPaths(np.array([shopper] * len(ts)), np.array(ts), np.array(xy, float))


def merge(*paths: FloorPaths) -> FloorPaths:
    return FloorPaths(
        np.concatenate([p.shopper_id for p in paths]),
        np.concatenate([p.t for p in paths]),
        np.concatenate([p.xy for p in paths]),
    )


def shopper_paying(
    shopper: str, lane: tuple[float, float], pay_t: float, exit_t: float, enter_t: float = 0.0
) -> FloorPaths:
    """In the aisle, at the lane from 4 s before paying until 1.4 s after, at the gate, gone."""
    return path(shopper, [(enter_t, AISLE), (pay_t - 4, lane), (pay_t + 1.4, GATE), (exit_t, GATE)])


@pytest.fixture
def layout(demo_layout):
    return demo_layout
