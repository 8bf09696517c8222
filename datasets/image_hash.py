"""A 64-bit perceptual hash (DCT pHash) and Hamming distances between hashes, OpenCV + numpy.

The hash of an image: greyscale, shrink to 32 x 32 (area interpolation), 2-D DCT, keep the 8 x 8
lowest frequencies, one bit per coefficient: above their median or not. Re-encoding, resizing
or a little noise changes few of the 64 bits; a different photo changes about half (a featureless
image, all its low frequencies near zero, has an unstable hash). Used to find
photos that are near-copies of one another (`storelens.datasets.grocery_split`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

HASH_SIDE = 32  # the image is shrunk to this many pixels a side before the DCT
LOW_FREQUENCIES = 8  # 8 x 8 = 64 bits
_BIT_WEIGHTS = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))


def phash(image: np.ndarray) -> np.uint64:
    """The 64-bit DCT pHash of an image array (H, W) greyscale or (H, W, 3) BGR, any dtype."""
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_BGR2GRAY)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"phash: expected an (H, W) or (H, W, 3) image, got {image.shape}")
    small = cv2.resize(
        image.astype(np.float32), (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA
    )
    low = cv2.dct(small)[:LOW_FREQUENCIES, :LOW_FREQUENCIES].ravel()
    bits = low > np.median(low)
    return np.uint64(np.sum(_BIT_WEIGHTS[bits], dtype=np.uint64))


def phash_file(path: str | Path) -> np.uint64:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return phash(image)


def phash_files(paths: Sequence[str | Path]) -> np.ndarray:
    """(N,) uint64 hashes of image files, in order."""
    return np.fromiter((phash_file(p) for p in paths), dtype=np.uint64, count=len(paths))


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Hamming distances (0..64) between two arrays of 64-bit hashes."""
    a = np.asarray(a, np.uint64).reshape(-1)
    b = np.asarray(b, np.uint64).reshape(-1)
    return np.bitwise_count(a[:, None] ^ b[None, :]).astype(np.int64)
