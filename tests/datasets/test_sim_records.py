"""Behaviour ground truth (no rendering): POS, RFID, events and sessions agree with each other
and with what physically happened, across presets and seeds."""

import json
from collections import Counter

import numpy as np
import pytest

from storelens.datasets.sim.behaviour import StoreBehaviour
from storelens.datasets.sim.scenario import load_scenario
from storelens.datasets.sim.stock import LEFT_STORE
from storelens.datasets.sim.truth import TRUTH_FILES, TruthSession, truth_rows
from storelens.records import PosTransaction, RfidRead

CASES = [("theft", 1), ("theft", 2), ("crowded", 3), ("easy", 4), ("occluded", 5)]


@pytest.fixture(scope="module", params=CASES, ids=[f"{p}-seed{s}" for p, s in CASES])
def timeline(request, demo_layout):
    preset, seed = request.param
    scenario = load_scenario(preset).with_overrides(
        duration_s=150
    )  # long enough for everyone to leave
    return StoreBehaviour(demo_layout, scenario, seed=seed, fps=10).run()


def test_every_pos_line_is_an_item_the_party_carried_out(timeline):
    """Sale lines = paid + voided units of that party; unscanned units are in no sale."""
    sales = {t["txn_id"]: t for t in timeline.pos if t["kind"] == "sale"}
    voids = [t for t in timeline.pos if t["kind"] == "void"]
    complete = [s for s in timeline.sessions if s["complete"]]
    assert len(complete) >= len(timeline.sessions) // 2, "most parties should finish in 150 s"
    for session in complete:
        units = session["units"]
        for txn_id in session["txn_ids"]:
            if txn_id not in sales:
                continue
            scanned = Counter(
                u["sku"] for u in units if u["txn_id"] == txn_id or u["reason"] == "voided"
            )
            lines = Counter({line["sku"]: line["qty"] for line in sales[txn_id]["lines"]})
            assert lines == scanned, session["session_id"]
        unscanned = [u for u in units if u["reason"] == "unscanned"]
        for u in unscanned:
            assert u["status"] == "unpaid" and u["txn_id"] is None
    for void in voids:
        sale = sales[void["refers_to"]]
        sold = Counter({line["sku"]: line["qty"] for line in sale["lines"]})
        voided = Counter({line["sku"]: line["qty"] for line in void["lines"]})
        assert not voided - sold, "a void undoes more than the sale held"


def test_every_rfid_read_is_a_tagged_unit_that_left(timeline, demo_layout):
    tagged = {p.sku for p in demo_layout.catalogue if p.rfid_tagged}
    readers = {r for g in demo_layout.rfid_gates for r in g.reader_ids}
    left = np.flatnonzero(timeline.unit_status[-1] == LEFT_STORE)
    left_epcs = {str(timeline.unit_epc[u]): str(timeline.unit_sku[u]) for u in left}
    exits = [s["exit_t"] for s in timeline.sessions if s["exit_t"] is not None]
    assert timeline.rfid, "no RFID reads at all: the scenario should take tagged items out"
    for read in timeline.rfid:
        RfidRead.model_validate({k: v for k, v in read.items()})
        assert read["epc"] in left_epcs, read
        assert left_epcs[read["epc"]] == read["sku"] and read["sku"] in tagged
        assert read["reader_id"] in readers
        assert read["t"] >= min(exits)
    ids = [r["read_id"] for r in timeline.rfid]
    assert len(ids) == len(set(ids))


def test_sessions_match_the_physical_basket(timeline):
    """A session's units are exactly the units its members carried through the exit."""
    persons_by_party: dict[int, list[int]] = {}
    for p in timeline.persons:
        persons_by_party.setdefault(p.party, []).append(p.index)
    for session in timeline.sessions:
        if not session["complete"]:
            continue
        uids = [u["unit_id"] for u in session["units"]]
        assert len(uids) == len(set(uids))
        for u in session["units"]:
            index = int(u["unit_id"][1:])
            assert timeline.unit_status[-1, index] == LEFT_STORE
        expected = Counter()
        for u in session["units"]:
            status = (
                u["status"]
                if not (u["status"] == "unpaid" and u["rfid_read"])
                else "rfid_exit_unpaid"
            )
            expected[(u["sku"], status)] += 1
        assert {
            (line["sku"], line["status"]): line["qty"] for line in session["expected_lines"]
        } == expected
        assert session["exit_t"] > session["enter_t"]


def test_records_validate_against_the_domain_types(timeline):
    for txn in timeline.pos:
        PosTransaction.model_validate(txn)
    for ev in timeline.events:
        assert ev["kind"] in ("pick", "put_back") and ev["shopper_id"].startswith("p")
    rows = truth_rows(timeline)
    for name, model in TRUTH_FILES.items():
        for row in rows[name]:
            record = model.model_validate(row)
            dumped = record.model_dump(mode="json")
            assert {k: dumped[k] for k in row} == json.loads(json.dumps(row)), (name, row)
    sessions = {s["session_id"]: s for s in timeline.sessions}
    for ev in timeline.events:
        assert ev["shopper_id"] in sessions[ev["session_id"]]["shopper_ids"]


def test_picks_and_put_backs_balance_with_the_shelves(timeline):
    """Units that left a shelf are exactly the picks minus the put-backs (restocks aside)."""
    picks = Counter(e["unit_id"] for e in timeline.events if e["kind"] == "pick")
    backs = Counter(e["unit_id"] for e in timeline.events if e["kind"] == "put_back")
    for uid in picks:
        index = int(uid[1:])
        on_shelf_now = timeline.unit_status[-1, index] == 0
        assert picks[uid] - backs[uid] == (0 if on_shelf_now else 1), uid


def test_theft_preset_produces_unpaid_lines():
    from storelens.layout import StoreLayout
    from tests.conftest import DEMO_STORE

    scenario = load_scenario("theft").with_overrides(duration_s=150)
    statuses = Counter()
    for seed in range(3):
        tl = StoreBehaviour(StoreLayout.from_yaml(DEMO_STORE), scenario, seed=seed, fps=10).run()
        statuses.update(line["status"] for s in tl.sessions for line in s["expected_lines"])
    assert statuses["unpaid"] + statuses["rfid_exit_unpaid"] > 0 and statuses["paid"] > 0


def test_same_seed_same_behaviour_and_different_seed_differs(demo_layout):
    scenario = load_scenario("crowded").with_overrides(duration_s=30)
    a = StoreBehaviour(demo_layout, scenario, seed=11, fps=10).run()
    b = StoreBehaviour(demo_layout, scenario, seed=11, fps=10).run()
    c = StoreBehaviour(demo_layout, scenario, seed=12, fps=10).run()
    np.testing.assert_array_equal(a.position, b.position)
    assert a.events == b.events and a.pos == b.pos and a.rfid == b.rfid
    assert not np.array_equal(a.position, c.position)


def test_people_never_walk_through_shelves(timeline, demo_layout):
    from storelens.geometry import points_in_polygon

    pts = timeline.position[timeline.active]
    for shelf in demo_layout.shelves:
        assert not points_in_polygon(pts, shelf.polygon).any(), shelf.shelf_id


def test_refunds_are_pos_noise_outside_every_session(demo_layout):
    scenario = load_scenario("theft").with_overrides(duration_s=30)
    tl = StoreBehaviour(demo_layout, scenario, seed=0, fps=10).run()
    refunds = [t for t in tl.pos if t["kind"] == "refund"]
    assert len(refunds) == scenario.checkout.refunds >= 1
    in_sessions = {txn for s in tl.sessions for txn in s["txn_ids"]}
    for txn in refunds:
        PosTransaction.model_validate(txn)
        assert txn["txn_id"] not in in_sessions and txn["refers_to"]
        assert tl.t[0] <= txn["t"] <= tl.t[-1]


def test_the_ledger_books_a_visit_on_its_own(demo_layout):
    """Ledger without behaviour: everything scanned then voided, every tag read twice."""
    from storelens.datasets.sim.ledger import Ledger
    from storelens.datasets.sim.stock import Stock, build_facings

    scenario = load_scenario("easy").with_overrides(
        checkout={"unscanned_rate": 0.0, "void_rate": 1.0, "refunds": 2},
        rfid={"miss_rate": 0.0, "duplicate_rate": 1.0},
    )
    rng = np.random.default_rng(0)
    stock = Stock(demo_layout, build_facings(demo_layout), rng)
    ledger = Ledger(demo_layout, stock, scenario, rng, entrance_id="in", exit_id="out")
    tagged = np.flatnonzero(stock.epc != "")[:2]
    units = [*tagged.tolist(), int(np.flatnonzero(stock.epc == "")[0])]
    t0 = scenario.start_epoch
    ledger.open_session(0, ["p001"], t0, pays=True)
    ledger.open_session(1, ["p002"], t0 + 1, pays=False)  # never leaves
    ledger.checkout(0, units, "pos-1", t0 + 10)
    ledger.gate(np.asarray(units), t0 + 20, party=0)
    ledger.exit(0, t0 + 20, np.asarray(units))
    ledger.refunds(["pos-1", "pos-2"], t0, t0 + 30)
    sale, void, *refunds = ledger.pos
    assert (sale["kind"], void["kind"], void["refers_to"]) == ("sale", "void", sale["txn_id"])
    assert sale["lines"] == void["lines"] and sum(line["qty"] for line in sale["lines"]) == 3
    assert [r["kind"] for r in refunds] == ["refund", "refund"]
    assert len(ledger.rfid) == 4 and {r["reader_id"] for r in ledger.rfid} == set(
        demo_layout.rfid_gates[0].reader_ids[:2]
    )
    done, inside = ledger.close({0: True, 1: False})
    assert [u["reason"] for u in done["units"]] == ["voided"] * 3
    assert Counter(u["rfid_read"] for u in done["units"]) == Counter({True: 2, False: 1})
    assert {line["status"] for line in done["expected_lines"]} <= {"unpaid", "rfid_exit_unpaid"}
    assert done["exit_t"] == t0 + 20 and done["txn_ids"] == [sale["txn_id"], void["txn_id"]]
    assert (inside["exit_t"], inside["units"], inside["complete"]) == (None, [], False)
    for row in (done, inside):
        TruthSession.model_validate(row)
