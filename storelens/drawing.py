"""Small drawing helpers shared by every picture storelens writes."""

from __future__ import annotations

import cv2
import numpy as np

from storelens.keypoints import COCO_SKELETON, LEFT_WRIST, N_KEYPOINTS, RIGHT_WRIST

FONT = cv2.FONT_HERSHEY_SIMPLEX


def put_label(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    colour: tuple[int, int, int],
    scale: float = 0.5,
    banner: bool = False,
) -> None:
    """Text with a dark outline, readable on any background (drawn in place); with `banner`
    on a filled dark box instead, for captions that are shrunk with the picture.

    The outline is the glyphs' own mask grown by a pixel: drawing the text again with a
    thicker pen would not do, as OpenCV 5 makes thicker text bolder and so wider.
    """
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = origin
    x0, y0 = max(x - 4, 0), max(y - h - 4, 0)
    x1, y1 = min(x + w + 4, image.shape[1]), min(y + base + 3, image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    roi = image[y0:y1, x0:x1]
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.putText(mask, text, (x - x0, y - y0), FONT, scale, 255, 1, cv2.LINE_AA)
    if banner:
        roi[:] = (32, 32, 32)
    else:
        outline = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        roi[:] = (roi * (1 - outline[..., None] / 255.0)).astype(np.uint8)
    alpha = mask[..., None] / 255.0
    roi[:] = (roi * (1 - alpha) + np.asarray(colour, float) * alpha).astype(np.uint8)


def draw_skeleton(
    image: np.ndarray,
    keypoints: np.ndarray,
    colour: tuple[int, int, int],
    thickness: int = 2,
    hidden: bool = True,
) -> None:
    """COCO-17 skeletons (N,17,3) `x, y, v` drawn in place: limbs between labelled joints, a
    filled dot on each visible joint (v = 2) and, with `hidden`, a ring on each hidden one
    (v = 1) and thin limbs that touch it."""
    for person in np.asarray(keypoints, float).reshape(-1, N_KEYPOINTS, 3):
        v = person[:, 2]
        xy = np.round(person[:, :2]).astype(int)
        for a, b in COCO_SKELETON:
            a, b = a - 1, b - 1
            if v[a] == 0 or v[b] == 0 or (not hidden and min(v[a], v[b]) < 2):
                continue
            pen = thickness if min(v[a], v[b]) == 2 else 1
            cv2.line(image, tuple(xy[a]), tuple(xy[b]), colour, pen, cv2.LINE_AA)
        for j in np.nonzero(v > 0)[0]:
            radius = thickness + (2 if j in (LEFT_WRIST, RIGHT_WRIST) else 1)
            if v[j] == 2:
                cv2.circle(image, tuple(xy[j]), radius, colour, -1, cv2.LINE_AA)
            elif hidden:
                cv2.circle(image, tuple(xy[j]), radius, colour, 1, cv2.LINE_AA)
