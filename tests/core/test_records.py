import pytest
from pydantic import ValidationError

from storelens.records import (
    Basket,
    BasketLine,
    FrameRange,
    LineStatus,
    PosKind,
    PosLine,
    PosTransaction,
    RfidRead,
    Session,
    ShelfEvent,
)
from storelens.timeutil import from_iso, to_iso

T0 = 1_790_000_000.0


def test_shelf_event_round_trips_json():
    ev = ShelfEvent(
        event_id="ev-1",
        store_id="demo-store",
        kind="pick",
        t=T0,
        sku="SKU-028",
        shelf_id="shelf-juice",
        shopper_id="p-3",
        confidence=0.8,
        evidence=[FrameRange(camera_id="ceil-nw", first_frame=10, last_frame=14)],
    )
    assert ShelfEvent.model_validate_json(ev.model_dump_json()) == ev
    assert ev.camera_ids == ["ceil-nw"]


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (
            ShelfEvent,
            {
                "event_id": "e",
                "store_id": "s",
                "kind": "grab",
                "t": T0,
                "sku": "a",
                "shelf_id": "b",
                "shopper_id": "c",
            },
            "kind",
        ),
        (
            ShelfEvent,
            {
                "event_id": "e",
                "store_id": "s",
                "kind": "pick",
                "t": float("nan"),
                "sku": "a",
                "shelf_id": "b",
                "shopper_id": "c",
            },
            "finite seconds",
        ),
        (FrameRange, {"camera_id": "c", "first_frame": 5, "last_frame": 2}, "before first_frame"),
        (
            Session,
            {
                "session_id": "s1",
                "store_id": "s",
                "shopper_ids": ["p"],
                "enter_t": T0,
                "exit_t": T0 - 1,
            },
            "before enter_t",
        ),
        (
            Session,
            {"session_id": "s1", "store_id": "s", "shopper_ids": [], "enter_t": T0},
            "shopper_ids",
        ),
        (
            PosTransaction,
            {"txn_id": "t1", "store_id": "s", "terminal_id": "pos-1", "t": T0, "kind": "refund"},
            "needs refers_to",
        ),
        (PosLine, {"sku": "a", "qty": 0, "unit_price": 1.0}, "qty"),
        (
            RfidRead,
            {"read_id": "r", "store_id": "s", "reader_id": "x", "epc": "not-hex!", "t": T0},
            "epc",
        ),
    ],
)
def test_invalid_records_name_the_field(model, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        model(**kwargs)


def test_pos_total_and_basket_quantities():
    txn = PosTransaction(
        txn_id="t1",
        store_id="s",
        terminal_id="pos-1",
        t=T0,
        kind=PosKind.SALE,
        lines=[PosLine(sku="a", qty=2, unit_price=1.5), PosLine(sku="b", qty=1, unit_price=3)],
    )
    assert txn.total == pytest.approx(6.0)
    basket = Basket(
        session_id="s1",
        store_id="s",
        lines=[
            BasketLine(sku="a", qty=2, status=LineStatus.PAID, txn_ids=["t1"]),
            BasketLine(sku="c", qty=1, status=LineStatus.UNPAID),
            BasketLine(sku="a", qty=1, status=LineStatus.UNPAID),
        ],
    )
    assert basket.quantities() == {"a": 3, "c": 1}
    assert basket.quantities(LineStatus.UNPAID) == {"c": 1, "a": 1}
    assert {s.value for s in LineStatus} == {"paid", "unpaid", "paid_unseen", "rfid_exit_unpaid"}


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-11-25T10:00:00+00:00", 1795600800.0),
        ("2026-11-25T11:00:00+01:00", 1795600800.0),
        ("2026-11-25T10:00:00Z", 1795600800.0),
    ],
)
def test_iso_at_the_edge(iso, expected):
    assert from_iso(iso) == expected
    assert from_iso(to_iso(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"), [("2026-11-25T10:00:00", "no time zone"), ("yesterday", "not ISO-8601")]
)
def test_iso_refuses_ambiguous_times(text, message):
    with pytest.raises(ValueError, match=message):
        from_iso(text)
