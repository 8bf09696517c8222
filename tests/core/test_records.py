import pytest
from pydantic import ValidationError

from storelens.records import (
    Alert,
    AlertKind,
    AlertLine,
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
from storelens.revision import DerivedRecord, Provenance
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


def test_derived_records_share_the_revision_contract_and_inputs_do_not():
    for derived in (ShelfEvent, Session, Basket, Alert):
        assert issubclass(derived, DerivedRecord)
        assert {"revision", "supersedes", "provenance", derived.id_field} <= set(
            derived.model_fields
        )
    for given in (PosTransaction, RfidRead):
        assert not issubclass(given, DerivedRecord)
        assert "revision" not in given.model_fields


def unpaid_alert(**overrides):
    fields = {
        "store_id": "demo-store",
        "session_id": "demo-store-s004",
        "kind": "unpaid",
        "t": T0,
        "lines": [{"sku": "SKU-028", "qty": 2}],
        "confidence": 0.9,
        "provenance": Provenance(model_versions={"attribution": "0.1.0"}, config_hash="ab12cd34"),
    }
    return Alert(**{**fields, **overrides})


def test_alert_is_one_per_session_and_kind_and_is_withdrawn_by_a_revision():
    alert = unpaid_alert()
    assert alert.alert_id.startswith("alr-") and alert.lines == [AlertLine(sku="SKU-028", qty=2)]
    assert unpaid_alert(t=T0 + 30, confidence=0.5).alert_id == alert.alert_id
    assert unpaid_alert(kind=AlertKind.RFID_EXIT_UNPAID).alert_id != alert.alert_id
    assert unpaid_alert(session_id="demo-store-s005").alert_id != alert.alert_id
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    late_sale = alert.revised(lines=[{"sku": "SKU-028", "qty": 1}], confidence=0.6)
    assert (late_sale.revision, late_sale.supersedes) == (2, alert.key)
    withdrawn = late_sale.revised(lines=[])
    assert withdrawn.withdrawn and not late_sale.withdrawn and withdrawn.revision == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lines": []}, "at least one line"),
        ({"kind": "paid"}, "kind"),
        ({"confidence": 1.2}, "confidence"),
        ({"lines": [{"sku": "SKU-028", "qty": 0}]}, "qty"),
        ({"t": float("inf")}, "finite seconds"),
    ],
)
def test_invalid_alerts_name_the_field(overrides, message):
    with pytest.raises(ValidationError, match=message):
        unpaid_alert(**overrides)


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
