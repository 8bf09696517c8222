"""Attribution on hand-made stores: each case the issue names, one test each."""

from __future__ import annotations

import pytest

from storelens.attribution import AttributionConfig, attribute
from storelens.records import LineStatus

from .conftest import (
    AISLE,
    GATE,
    LANE_1,
    LANE_2,
    event,
    merge,
    path,
    read,
    sale,
    session,
    shopper_paying,
)


def lines(result, sid):
    return sorted((ln.sku, ln.status.value, ln.qty) for ln in result.baskets[sid].lines)


def test_an_honest_shopper_pays_and_the_sale_decides_the_line(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "A", 10), event(2, "p1", "B", 12)],
        [sale("t1", "pos-1", 30, {"A": 1, "B": 1})],
        [],
        shopper_paying("p1", LANE_1, 30, 40),
    )
    assert lines(result, "s1") == [("A", "paid", 1), ("B", "paid", 1)]
    line = result.baskets["s1"].lines[0]
    assert line.txn_ids == ["t1"] and line.event_ids == ["e1"] and line.confidence > 0.9
    assert result.alerts["s1"] == []


def test_the_party_at_the_till_is_chosen_over_the_one_queueing_behind(layout):
    """Two parties at one lane: the first pays and leaves, the second waits its turn. The
    second's sale comes later; each sale goes to its own party (a global assignment)."""
    paths = merge(
        shopper_paying("p1", LANE_1, 30, 40),
        path("p2", [(0, AISLE), (26, (8.1, 1.95)), (31.4, LANE_1), (37.4, GATE), (45, GATE)]),
    )
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40), session(2, ["p2"], 0, 45)],
        [event(1, "p1", "A", 10), event(2, "p2", "A", 11)],
        [sale("t1", "pos-1", 30, {"A": 1}), sale("t2", "pos-1", 36, {"A": 1})],
        [],
        paths,
    )
    assert result.pos_matches["t1"].session_id == "s1"
    assert result.pos_matches["t2"].session_id == "s2"
    assert lines(result, "s1") == lines(result, "s2") == [("A", "paid", 1)]


def test_a_party_pays_together_for_what_each_member_took(layout):
    paths = merge(
        shopper_paying("p1", LANE_2, 30, 40),
        path("p2", [(0, AISLE), (25, (11.1, 1.65)), (31.5, GATE), (41, GATE)]),
    )
    result = attribute(
        layout,
        [session(1, ["p1", "p2"], 0, 41)],
        [event(1, "p1", "A", 10), event(2, "p2", "B", 12), event(3, "p2", "B", 13)],
        [sale("t1", "pos-2", 30, {"A": 1, "B": 2})],
        [],
        paths,
    )
    assert lines(result, "s1") == [("A", "paid", 1), ("B", "paid", 2)]


def test_a_void_leaves_its_item_unpaid_and_raises_an_alert_with_evidence(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "A", 10), event(2, "p1", "B", 12)],
        [
            sale("t1", "pos-1", 30, {"A": 1, "B": 1}),
            sale("t2", "pos-1", 31, {"B": 1}, kind="void", refers_to="t1"),
        ],
        [],
        shopper_paying("p1", LANE_1, 30, 40),
    )
    assert lines(result, "s1") == [("A", "paid", 1), ("B", "unpaid", 1)]
    (alert,) = result.alerts["s1"]
    assert alert.kind == "unpaid" and [(a.sku, a.qty) for a in alert.lines] == [("B", 1)]
    assert alert.event_ids == ["e2"] and alert.txn_ids == ["t1", "t2"]
    assert alert.basket_id == result.baskets["s1"].basket_id


def test_a_refund_of_an_earlier_sale_takes_the_item_back_off_the_bill(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "A", 10)],
        [
            sale("t1", "pos-1", 30, {"A": 2}),
            sale("t9", "pos-2", 35, {"A": 1}, kind="refund", refers_to="t1"),
            sale("t8", "pos-2", 36, {"C": 1}, kind="refund", refers_to="before-opening"),
        ],
        [],
        shopper_paying("p1", LANE_1, 30, 40),
    )
    # two paid, one refunded: one paid unit against one seen pick; the unknown refund is nobody's
    assert lines(result, "s1") == [("A", "paid", 1)]
    assert result.pos_matches["t8"].session_id is None


def test_rfid_reads_a_tag_leaving_unpaid_and_a_duplicate_read_counts_once(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "A", 10), event(2, "p1", "B", 12)],
        [sale("t1", "pos-1", 30, {"A": 1})],
        [read(1, "AB12CD34", "B", 40.1), read(2, "AB12CD34", "B", 40.3)],
        shopper_paying("p1", LANE_1, 30, 40),
    )
    assert lines(result, "s1") == [("A", "paid", 1), ("B", "rfid_exit_unpaid", 1)]
    line = result.baskets["s1"].lines[1]
    assert line.epcs == ["AB12CD34"] and line.read_ids == ["r1", "r2"]
    assert [a.kind.value for a in result.alerts["s1"]] == ["rfid_exit_unpaid"]


def test_a_missed_rfid_read_still_leaves_the_camera_seen_item_unpaid(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "B", 12)],
        [],
        [],
        path("p1", [(0, AISLE), (39, GATE), (40, GATE)]),
    )
    assert lines(result, "s1") == [("B", "unpaid", 1)]


def test_a_tag_seen_leaving_that_no_camera_saw_picked_is_still_taken(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [],
        [],
        [read(1, "FFEE0011", "B", 40.2)],
        path("p1", [(0, AISLE), (39, GATE), (40, GATE)]),
    )
    assert lines(result, "s1") == [("B", "rfid_exit_unpaid", 1)]


def test_a_shopper_who_pays_for_an_item_never_seen_picked_is_paid_unseen(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "A", 10)],
        [sale("t1", "pos-1", 30, {"A": 1, "Z": 1})],
        [],
        shopper_paying("p1", LANE_1, 30, 40),
    )
    assert lines(result, "s1") == [("A", "paid", 1), ("Z", "paid_unseen", 1)]
    assert result.alerts["s1"] == []


def test_put_backs_cancel_picks(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, 40)],
        [event(1, "p1", "A", 10), event(2, "p1", "A", 14, kind="put_back")],
        [],
        [],
        path("p1", [(0, AISLE), (40, GATE)]),
    )
    assert result.baskets["s1"].lines == []


def test_terminal_clock_offsets_are_estimated_from_the_data(layout):
    """pos-2's clock runs 3 s fast: the payments still land on the right parties and the offset
    is found within a grid step."""
    n, sessions, events, txns, paths = 8, [], [], [], []
    for i in range(n):
        pay = 30 + 20 * i
        sessions.append(session(i, [f"p{i}"], pay - 25, pay + 10))
        events.append(event(i, f"p{i}", f"S{i}", pay - 15))
        txns.append(sale(f"t{i}", "pos-2", pay + 3.0, {f"S{i}": 1}))
        paths.append(shopper_paying(f"p{i}", LANE_2, pay, pay + 10, enter_t=pay - 25))
    result = attribute(layout, sessions, events, txns, [], merge(*paths))
    assert abs(result.terminal_offsets_s["pos-2"] - 3.0) <= 0.25
    assert all(result.pos_matches[f"t{i}"].session_id == f"s{i}" for i in range(n))


def test_an_open_session_gets_no_basket_and_an_unmatched_sale_stays_unattributed(layout):
    result = attribute(
        layout,
        [session(1, ["p1"], 0, None)],
        [event(1, "p1", "A", 10)],
        [sale("t1", "pos-1", 300, {"A": 1})],
        [],
        path("p1", [(0, AISLE), (50, AISLE)]),
    )
    assert result.baskets == {} and result.pos_matches["t1"].session_id is None


def test_the_alert_threshold_is_a_setting(layout):
    """A pick seen at confidence 0.8 leaves an unpaid line of that confidence: an alert at the
    default threshold (0.5), none at 0.9."""
    doubtful = event(1, "p1", "B", 12).model_copy(update={"confidence": 0.8})
    args = (
        layout,
        [session(1, ["p1"], 0, 40)],
        [doubtful],
        [],
        [],
        path("p1", [(0, AISLE), (40, GATE)]),
    )
    (line,) = attribute(*args).baskets["s1"].lines
    assert line.status == LineStatus.UNPAID and line.confidence == pytest.approx(0.8)
    assert attribute(*args).alerts["s1"]
    assert attribute(*args, config=AttributionConfig(alert_threshold=0.9)).alerts["s1"] == []
