"""Typed ground truth: every line the simulator writes reads back as its record type, derived
records carry the revision contract and the simulator's provenance, ids repeat across runs of
the same seed, and a malformed record stops the write naming the file, field and value."""

import dataclasses
import json
from collections import Counter

import pytest

from storelens import __version__
from storelens.datasets.sim.behaviour import StoreBehaviour
from storelens.datasets.sim.scenario import load_scenario
from storelens.datasets.sim.truth import (
    TRUTH_FILES,
    TruthSession,
    TruthShelfEvent,
    read_truth,
    simulator_provenance,
    write_truth,
)
from storelens.datasets.sim.writer import RecordError, read_jsonl
from storelens.datasets.simulate import simulate
from storelens.records import LineStatus, Session, ShelfEvent
from storelens.revision import DerivedRecord

SEED = 1


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("theft").with_overrides(duration_s=150)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo_layout, scenario):
    """Records only (no rendering): seed 1 twice, seed 2 once."""
    root = tmp_path_factory.mktemp("truth")
    out = {}
    for name, seed in (("a", SEED), ("again", SEED), ("other", SEED + 1)):
        simulate(demo_layout, scenario, seed, root / name, render=False, show_progress=False)
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def truth(runs):
    return read_truth(runs["a"])


@pytest.fixture(scope="module")
def fps(runs):
    return json.loads((runs["a"] / "manifest.json").read_text())["fps"]


def test_every_line_reads_back_as_its_typed_record(runs, truth):
    for name, model in TRUTH_FILES.items():
        lines = read_jsonl(runs["a"] / name)
        assert lines, f"{name} is empty: the theft preset should produce every kind of record"
        records = truth[name]
        assert all(type(r) is model for r in records)
        # nothing is lost or coerced on the way: the typed record is the line
        assert [r.model_dump(mode="json") for r in records] == lines, name


def test_ground_truth_is_the_core_record_plus_what_only_the_simulator_knows(truth):
    events, sessions = truth["events.jsonl"], truth["sessions.jsonl"]
    assert all(isinstance(e, ShelfEvent) for e in events)
    assert all(isinstance(s, Session) for s in sessions)
    for ev in events:
        core = ShelfEvent.model_validate(ev.model_dump(include=set(ShelfEvent.model_fields)))
        assert (core.event_id, core.t, core.sku) == (ev.event_id, ev.t, ev.sku)
    with pytest.raises(ValueError, match="unit_id"):
        ShelfEvent.model_validate(events[0].model_dump())  # the core forbids the extras


def test_derived_records_carry_revision_1_and_the_simulators_provenance(
    truth, demo_layout, scenario, fps
):
    expected = simulator_provenance(demo_layout, scenario, SEED, fps)
    assert expected.model_versions == {"simulator": __version__}
    derived = truth["events.jsonl"] + truth["sessions.jsonl"]
    assert derived and all(isinstance(r, DerivedRecord) for r in derived)
    for record in derived:
        assert (record.revision, record.supersedes, record.provenance) == (1, None, expected)
    for name in ("pos.jsonl", "rfid.jsonl", "staff_events.jsonl"):
        assert all(not isinstance(r, DerivedRecord) for r in truth[name]), name
    other_seed = simulator_provenance(demo_layout, scenario, SEED + 1, fps)
    other_rate = simulator_provenance(demo_layout, scenario, SEED, fps * 2)
    assert len({expected.config_hash, other_seed.config_hash, other_rate.config_hash}) == 3


WHAT_AN_EVENT_IS_ABOUT = {"store_id", "kind", "t", "sku", "shelf_id", "shopper_id"}


def _ids(truth):
    """The simulator's own ids, and the derived ids a tracker's events would get."""
    events = truth["events.jsonl"]
    core = [ShelfEvent(**e.model_dump(include=WHAT_AN_EVENT_IS_ABOUT)) for e in events]
    return {
        "events": [e.event_id for e in events],
        "sessions": [s.session_id for s in truth["sessions.jsonl"]],
        "baskets": [s.expected_basket().basket_id for s in truth["sessions.jsonl"]],
        "derived events": [e.event_id for e in core],
    }


def test_ids_are_the_same_across_runs_of_the_same_seed(runs, truth):
    ids, again = _ids(truth), _ids(read_truth(runs["again"]))
    assert ids == again
    assert len(set(ids["derived events"])) == len(ids["derived events"]), (
        "two distinct simulated events got one derived id: the id's time resolution is too coarse"
    )
    other = _ids(read_truth(runs["other"]))
    assert ids["derived events"] != other["derived events"]
    for name in TRUTH_FILES:
        assert (runs["a"] / name).read_bytes() == (runs["again"] / name).read_bytes(), name


def test_expected_basket_is_the_sessions_expected_lines_with_their_evidence(truth):
    statuses = Counter()
    for session in truth["sessions.jsonl"]:
        basket = session.expected_basket()
        assert (basket.session_id, basket.provenance) == (session.session_id, session.provenance)
        assert Counter({(line.sku, line.status): line.qty for line in basket.lines}) == Counter(
            {(line.sku, line.status): line.qty for line in session.expected_lines}
        )
        for line in basket.lines:
            statuses[line.status] += line.qty
            assert bool(line.txn_ids) == (line.status == LineStatus.PAID), line
            if line.status == LineStatus.RFID_EXIT_UNPAID:
                assert line.epcs and set(line.epcs) <= set(session.epcs_read)
    assert statuses[LineStatus.PAID] and statuses[LineStatus.UNPAID]


def test_a_ground_truth_revision_keeps_its_type_and_id(truth):
    session = next(s for s in truth["sessions.jsonl"] if s.complete)
    corrected = session.revised(shopper_ids=["p999"])
    assert type(corrected) is TruthSession and corrected.session_id == session.session_id
    assert (corrected.revision, corrected.supersedes) == (2, f"{session.session_id}:r1")
    event = truth["events.jsonl"][0]
    assert type(event.revised(sku="SKU-001")) is TruthShelfEvent


@pytest.fixture(scope="module")
def timeline(demo_layout, scenario):
    return StoreBehaviour(demo_layout, scenario, seed=SEED, fps=10).run()


def _corrupt(rows, index, path, value):
    rows = json.loads(json.dumps(rows))  # a deep copy: the fixture stays intact
    target = rows[index]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return rows


def _first(rows, where):
    return next(i for i, row in enumerate(rows) if where(row))


@pytest.mark.parametrize(
    ("file", "field", "where", "path", "value", "message"),
    [
        (
            "events.jsonl",
            "events",
            lambda r: r["event_id"].endswith("04"),
            ["level"],
            -1,
            r"record 4: .*level = -1",
        ),
        (
            "events.jsonl",
            "events",
            lambda r: r["kind"] == "pick",
            ["kind"],
            "grab",
            r"kind = 'grab'",
        ),
        (
            "events.jsonl",
            "events",
            lambda r: r["kind"] == "pick",
            ["misplaced"],
            True,
            r"only a put_back can misplace",
        ),
        ("pos.jsonl", "pos", lambda r: r["lines"], ["lines", 0, "qty"], 0, r"lines\.0\.qty = 0"),
        ("rfid.jsonl", "rfid", lambda r: True, ["epc"], "not-hex", r"epc = 'not-hex'"),
        (
            "sessions.jsonl",
            "sessions",
            lambda r: r["units"],
            ["units", 0, "status"],
            "lost",
            r"units\.0\.status = 'lost'",
        ),
        (
            "sessions.jsonl",
            "sessions",
            lambda r: r["complete"],
            ["complete"],
            False,
            r"a session has an exit time",
        ),
        ("staff_events.jsonl", "staff_events", lambda r: True, ["t"], float("nan"), r"\bt = nan"),
    ],
    ids=["level", "kind", "misplaced-pick", "pos-qty", "epc", "unit-status", "complete", "nan"],
)
def test_a_malformed_record_stops_the_write_naming_file_field_and_value(
    timeline, tmp_path, demo_layout, scenario, fps, file, field, where, path, value, message
):
    rows = getattr(timeline, field)
    bad = dataclasses.replace(timeline, **{field: _corrupt(rows, _first(rows, where), path, value)})
    prov = simulator_provenance(demo_layout, scenario, SEED, fps)
    with pytest.raises(RecordError, match=message) as err:
        write_truth(tmp_path, bad, prov)
    assert str(tmp_path / file) in str(err.value)
    assert not list(tmp_path.iterdir()), "nothing is written when a record is malformed"
    write_truth(tmp_path, timeline, prov)  # the untouched timeline writes fine
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(TRUTH_FILES)
