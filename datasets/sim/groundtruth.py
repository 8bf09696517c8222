"""Ground-truth boxes from a rendered view: per object, the bounding box of its visible pixels
and its visibility (visible share of its unoccluded, untruncated area)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from storelens.datasets.sim.views import ObjectTable, View


@dataclass(frozen=True)
class FrameBoxes:
    """N boxes of one camera frame: compact object id, class, global id, tlwh, visibility."""

    oid: np.ndarray
    class_id: np.ndarray
    global_id: np.ndarray
    tlwh: np.ndarray  # (N,4) float: left, top, width, height in output pixels
    visibility: np.ndarray  # (N,) in (0, 1]


def frame_boxes(view: View, objects: ObjectTable, min_side_px: int = 2) -> FrameBoxes:
    n = len(objects.class_id)
    slices = ndimage.find_objects(view.oid, max_label=n - 1)
    found = [(i + 1, s) for i, s in enumerate(slices) if s is not None]
    if not found:
        z = np.zeros(0)
        return FrameBoxes(
            z.astype(np.int32), z.astype(np.int32), z.astype(np.int64), np.zeros((0, 4)), z
        )
    oid = np.array([f[0] for f in found], np.int32)
    ys = np.array([(f[1][0].start, f[1][0].stop) for f in found])
    xs = np.array([(f[1][1].start, f[1][1].stop) for f in found])
    tlwh = np.column_stack([xs[:, 0], ys[:, 0], xs[:, 1] - xs[:, 0], ys[:, 1] - ys[:, 0]]).astype(
        float
    )
    area = view.area_px[oid].astype(float)
    visibility = np.clip(
        np.divide(view.visible_px[oid], area, out=np.zeros(len(oid)), where=area > 0), 0, 1
    )
    keep = (
        (objects.class_id[oid] > 0)
        & (tlwh[:, 2] >= min_side_px)
        & (tlwh[:, 3] >= min_side_px)
        & (visibility > 0)
    )
    oid = oid[keep]
    return FrameBoxes(
        oid, objects.class_id[oid], objects.global_id[oid], tlwh[keep], visibility[keep]
    )
