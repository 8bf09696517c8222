"""Box formats and box maths as plain array functions.

The format is in the name (detectron2's `BoxMode` idea): `xyxy` = (x1, y1, x2, y2),
`xywh` = (centre x, centre y, width, height), `tlwh` = (left, top, width, height),
`xyah` = (centre x, centre y, aspect w/h, height) — the Kalman measurement of the tracker.
Every function takes (N, 4) arrays and returns (N, 4) or (N, M) arrays; N = 0 is fine.
`box_iou_batch` also takes stacks of boxes, (..., N, 4) x (..., M, 4) → (..., N, M), so the
tracker scores every camera's tracks against that camera's detections in one call.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]


def _as_boxes(boxes: npt.ArrayLike, name: str = "boxes") -> FloatArray:
    arr = np.asarray(boxes)
    arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name}: expected shape (N, 4), got {arr.shape}")
    return arr


def xyxy_to_xywh(xyxy: npt.ArrayLike) -> FloatArray:
    """(N,4) corners → (N,4) centre x, centre y, width, height."""
    b = _as_boxes(xyxy, "xyxy")
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]],
        axis=1,
    )


def xywh_to_xyxy(xywh: npt.ArrayLike) -> FloatArray:
    """(N,4) centre x, centre y, width, height → (N,4) corners."""
    b = _as_boxes(xywh, "xywh")
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], 1)


def xyxy_to_tlwh(xyxy: npt.ArrayLike) -> FloatArray:
    """(N,4) corners → (N,4) left, top, width, height (MOTChallenge's box format)."""
    b = _as_boxes(xyxy, "xyxy")
    return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def tlwh_to_xyxy(tlwh: npt.ArrayLike) -> FloatArray:
    """(N,4) left, top, width, height → (N,4) corners."""
    b = _as_boxes(tlwh, "tlwh")
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)


def xyxy_to_xyah(xyxy: npt.ArrayLike) -> FloatArray:
    """(N,4) corners → (N,4) centre x, centre y, aspect ratio w/h, height."""
    c = xyxy_to_xywh(xyxy)
    height = c[:, 3]
    aspect = np.divide(c[:, 2], height, out=np.zeros_like(height), where=height > 0)
    return np.stack([c[:, 0], c[:, 1], aspect, height], axis=1)


def xyah_to_xyxy(xyah: npt.ArrayLike) -> FloatArray:
    """(N,4) centre x, centre y, aspect ratio w/h, height → (N,4) corners."""
    b = _as_boxes(xyah, "xyah")
    width = b[:, 2] * b[:, 3]
    return xywh_to_xyxy(np.stack([b[:, 0], b[:, 1], width, b[:, 3]], axis=1))


def _area(b: FloatArray) -> FloatArray:
    """(..., 4) corners → (...) areas; inverted boxes have area 0."""
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def box_area(xyxy: npt.ArrayLike) -> FloatArray:
    """(N,4) corners → (N,) areas; inverted boxes have area 0."""
    return _area(_as_boxes(xyxy, "xyxy"))


def _as_box_stack(boxes: npt.ArrayLike, name: str) -> FloatArray:
    """Like `_as_boxes`, with any number of leading (batch) dimensions: (..., N, 4)."""
    arr = np.asarray(boxes)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim < 2 or arr.shape[-1] != 4:
        raise ValueError(f"{name}: expected shape (N, 4) or (..., N, 4), got {arr.shape}")
    return arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)


def box_iou_batch(boxes_a: npt.ArrayLike, boxes_b: npt.ArrayLike) -> FloatArray:
    """Pairwise intersection over union, optionally over a batch of box sets.

    Args:
        boxes_a: (N, 4) xyxy, or (..., N, 4): a stack of box sets (e.g. one per camera).
        boxes_b: (M, 4) xyxy, or (..., M, 4); leading dimensions broadcast against boxes_a's.

    Returns:
        (N, M) IoU in [0, 1], or (..., N, M) for stacks: set i of boxes_a against set i of
        boxes_b. 0 where both boxes are empty. float64 when an input is float64, else float32.

    Example:
        >>> box_iou_batch([[0, 0, 2, 2]], [[1, 1, 3, 3], [4, 4, 5, 5]]).round(3)
        array([[0.143, 0.   ]], dtype=float32)
    """
    a = _as_box_stack(boxes_a, "boxes_a")
    b = _as_box_stack(boxes_b, "boxes_b")
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"box_iou_batch: leading dimensions of boxes_a {a.shape} and boxes_b {b.shape} "
                "do not broadcast"
            ) from None
    top_left = np.maximum(a[..., :, None, :2], b[..., None, :, :2])
    bottom_right = np.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = _area(a)[..., :, None] + _area(b)[..., None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def clip_xyxy(xyxy: npt.ArrayLike, width: float, height: float) -> FloatArray:
    """Clip (N,4) corners to an image of `width` x `height` pixels."""
    b = _as_boxes(xyxy, "xyxy").copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, width)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, height)
    return b


def foot_points(xyxy: npt.ArrayLike) -> FloatArray:
    """(N,4) corners → (N,2) bottom-centre points, where a standing person touches the floor."""
    b = _as_boxes(xyxy, "xyxy")
    return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)


def crop_windows(xyxy: npt.ArrayLike, margin: float, width: int, height: int) -> np.ndarray:
    """(N,4) int pixel windows `x0, y0, x1, y1` around boxes grown by `margin` of their size on
    every side, clipped to a `width` x `height` image (the crop a top-down model sees)."""
    b = _as_boxes(xyxy, "xyxy")
    grow = margin * (b[:, 2:] - b[:, :2])
    lo = np.floor(np.maximum(b[:, :2] - grow, 0))
    hi = np.ceil(np.minimum(b[:, 2:] + grow, (width, height)))
    return np.column_stack([lo, hi]).astype(int)
