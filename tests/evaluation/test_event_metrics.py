"""The shelf-event metric on a simulated store's true events: perfect answers score 1, every
kind of mistake costs what the definition says, and nothing is credited twice."""

import numpy as np
import pytest

from storelens.datasets.sim.truth import read_truth
from storelens.evaluation.event_metrics import TOLERANCE_S, score_events
from storelens.records import ShelfEvent


@pytest.fixture(scope="module")
def truth(store_run):
    events = read_truth(store_run.run_dir)["events.jsonl"]
    assert len(events) > 50
    return events


def _as_predicted(event, **change):
    """A pipeline's answer: the true event's core fields, changed as asked, its id derived."""
    keep = set(ShelfEvent.model_fields) - {"event_id", "revision", "supersedes", "provenance"}
    return ShelfEvent(**{**event.model_dump(include=keep), **change})


def test_the_true_events_score_one(truth):
    m = score_events(truth, [_as_predicted(e) for e in truth])
    assert m.f1 == 1 and m.f1_any_shopper == 1 and m.precision == 1 and m.recall == 1
    assert m.sku_confusion == []
    assert set(m.per_kind) == {e.kind.value for e in truth}
    assert all(s.f1 == 1 for s in m.per_kind.values())
    lo, hi = m.score.interval["f1"]
    assert lo == hi == 1


def test_late_early_wrong_sku_wrong_shopper_and_duplicates_cost_what_they_should(truth):
    events = truth[:40]
    late = [_as_predicted(e, t=e.t_end + TOLERANCE_S + 0.2) for e in events[:5]]  # too late
    early = [_as_predicted(e, t=e.t_start - 0.2) for e in events[5:10]]  # before the hand went in
    in_time = [_as_predicted(e, t=e.t_end + 0.5 * TOLERANCE_S) for e in events[10:20]]
    other = "SKU-999"
    wrong_sku = [_as_predicted(e, sku=other) for e in events[20:25]]
    wrong_shopper = [_as_predicted(e, shopper_id="p999") for e in events[25:30]]
    exact = [_as_predicted(e) for e in events[30:40]]
    duplicates = [_as_predicted(e, t=e.t + 0.01) for e in events[30:35]]
    predicted = late + early + in_time + wrong_sku + wrong_shopper + exact + duplicates
    m = score_events(events, predicted)
    # matched with the shopper condition: in time (10) + exact (10); duplicates are extra
    assert m.score.matched == 20
    assert m.precision == pytest.approx(20 / len(predicted))
    assert m.recall == pytest.approx(20 / 40)
    assert m.any_shopper.matched == 25  # the wrong shoppers count without the condition
    assert sorted({(t, p) for t, p, _ in m.sku_confusion}) == sorted(
        {(e.sku, other) for e in events[20:25]}
    )
    assert sum(n for *_, n in m.sku_confusion) == 5
    lo, hi = m.score.interval["f1"]
    assert lo < m.f1 < hi


def test_a_track_is_mapped_to_its_shopper(truth):
    events = truth[:10]
    predicted = [_as_predicted(e, shopper_id=f"ceil-sw:{i}") for i, e in enumerate(events)]
    assert score_events(events, predicted).score.matched == 0
    mapping = {f"ceil-sw:{i}": e.shopper_id for i, e in enumerate(events)}
    assert score_events(events, predicted, shopper_of=mapping).f1 == 1


def test_kinds_are_scored_apart_and_nothing_scores_none(truth):
    picks = [e for e in truth if e.kind.value == "pick"][:10]
    as_put_back = [_as_predicted(e, kind="put_back") for e in picks]
    m = score_events(picks, as_put_back)
    assert m.score.matched == 0 and m.per_kind["pick"].recall == 0
    assert m.per_kind["put_back"].precision == 0
    empty = score_events([], [])
    assert empty.f1 is None and empty.precision is None
    assert score_events(picks, []).f1 == 0
    with pytest.raises(ValueError, match="tolerance_s"):
        score_events(picks, [], tolerance_s=-1)
    assert np.isfinite(score_events(picks, as_put_back).any_shopper.f1)


def test_storelens_eval_scores_an_events_file(store_run, truth, tmp_path):
    import json

    from rich.console import Console

    from storelens.datasets.sim.writer import write_records
    from storelens.evaluation.report import print_run_metrics
    from storelens.evaluation.stage_eval import evaluate_run

    out = tmp_path / "out"
    out.mkdir()
    picks_only = [_as_predicted(e) for e in truth if e.kind.value == "pick"]
    write_records(out / "events.jsonl", picks_only)
    metrics = evaluate_run(store_run.run_dir, out)
    assert metrics.events is not None and metrics.events.precision == 1
    n_picks = sum(e.kind.value == "pick" for e in truth)
    assert metrics.events.recall == pytest.approx(n_picks / len(truth))
    saved = json.loads((out / "metrics.json").read_text())["events"]
    assert saved["f1"] == pytest.approx(metrics.events.f1)
    assert saved["per_kind"]["pick"]["recall"] == 1
    console = Console(record=True, width=140)
    print_run_metrics(console, metrics)
    assert "events (tolerance 1 s" in console.export_text()
    # without an events file the stage is skipped and says why
    (out / "events.jsonl").unlink()
    assert "events" in evaluate_run(store_run.run_dir, out).skipped


def test_each_track_maps_to_the_person_it_follows(small_sim, tmp_path):
    from storelens.datasets.formats.mot import read_mot
    from storelens.datasets.recording import StoreRecording
    from storelens.evaluation.event_metrics import track_shoppers
    from storelens.evaluation.store_runner import run_store

    run_store(small_sim, tmp_path, detections="ground-truth-noisy", progress=False)
    recording = StoreRecording(small_sim)
    mapping = track_shoppers(recording, tmp_path / "tracks")
    people = {
        f"p{int(i):03d}" for c in recording.camera_ids for i in recording.ground_truth(c).track_id
    }
    long_tracks = set()
    for c in recording.camera_ids:
        ids, counts = np.unique(
            read_mot(tmp_path / "tracks" / f"{c}.txt").track_id, return_counts=True
        )
        long_tracks |= {f"{c}:{t}" for t, n in zip(ids, counts, strict=True) if n >= 20}
    assert long_tracks and long_tracks <= set(mapping)  # clutter and fragments may map to no one
    assert set(mapping.values()) <= people and len(set(mapping.values())) >= 3
