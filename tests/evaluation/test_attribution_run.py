"""`storelens run --events ground-truth` and `storelens eval` on a records-only simulation:
the simulator's sessions, events, POS, RFID and floor paths through the real attribution."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from storelens.attribution import FloorPaths
from storelens.cli import app
from storelens.configs import builtin_store
from storelens.datasets.sim.scenario import load_scenario
from storelens.datasets.sim.truth import read_truth
from storelens.datasets.simulate import simulate
from storelens.layout import StoreLayout

runner = CliRunner()


def _invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], terminal_width=200)


@pytest.fixture(scope="module")
def theft_records(tmp_path_factory):
    """Ten minutes of the theft scenario at 200 parties an hour, clocks off by up to 4 s."""
    out = tmp_path_factory.mktemp("theft")
    scenario = load_scenario("theft").with_overrides(
        duration_s=600,
        crowd={"arrival_rate_per_h": 200},
        checkout={"terminal_clock_offset_s": 4.0},
    )
    simulate(builtin_store(), scenario, seed=11, out_dir=out, render=False, show_progress=False)
    return out


def test_an_arrival_rate_sets_the_number_of_sessions_and_paths_cover_them(theft_records):
    truth = read_truth(theft_records)
    sessions = truth["sessions.jsonl"]
    assert 10 <= len(sessions) <= 45  # Poisson(200/h x 450 s): 25 on average, 10..45 at 99.9 %
    paths = FloorPaths.load(theft_records / "floor_paths.npz")
    shoppers = {s for sess in sessions for s in sess.shopper_ids}
    assert shoppers <= set(paths.shopper_id.tolist())
    layout = StoreLayout.from_yaml(theft_records / "store.yaml")
    width, depth = layout.floor.width_m, layout.floor.depth_m
    assert (paths.xy >= 0).all() and (paths.xy[:, 0] <= width).all()
    assert (paths.xy[:, 1] <= depth).all()
    offsets = json.loads((theft_records / "manifest.json").read_text())["terminal_clock_offsets_s"]
    assert set(offsets) == {"pos-1", "pos-2"} and all(abs(v) <= 4.0 for v in offsets.values())
    assert any(abs(v) > 0.5 for v in offsets.values())
    pos = truth["pos.jsonl"]
    sale = next(t for t in pos if t.kind == "sale")
    owner = next(s for s in sessions if sale.txn_id in s.txn_ids)
    # the terminal's clock is off: the sale's stamp minus the offset is during the visit
    assert owner.enter_t < sale.t - offsets[sale.terminal_id] < owner.exit_t


def test_run_attributes_the_true_records_and_eval_scores_them(theft_records, tmp_path):
    out = tmp_path / "out"
    result = _invoke("run", theft_records, "--out", out, "--events", "ground-truth")
    assert result.exit_code == 0, result.output
    assert "attribution" in result.output and not (out / "tracks").exists()  # no video
    assert (out / "baskets.jsonl").is_file() and (out / "alerts.jsonl").is_file()
    analytics = json.loads((out / "analytics.json").read_text())
    events = read_truth(theft_records)["events.jsonl"]
    picks = sum(e.quantity for e in events if e.kind == "pick")
    assert sum(z["picks"] for z in analytics["shelf_zones"]) == picks
    assert sum(z["picks"] for z in analytics["skus"]) == picks
    assert 0 < sum(z["purchased"] for z in analytics["shelf_zones"]) <= picks
    assert sum(h["sessions"] for h in analytics["hours"]) == len(
        read_truth(theft_records)["sessions.jsonl"]
    )
    assert (out / "analytics.png").stat().st_size > 20_000
    result = _invoke("eval", theft_records, out)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())["attribution"]
    truth = [s for s in read_truth(theft_records)["sessions.jsonl"] if s.complete]
    assert metrics["detail"]["sessions"] == len(truth)
    assert metrics["receipt_accuracy"] >= 0.9 and metrics["pos_join_accuracy"] >= 0.9
    unpaid = sum(any(ln.status != "paid" for ln in s.expected_lines) for s in truth)
    assert unpaid > 0 and metrics["alert_recall"] >= 0.9
    assert np.isclose(
        metrics["reviews_per_1000"],
        1000 * metrics["detail"]["reviews_per_1000"]["hits"] / len(truth),
    )


def test_a_folder_without_records_is_refused_by_name(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"rendered": False}))
    result = _invoke("run", tmp_path, "--out", tmp_path / "o", "--events", "ground-truth")
    assert result.exit_code == 2 and "sessions.jsonl" in result.output
    result = _invoke("run", tmp_path, "--out", tmp_path / "o", "--events", "magic")
    assert result.exit_code == 2 and "'magic'" in result.output
