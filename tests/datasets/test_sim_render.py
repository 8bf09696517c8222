"""Rendered simulation: determinism, ground truth vs geometry, files the tools read."""

import filecmp
import json

import cv2
import numpy as np
import pytest

from storelens.datasets.formats.mot import read_mot, read_seqinfo
from storelens.datasets.sim.views import HAND, PERSON, PRODUCT
from storelens.datasets.sim.writer import read_jsonl
from tests.conftest import SMALL_CAMERAS, run_small

RECORD_FILES = [
    "events.jsonl",
    "pos.jsonl",
    "rfid.jsonl",
    "sessions.jsonl",
    "identities.jsonl",
    "units.jsonl",
    "multicam_gt.txt",
]


def decoded(video):
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return np.stack(frames)


@pytest.mark.slow
def test_same_seed_same_files_different_seed_different(small_sim, tmp_path):
    again = run_small(tmp_path / "again", seed=3)
    other = run_small(tmp_path / "other", seed=4)
    for name in RECORD_FILES:
        assert filecmp.cmp(small_sim / name, again / name, shallow=False), name
    for cam in SMALL_CAMERAS:
        for rel in ("gt/gt.txt", "frames.csv", "seqinfo.ini"):
            assert filecmp.cmp(
                small_sim / "cameras" / cam / rel, again / "cameras" / cam / rel, shallow=False
            ), (cam, rel)
        np.testing.assert_array_equal(
            decoded(small_sim / "cameras" / cam / "video.mp4"),
            decoded(again / "cameras" / cam / "video.mp4"),
        )
    assert not filecmp.cmp(small_sim / "multicam_gt.txt", other / "multicam_gt.txt", shallow=False)


def test_layout_of_the_output(small_sim):
    manifest = json.loads((small_sim / "manifest.json").read_text())
    assert [c["camera_id"] for c in manifest["cameras"]] == SMALL_CAMERAS
    for cam in SMALL_CAMERAS:
        d = small_sim / "cameras" / cam
        info = read_seqinfo(d / "seqinfo.ini")
        assert (info.width, info.height, info.frame_rate, info.seq_length) == (640, 480, 10, 80)
        assert len(decoded(d / "video.mp4")) == 80
        times = np.loadtxt(d / "frames.csv", delimiter=",", skiprows=1)
        assert times.shape == (80, 4)
        assert np.all(np.diff(times[:, 3]) > 0)  # true time increases
        gt = read_mot(d / "gt" / "gt.txt")
        assert set(np.unique(gt.class_id)) <= {PERSON, HAND, PRODUCT}
        assert ((gt.visibility > 0) & (gt.visibility <= 1)).all()
        assert (gt.tlwh[:, :2] >= 0).all() and (gt.tlwh[:, 0] + gt.tlwh[:, 2] <= 640).all()
    people = read_mot(small_sim / "cameras" / "ceil-sw" / "gt" / "gt.txt")
    assert (people.class_id == PERSON).sum() > 50, "shoppers should be in view of ceil-sw"


def test_multicam_floor_positions_agree_with_the_camera_geometry(small_sim, demo_layout):
    """AI City rows: a fully visible person's foot point maps to their floor position."""
    from storelens.boxes import foot_points, tlwh_to_xyxy

    rows = np.loadtxt(small_sim / "multicam_gt.txt")
    cam_index = SMALL_CAMERAS.index("ceil-sw") + 1
    rows = rows[rows[:, 0] == cam_index]
    gt = read_mot(small_sim / "cameras" / "ceil-sw" / "gt" / "gt.txt")
    visible = {
        (int(f), int(i))
        for f, i, v, c in zip(gt.frame, gt.track_id, gt.visibility, gt.class_id, strict=True)
        if v > 0.95 and c == PERSON
    }
    keep = np.array([(int(r[2]), int(r[1])) in visible for r in rows])
    rows = rows[keep]
    assert len(rows) > 20
    geom = demo_layout.camera("ceil-sw").geometry()
    est = geom.image_to_floor(foot_points(tlwh_to_xyxy(rows[:, 3:7])))
    err = np.linalg.norm(est - rows[:, 7:9], axis=1)
    assert np.median(err) < 0.35  # a box's bottom centre is the feet only roughly (perspective)


def test_trackeval_reads_the_mot_files(small_sim, tmp_path):
    """Ground truth submitted as a tracker scores perfectly through TrackEval."""
    from storelens.datasets.formats.mot import write_mot
    from storelens.evaluation.tracking_metrics import COMBINED, evaluate_mot

    sequences, results = {}, {}
    for cam in SMALL_CAMERAS:
        gt = read_mot(small_sim / "cameras" / cam / "gt" / "gt.txt")
        results[cam] = write_mot(
            tmp_path / f"{cam}.txt", gt.select(gt.class_id == PERSON), kind="results"
        )
        sequences[cam] = small_sim / "cameras" / cam
    metrics = evaluate_mot(sequences, results, benchmark="MOT17")
    assert metrics[COMBINED].hota == pytest.approx(1.0)
    assert metrics[COMBINED].mota == pytest.approx(1.0)
    assert metrics[COMBINED].gt_ids >= 2


def test_ultralytics_reads_the_yolo_dataset(small_sim, tmp_path):
    from storelens.datasets.formats.yolo import export_yolo
    from storelens.inference.ultralytics_offline import import_ultralytics

    data_yaml = export_yolo(small_sim, tmp_path / "yolo", every=4)
    import_ultralytics()
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(data_yaml))
    assert data["nc"] == 3 and data["names"] == {0: "person", 1: "hand", 2: "product"}
    dataset = YOLODataset(
        img_path=data["train"], data=data, task="detect", imgsz=320, augment=False
    )
    classes = np.concatenate([lbl["cls"].ravel() for lbl in dataset.labels])
    assert len(dataset.labels) == len(list((tmp_path / "yolo" / "images" / "train").glob("*.jpg")))
    assert {0, 2} <= set(classes.astype(int).tolist())
    n_val = len(list((tmp_path / "yolo" / "images" / "val").glob("*.jpg")))
    assert n_val > 0


def test_coco_export_loads_in_pycocotools(small_sim, tmp_path):
    from pycocotools.coco import COCO

    from storelens.datasets.formats.coco import export_coco

    paths = export_coco(small_sim, tmp_path / "coco", class_set="sku", every=8)
    coco = COCO(str(paths["train"]))
    names = [c["name"] for c in coco.loadCats(coco.getCatIds())]
    assert names[:2] == ["person", "hand"] and all(n.startswith("SKU-") for n in names[2:])
    assert len(coco.getAnnIds()) > 0
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert {"track_id", "visibility", "bbox"} <= set(ann)


def test_preview_contact_sheet(small_sim, tmp_path):
    from storelens.datasets.sim.preview import contact_sheet

    path = contact_sheet(small_sim, tmp_path / "preview.png", instants=2, tile_width=320)
    image = cv2.imread(str(path))
    assert image.shape[1] == 640 and image.shape[0] >= 2 * 240


def test_records_are_written(small_sim):
    sessions = read_jsonl(small_sim / "sessions.jsonl")
    assert len(sessions) == 4
    units = read_jsonl(small_sim / "units.jsonl")
    assert all(u["unit_id"].startswith("u") for u in units)
