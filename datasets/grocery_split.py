"""The selection split: photos held out from `train` to choose how long fine-tuning runs, so
that `val` is only ever used to report.

Stratified by class: `fraction` of each class's photos (rounded, at least one where the class
has two or more, never all of them), drawn with `seed` from the class's photos in path order, so
the split depends on the seed and the list's contents, not on the order of its lines.

GroceryStoreDataset has no session metadata, and consecutive shots of one product in one store
are near-copies of each other. Holding one out while training on its neighbour would make the
selection split easier than `val` (taken on other visits) and favour memorising, so every
training photo whose 64-bit pHash (`storelens.datasets.image_hash`) is within
`near_duplicate_bits` of any held-out photo's, of any class, is dropped: used for nothing.

On the shared copy (2,640 photos, 81 SKUs) a resized and re-encoded copy of a photo lies 0-2
bits from it; consecutive shots of one item lie 6-14 bits apart; the nearest photo of a
*different* SKU is within 12 bits for 0.8 % of photos but within 14 for 6 %, so 12 is the
default threshold: beyond it pHash no longer tells a near-copy from another product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storelens.config import ConfigError
from storelens.datasets.grocery import ProductImages
from storelens.datasets.image_hash import hamming, phash_files


@dataclass(frozen=True)
class SelectionSplit:
    """`train` minus the held-out `selection` photos and the `dropped` near-copies of them."""

    train: ProductImages  # what the model is fitted on
    selection: ProductImages  # held out: scored after every epoch to choose the weights kept
    dropped: ProductImages  # training photos within `near_duplicate_bits` of a selection photo
    fraction: float
    seed: int
    near_duplicate_bits: int

    def describe(self) -> str:
        return (
            f"{len(self.selection)} photos held out of {self.total} "
            f"({self.fraction:.0%} per class, seed {self.seed}), {len(self.dropped)} "
            f"near-duplicates (pHash within {self.near_duplicate_bits} bits) dropped"
        )

    @property
    def total(self) -> int:
        return len(self.train) + len(self.selection) + len(self.dropped)


def stratified_holdout(images: ProductImages, fraction: float, seed: int) -> np.ndarray:
    """(N,) bool: the photos held out, `fraction` of each class (see the module docstring)."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"selection_fraction: must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = np.zeros(len(images), bool)
    names = np.asarray([str(p) for p in images.paths])
    for label in np.unique(images.labels):  # sorted, so the draws come in a fixed order
        members = np.flatnonzero(images.labels == label)
        members = members[np.argsort(names[members], kind="stable")]
        n = len(members)
        if n < 2:
            continue
        count = min(max(int(np.floor(fraction * n + 0.5)), 1), n - 1)
        held[rng.permutation(members)[:count]] = True
    return held


def split_selection(
    images: ProductImages,
    fraction: float,
    seed: int,
    near_duplicate_bits: int,
    hashes: np.ndarray | None = None,
) -> SelectionSplit:
    """Hold out a stratified `fraction` of `images`; drop the rest's near-copies of it.

    `hashes`: the photos' pHashes, if already computed (else read from the files, ~2 ms each)."""
    held = stratified_holdout(images, fraction, seed)
    if not held.any():
        raise ConfigError(
            "selection split: no class has two or more training photos, nothing to hold out"
        )
    hashes = phash_files(images.paths) if hashes is None else np.asarray(hashes, np.uint64)
    if len(hashes) != len(images):
        raise ValueError(f"split_selection: {len(hashes)} hashes for {len(images)} images")
    near = np.zeros(len(images), bool)
    rest = np.flatnonzero(~held)
    if len(rest):
        near[rest] = hamming(hashes[rest], hashes[held]).min(axis=1) <= near_duplicate_bits
    return SelectionSplit(
        train=images.subset(~held & ~near),
        selection=images.subset(held),
        dropped=images.subset(near),
        fraction=fraction,
        seed=seed,
        near_duplicate_bits=near_duplicate_bits,
    )
