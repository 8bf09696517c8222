"""Privacy by default: heads are blurred in every still storelens keeps.

There is no face detector to download, and simulated heads have no faces, so the blur goes
around each head keypoint: a disc of the given radius is pixelated and then smoothed, past
recognising a face and past undoing it. The image is blurred once and every disc is drawn
into one mask.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_HEAD_RADIUS_PX = 6


def head_discs(head_xy: np.ndarray, person_heights_px: np.ndarray) -> np.ndarray:
    """(N, 3) discs `x, y, r` from head keypoints and person heights (a head is about an
    eighth of a standing person; the disc takes a little more to cover hair and chin)."""
    head_xy = np.asarray(head_xy, float).reshape(-1, 2)
    heights = np.asarray(person_heights_px, float).reshape(-1)
    if len(heights) != len(head_xy):
        raise ValueError(f"{len(head_xy)} head points but {len(heights)} person heights")
    radius = np.maximum(MIN_HEAD_RADIUS_PX, 0.09 * heights)
    return np.column_stack([head_xy, radius])


def blur_heads(image: np.ndarray, discs: np.ndarray) -> np.ndarray:
    """A copy of `image` (H, W[, C] uint8) with every disc `x, y, r` (pixels) blurred."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"blur_heads takes an (H, W) or (H, W, C) uint8 image, got {image.shape} {image.dtype}"
        )
    discs = np.asarray(discs, float).reshape(-1, 3)
    if not np.isfinite(discs).all() or (discs[:, 2] <= 0).any():
        raise ValueError(f"head discs must be finite with a positive radius, got {discs.tolist()}")
    out = image.copy()
    if not len(discs):
        return out
    h, w = image.shape[:2]
    r_max = float(discs[:, 2].max())
    block = max(2, int(r_max / 3))
    small = cv2.resize(
        image, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA
    )
    coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    k = 2 * max(1, int(r_max / 2)) + 1
    blurred = cv2.GaussianBlur(coarse, (k, k), 0)
    inside = np.zeros((h, w), np.uint8)
    for x, y, r in np.rint(discs).astype(int):  # a few heads per still: no (N, H, W) array
        cv2.circle(inside, (int(x), int(y)), int(r), 1, thickness=-1)
    inside = inside.astype(bool)
    out[inside] = blurred[inside]
    return out
