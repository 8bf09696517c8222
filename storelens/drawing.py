"""Small drawing helpers shared by every picture storelens writes."""

from __future__ import annotations

import cv2
import numpy as np

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
