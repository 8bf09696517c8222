import numpy as np
import pytest

from storelens.detections import NO_TRACKER_ID, Detections


def make(n: int, camera: str = "cam-a", t: float = 100.0, emb_dim: int | None = None) -> Detections:
    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 300, (n, 2))
    return Detections(
        xyxy=np.concatenate([xy, xy + 20], axis=1),
        confidence=rng.uniform(0, 1, n),
        class_id=rng.integers(0, 3, n),
        camera_id=camera,
        timestamp=t,
        embedding=None if emb_dim is None else rng.normal(size=(n, emb_dim)),
        data={"frame_index": np.arange(n)},
    )


def test_defaults_fill_every_column():
    d = Detections(xyxy=[[0, 0, 1, 1], [1, 1, 2, 2]])
    assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (2, 4)
    assert d.confidence.tolist() == [1.0, 1.0]
    assert d.class_id.dtype == np.int64
    assert (d.tracker_id == NO_TRACKER_ID).all()
    assert d.camera_id.tolist() == ["", ""]
    assert np.isnan(d.timestamp).all()
    assert d.embedding is None


@pytest.mark.parametrize(
    "ctor",
    [
        lambda: Detections.empty(),
        lambda: Detections(xyxy=[]),
        lambda: Detections(xyxy=np.zeros((0, 4))),
    ],
)
def test_empty(ctor):
    d = ctor()
    assert len(d) == 0 and d.is_empty()
    assert d.xyxy.shape == (0, 4)
    assert len(d[d.confidence > 0.5]) == 0
    assert d.split_by_camera() == {}


def test_empty_with_embedding_dim():
    assert Detections.empty(embedding_dim=8).embedding.shape == (0, 8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xyxy": [[0, 0, 1]]}, r"Detections.xyxy: expected shape \(N, 4\)"),
        (
            {"xyxy": [[0, 0, 1, 1]], "confidence": [0.1, 0.2]},
            r"Detections.confidence: expected shape \(1,\)",
        ),
        (
            {"xyxy": [[0, 0, 1, 1]], "class_id": ["person"]},
            r"Detections.class_id: cannot be read as int64",
        ),
        (
            {"xyxy": [[0, 0, 1, 1]], "embedding": np.zeros((2, 4))},
            r"Detections.embedding: expected shape \(1, D\)",
        ),
        (
            {"xyxy": [[0, 0, 1, 1]], "data": {"vis": [1, 2]}},
            r"Detections.data\['vis'\]: expected 1 rows",
        ),
    ],
)
def test_bad_input_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Detections(**kwargs)


def test_indexing_int_slice_mask_and_array_stay_2d():
    d = make(6, emb_dim=4)
    one = d[2]
    assert len(one) == 1 and one.xyxy.shape == (1, 4) and one.embedding.shape == (1, 4)
    np.testing.assert_array_equal(one.xyxy[0], d.xyxy[2])
    assert one.data["frame_index"].tolist() == [2]
    assert len(d[1:4]) == 3
    mask = d.confidence > 0.5
    kept = d[mask]
    assert len(kept) == mask.sum()
    np.testing.assert_array_equal(kept.confidence, d.confidence[mask])
    np.testing.assert_array_equal(d[[5, 0]].data["frame_index"], [5, 0])
    assert len(d[-1]) == 1


def test_indexing_errors():
    d = make(3)
    with pytest.raises(IndexError):
        d[3]
    with pytest.raises(IndexError, match="boolean mask"):
        d[np.array([True, False])]


def test_concatenate_batches_cameras_and_splits_back():
    a, b = make(3, "cam-a", 1.0, emb_dim=4), make(5, "cam-b", 2.0, emb_dim=4)
    batch = Detections.concatenate([a, b])
    assert len(batch) == 8
    assert batch.camera_id.tolist() == ["cam-a"] * 3 + ["cam-b"] * 5
    assert batch.embedding.shape == (8, 4)
    parts = batch.split_by_camera()
    assert list(parts) == ["cam-a", "cam-b"]
    np.testing.assert_array_equal(parts["cam-b"].xyxy, b.xyxy)
    np.testing.assert_array_equal(parts["cam-a"].timestamp, [1.0] * 3)


def test_concatenate_long_camera_ids_are_not_truncated():
    batch = Detections.concatenate([make(1, "a"), make(1, "a-much-longer-camera-id")])
    assert batch.camera_id.tolist() == ["a", "a-much-longer-camera-id"]


def test_concatenate_refuses_mixed_embeddings_and_keys():
    with pytest.raises(ValueError, match="embeddings"):
        Detections.concatenate([make(2, emb_dim=3), make(2)])
    with pytest.raises(ValueError, match="data keys"):
        Detections.concatenate([make(2), Detections(xyxy=[[0, 0, 1, 1]])])
    assert len(Detections.concatenate([])) == 0


def test_with_fields_copies_and_never_mutates_the_original():
    d = make(4)
    before = d.xyxy.copy()
    tracked = d.with_fields(tracker_id=np.arange(4))
    tracked.xyxy[0, 0] = -99
    np.testing.assert_array_equal(d.xyxy, before)
    assert (d.tracker_id == NO_TRACKER_ID).all()
    assert tracked.tracker_id.tolist() == [0, 1, 2, 3]
    with pytest.raises(TypeError, match="no field"):
        d.with_fields(colour=1)
