import numpy as np
import pytest
import torch
import torchvision

from storelens.boxes import (
    box_area,
    box_iou_batch,
    clip_xyxy,
    foot_points,
    tlwh_to_xyxy,
    xyah_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_tlwh,
    xyxy_to_xyah,
    xyxy_to_xywh,
)


def random_boxes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 500, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(1, 100, (n, 2))], axis=1).astype(np.float32)


@pytest.mark.parametrize(
    ("xyxy", "xywh", "tlwh", "xyah"),
    [
        ([[0, 0, 10, 20]], [[5, 10, 10, 20]], [[0, 0, 10, 20]], [[5, 10, 0.5, 20]]),
        ([[2, 4, 6, 6]], [[4, 5, 4, 2]], [[2, 4, 4, 2]], [[4, 5, 2.0, 2]]),
        (np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4))),
    ],
)
def test_conversions_table(xyxy, xywh, tlwh, xyah):
    np.testing.assert_allclose(xyxy_to_xywh(xyxy), xywh)
    np.testing.assert_allclose(xyxy_to_tlwh(xyxy), tlwh)
    np.testing.assert_allclose(xyxy_to_xyah(xyxy), xyah)
    np.testing.assert_allclose(xywh_to_xyxy(xywh), np.asarray(xyxy, float).reshape(-1, 4))
    np.testing.assert_allclose(tlwh_to_xyxy(tlwh), np.asarray(xyxy, float).reshape(-1, 4))
    np.testing.assert_allclose(xyah_to_xyxy(xyah), np.asarray(xyxy, float).reshape(-1, 4))


def test_round_trips_random():
    boxes = random_boxes(200)
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes, atol=1e-3)
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(boxes)), boxes, atol=1e-3)


def test_zero_height_box_has_zero_aspect_not_nan():
    assert xyxy_to_xyah([[1, 1, 5, 1]])[0, 2] == 0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[0, 0, 2, 2]], [[1, 1, 3, 3]], [[1 / 7]]),
        ([[0, 0, 2, 2]], [[0, 0, 2, 2]], [[1.0]]),
        ([[0, 0, 2, 2]], [[2, 2, 3, 3]], [[0.0]]),  # touching corners
        ([[0, 0, 0, 0]], [[0, 0, 0, 0]], [[0.0]]),  # empty boxes: 0, not NaN
        ([[0, 0, 4, 4]], [[1, 1, 2, 2], [0, 0, 4, 2]], [[1 / 16, 0.5]]),
    ],
)
def test_iou_table(a, b, expected):
    np.testing.assert_allclose(box_iou_batch(a, b), expected, rtol=1e-6)


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 3), (3, 0)])
def test_iou_empty_shapes(n, m):
    assert box_iou_batch(np.zeros((n, 4)), np.zeros((m, 4))).shape == (n, m)


def test_iou_matches_torchvision():
    a, b = random_boxes(64, seed=1), random_boxes(48, seed=2)
    ours = box_iou_batch(a, b)
    theirs = torchvision.ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("bad", [[1, 2, 3], [[1, 2, 3]], np.zeros((2, 4, 1))])
def test_bad_shapes_name_the_argument(bad):
    with pytest.raises(ValueError, match=r"boxes_a: expected shape \(N, 4\)"):
        box_iou_batch(bad, [[0, 0, 1, 1]])


def test_area_clip_and_foot_points():
    boxes = np.array([[10, 10, 30, 50], [-5, -5, 5, 700], [4, 4, 2, 2]], np.float32)
    np.testing.assert_allclose(box_area(boxes), [800, 7050, 0])
    np.testing.assert_allclose(clip_xyxy(boxes, 640, 480)[1], [0, 0, 5, 480])
    np.testing.assert_allclose(foot_points(boxes[:1]), [[20, 50]])


def blocks_of_boxes(c: int, n: int, seed: int, dtype=np.float64) -> np.ndarray:
    """(c, n, 4) boxes, with the tracker's padding (all-zero boxes) at the end of some rows."""
    boxes = random_boxes(c * n, seed).astype(dtype).reshape(c, n, 4)
    if n:
        boxes[1::2, -1] = 0.0
    return boxes


def box_iou_blocks_before(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The tracker's own (C,T,4) x (C,N,4) IoU before it used `box_iou_batch`, verbatim."""
    tl = np.maximum(a[:, :, None, :2], b[:, None, :, :2])
    br = np.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    wh = np.clip(br - tl, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.clip(a[..., 2] - a[..., 0], 0, None) * np.clip(a[..., 3] - a[..., 1], 0, None)
    area_b = np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    union = area_a[:, :, None] + area_b[:, None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_iou_of_stacked_box_sets_is_each_sets_2d_iou_exactly(dtype):
    a, b = blocks_of_boxes(5, 7, seed=3, dtype=dtype), blocks_of_boxes(5, 9, seed=4, dtype=dtype)
    a[2, 0] = b[2, 3]  # an identical pair: IoU exactly 1
    batched = box_iou_batch(a, b)
    assert batched.shape == (5, 7, 9) and batched.dtype == dtype
    for c in range(5):
        np.testing.assert_array_equal(batched[c], box_iou_batch(a[c], b[c]))
    assert batched[2, 0, 3] == 1.0
    assert (batched[1::2, -1] == 0).all() and not np.isnan(batched).any()  # padding: 0, not NaN
    if dtype == np.float64:  # what the tracker computes: bit for bit what it computed before
        np.testing.assert_array_equal(batched, box_iou_blocks_before(a, b))


def test_iou_over_more_leading_dimensions_and_broadcasting():
    a, b = random_boxes(2 * 3 * 4, seed=5).reshape(2, 3, 4, 4), random_boxes(3 * 6, 6)
    b = b.reshape(3, 6, 4)
    out = box_iou_batch(a, b)  # (2,3,4,4) x (3,6,4): the camera axis broadcasts over the first
    assert out.shape == (2, 3, 4, 6)
    for i in range(2):
        for c in range(3):
            np.testing.assert_array_equal(out[i, c], box_iou_batch(a[i, c], b[c]))
    shared = random_boxes(4, seed=7)  # one (N,4) set against every camera's boxes
    np.testing.assert_array_equal(box_iou_batch(shared, b)[1], box_iou_batch(shared, b[1]))


@pytest.mark.parametrize(
    ("shape_a", "shape_b", "expected"),
    [
        ((3, 0, 4), (3, 5, 4), (3, 0, 5)),
        ((3, 5, 4), (3, 0, 4), (3, 5, 0)),
        ((0, 2, 4), (0, 5, 4), (0, 2, 5)),
        ((3, 0, 4), (3, 0, 4), (3, 0, 0)),
        ((0,), (2, 0, 4), (2, 0, 0)),
    ],
)
def test_iou_of_empty_blocks(shape_a, shape_b, expected):
    out = box_iou_batch(np.zeros(shape_a), np.zeros(shape_b))
    assert out.shape == expected and out.dtype == np.float64


def test_iou_refuses_stacks_that_do_not_fit():
    with pytest.raises(ValueError, match=r"boxes_b: expected shape \(N, 4\) or \(\.\.\., N, 4\)"):
        box_iou_batch(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="leading dimensions .* do not broadcast"):
        box_iou_batch(np.zeros((2, 3, 4)), np.zeros((3, 3, 4)))
