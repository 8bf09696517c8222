"""What a rendered simulation writes about bodies and events — keypoints per person box, 3-D
wrists, event intervals and the cameras that saw each — and the pose data sets exported from
it, read back by the tools that consume them (ultralytics, pycocotools)."""

import json

import numpy as np
import pytest

from storelens.datasets.formats.keypoints import (
    KeypointFormatError,
    read_keypoints,
    write_keypoints,
)
from storelens.datasets.formats.mot import read_mot
from storelens.datasets.recording import StoreRecording, read_frames_csv
from storelens.datasets.sim.event_frames import event_frames, reach_misses, with_intervals
from storelens.datasets.sim.keypoints import WRISTS_FILE, read_wrists
from storelens.datasets.sim.truth import read_truth
from storelens.datasets.sim.views import HAND, PERSON
from storelens.keypoints import LEFT_WRIST, N_KEYPOINTS, RIGHT_WRIST
from storelens.layout import StoreLayout
from tests.conftest import SMALL_CAMERAS


def test_one_keypoint_row_per_person_box(small_sim):
    for cam in SMALL_CAMERAS:
        gt = read_mot(small_sim / "cameras" / cam / "gt" / "gt.txt")
        kp = read_keypoints(small_sim / "cameras" / cam / "gt" / "keypoints.txt")
        people = gt.select(gt.class_id == PERSON)
        assert len(kp) == len(people) > 0
        pairs = sorted(zip(kp.frame, kp.track_id, strict=True))
        assert pairs == sorted(zip(people.frame, people.track_id, strict=True))
        assert (kp.keypoints[:, :5] == 0).all()  # no face on the model
        # a visible joint is on its person's pixels, so inside the person's box (+ the hand)
        keys = zip(people.frame, people.track_id, strict=True)
        row = {key: i for i, key in enumerate(keys)}
        box = people.tlwh[[row[(f, t)] for f, t in zip(kp.frame, kp.track_id, strict=True)]]
        visible = kp.keypoints[..., 2] == 2
        x, y = kp.keypoints[..., 0], kp.keypoints[..., 1]
        inside = (
            (x >= box[:, None, 0] - 2)
            & (x <= box[:, None, 0] + box[:, None, 2] + 2)
            & (y >= box[:, None, 1] - 2)
            & (y <= box[:, None, 1] + box[:, None, 3] + 2)
        )
        assert inside[visible].mean() > 0.99
        assert (kp.keypoints[..., 2] == 1).any() and visible.any()


def test_the_3d_wrists_project_onto_the_2d_wrist_keypoints(small_sim):
    layout = StoreLayout.from_yaml(small_sim / "store.yaml")
    wrists = read_wrists(small_sim / WRISTS_FILE)
    by_key = {(int(r[0]), int(r[2]), int(r[3])): r[4:] for r in wrists}
    for cam in SMALL_CAMERAS:
        geom = layout.camera(cam).geometry()
        kp = read_keypoints(small_sim / "cameras" / cam / "gt" / "keypoints.txt")
        _, step = read_frames_csv(small_sim / "cameras" / cam / "frames.csv")
        timeline_index = step[kp.frame - 1]
        for side, joint in ((0, LEFT_WRIST), (1, RIGHT_WRIST)):
            labelled = kp.keypoints[:, joint, 2] > 0
            points = np.array(
                [
                    by_key[(k, g, side)]
                    for k, g in zip(timeline_index[labelled], kp.track_id[labelled], strict=True)
                ]
            )
            px, _ = geom.project(points)
            # both files round (pixels to 0.01, metres to 1 mm): allow their sum
            np.testing.assert_allclose(px, kp.keypoints[labelled, joint, :2], atol=0.02)


def test_every_event_has_its_interval_and_the_cameras_that_saw_its_hand(small_sim):
    events = read_truth(small_sim)["events.jsonl"]
    manifest = json.loads((small_sim / "manifest.json").read_text())
    assert events and manifest["events_out_of_reach"] == 0
    seen = 0
    for event in events:
        assert event.t_start <= event.t <= event.t_end
        assert event.t_end - event.t_start >= 1 / manifest["fps"] - 1e-6  # at least a frame
        gid = int(event.shopper_id.removeprefix("p"))
        hand_id = 10_000 + 2 * gid + (event.hand == "right")
        for rng in event.evidence:
            seen += 1
            cam = small_sim / "cameras" / rng.camera_id
            true_t = np.loadtxt(cam / "frames.csv", delimiter=",", skiprows=1)[:, 3]
            first, last = true_t[[rng.first_frame - 1, rng.last_frame - 1]]
            assert event.t_start - 1e-6 <= first <= last <= event.t_end + 1e-6
            gt = read_mot(cam / "gt" / "gt.txt")
            hand_frames = gt.frame[(gt.track_id == hand_id) & (gt.class_id == HAND)]
            assert {rng.first_frame, rng.last_frame} <= set(hand_frames.tolist())
    # the 8 s fixture's reaches are short (often one frame at 10 fps) and its shelf camera may
    # see none of them: evidence is checked where it exists


def test_intervals_on_every_preset_without_rendering(demo_layout):
    from storelens.datasets.sim.behaviour import StoreBehaviour
    from storelens.datasets.sim.scenario import load_scenario

    for preset, seed in (("crowded", 3), ("theft", 1)):
        scenario = load_scenario(preset).with_overrides(duration_s=60)
        tl = StoreBehaviour(demo_layout, scenario, seed=seed, fps=10).run()
        frames = event_frames(tl)
        assert len(frames) == len(tl.events) > 5
        assert reach_misses(frames) == 0, preset
        assert (frames[:, 1] <= frames[:, 0]).all() and (frames[:, 0] <= frames[:, 2]).all()
        rows = with_intervals(tl, frames)
        stay = np.array([r["t_end"] - r["t_start"] for r in rows])
        assert (stay >= 1 / tl.fps - 1e-6).all()  # each stay spans at least the frame it is seen


def test_a_bad_keypoints_file_names_the_line_and_field(tmp_path):
    path = tmp_path / "keypoints.txt"
    rows = np.zeros((2, 2 + 3 * N_KEYPOINTS))
    rows[:, 0], rows[:, 1] = [1, 2], [5, 5]
    write_keypoints(path, [rows])
    assert len(read_keypoints(path)) == 2
    lines = path.read_text().splitlines()
    cells = lines[2].split(",")
    cells[2 + 3 * LEFT_WRIST + 2] = "3"
    path.write_text("\n".join([*lines[:2], ",".join(cells)]) + "\n")
    with pytest.raises(
        KeypointFormatError, match=r"line 3: left_wrist_v must be 0, 1 or 2 \(got 3\)"
    ):
        read_keypoints(path)
    path.write_text("frame,id\n1,2\n")
    with pytest.raises(KeypointFormatError, match="line 1: expected the header"):
        read_keypoints(path)


def test_ultralytics_reads_the_yolo_pose_crops(small_sim, tmp_path):
    from storelens.datasets.formats.yolo_pose import export_yolo_pose
    from storelens.inference.ultralytics_offline import import_ultralytics

    data_yaml = export_yolo_pose(small_sim, tmp_path / "pose", every=4, min_crop_px=40)
    import_ultralytics()
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(data_yaml))
    assert data["kpt_shape"] == [17, 3] and data["names"] == {0: "person"}
    dataset = YOLODataset(img_path=data["train"], data=data, task="pose", imgsz=160, augment=False)
    labels = [lbl for lbl in dataset.labels if len(lbl["cls"])]
    assert len(labels) == len(dataset.labels) > 0  # every crop holds its person
    kpts = np.concatenate([lbl["keypoints"] for lbl in labels])
    assert kpts.shape[1:] == (17, 3) and (kpts[..., 2] == 2).any()
    # each crop's own person fills most of it: its box centre near the crop's centre
    centres = np.array([lbl["bboxes"][0][:2] for lbl in labels])
    assert np.median(np.abs(centres - 0.5)) < 0.15


def test_coco_keypoints_score_one_against_themselves(small_sim, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from storelens.datasets.formats.coco import export_coco

    paths = export_coco(small_sim, tmp_path / "coco", every=6, keypoints=True)
    assert paths["val"].name == "person_keypoints_val.json"
    gt = COCO(str(paths["val"]))
    cat = gt.loadCats(gt.getCatIds())[0]
    assert cat["name"] == "person" and len(cat["keypoints"]) == 17 and len(cat["skeleton"]) == 19
    anns = gt.loadAnns(gt.getAnnIds())
    assert anns and all(len(a["keypoints"]) == 51 for a in anns)
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in anns
        if a["num_keypoints"] > 0
    ]
    evaluation = COCOeval(gt, gt.loadRes(results), "keypoints")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
    shifted = [
        {**r, "keypoints": [v + 25 * (j % 3 < 2) for j, v in enumerate(r["keypoints"])]}
        for r in results
    ]
    worse = COCOeval(gt, gt.loadRes(shifted), "keypoints")
    worse.evaluate()
    worse.accumulate()
    worse.summarize()
    assert worse.stats[0] < 0.5


def test_recording_yields_each_frames_keypoints(small_sim):
    recording = StoreRecording(small_sim)
    rec = next(r for r in recording.frames(every=10) if (r.boxes.class_id == PERSON).any())
    assert rec.keypoints is not None and (rec.keypoints.frame == rec.frame).all()
    assert len(rec.keypoints) == int((rec.boxes.class_id == PERSON).sum())
