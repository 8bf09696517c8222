"""How simulated people and products look.

People vary in height, build, skin, hair, clothing colours and patterns (solid, stripes,
checks), so appearance re-identification has something to learn; staff wear one uniform, as
in a real store. Products wear real photos from GroceryStoreDataset (the SKU's
`grocery_class` in the store file: its iconic catalogue image and some in-store photos), read
at run time from `../shared/data/grocery-store` or `$STORELENS_SHARED_DATA`. Without that data
the products get generated packaging (a colour, a band and the SKU printed with OpenCV's
built-in font) and the simulator says so.
"""

from __future__ import annotations

import csv
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.sim.scenario import Range
from storelens.layout import StoreLayout
from storelens.settings import shared_data_dir

log = logging.getLogger(__name__)

TEXTURE_SIZE = (48, 64)  # width, height of every product texture (small: warps stay cheap)
PHOTOS_PER_SKU = 3  # in-store photos used beside the iconic image

SKIN_TONES = np.array(
    [[60, 80, 120], [80, 110, 160], [110, 150, 200], [140, 180, 225], [170, 200, 235]], np.uint8
)  # BGR
HAIR_COLOURS = np.array(
    [[20, 20, 25], [30, 50, 90], [60, 100, 150], [140, 170, 200], [200, 200, 200]], np.uint8
)
STAFF_SHIRT = np.array([40, 110, 30], np.uint8)  # the store's green uniform
STAFF_TROUSERS = np.array([40, 35, 30], np.uint8)


@dataclass(frozen=True)
class PersonLook:
    height_m: float
    shoulder_m: float
    depth_m: float
    skin: np.ndarray  # (3,) uint8 BGR
    hair: np.ndarray
    shirt: np.ndarray
    shirt_alt: np.ndarray
    trousers: np.ndarray
    pattern: str  # solid | stripes | checks
    staff: bool

    def shirt_texture(self, size: int = 32) -> np.ndarray:
        """A (size, size, 3) uint8 image of the shirt's fabric."""
        yy, xx = np.mgrid[0:size, 0:size]
        if self.pattern == "stripes":
            alt = (yy // 4) % 2 == 1
        elif self.pattern == "checks":
            alt = ((yy // 6) + (xx // 6)) % 2 == 1
        else:
            alt = np.zeros((size, size), bool)
        return np.where(alt[..., None], self.shirt_alt, self.shirt).astype(np.uint8)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array(
        [[[rng.integers(0, 180), rng.integers(40, 255), rng.integers(50, 240)]]], np.uint8
    )
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]


def sample_person_looks(
    rng: np.random.Generator, n: int, height: Range, staff: int = 0
) -> list[PersonLook]:
    """n looks; the last `staff` of them wear the staff uniform."""
    looks = []
    for i in range(n):
        is_staff = i >= n - staff
        h = float(rng.uniform(height.low, height.high))
        shirt = STAFF_SHIRT if is_staff else _random_colour(rng)
        looks.append(
            PersonLook(
                height_m=h,
                shoulder_m=float(rng.uniform(0.36, 0.50)) * h / 1.75,
                depth_m=float(rng.uniform(0.20, 0.28)),
                skin=SKIN_TONES[rng.integers(len(SKIN_TONES))],
                hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))],
                shirt=shirt,
                shirt_alt=_random_colour(rng) if not is_staff else shirt,
                trousers=STAFF_TROUSERS if is_staff else _random_colour(rng) // 2 + 20,
                pattern="solid"
                if is_staff
                else str(rng.choice(["solid", "stripes", "checks"], p=[0.5, 0.3, 0.2])),
                staff=is_staff,
            )
        )
    return looks


class ProductTextures:
    """Texture images per SKU (real photos when available), chosen per unit deterministically."""

    def __init__(self, layout: StoreLayout, grocery_root: Path | None = None) -> None:
        root = grocery_root if grocery_root is not None else _default_grocery_root()
        self.source = "generated"
        self.bank: dict[str, list[np.ndarray]] = {}
        classes = _read_classes(root) if root is not None else {}
        for product in layout.catalogue:
            images = []
            if product.grocery_class and product.grocery_class in classes:
                images = _load_class_images(root, classes[product.grocery_class])  # type: ignore[arg-type]
            if images:
                self.source = "grocery-store photos"
            else:
                images = [_generated_texture(product.sku, product.name)]
            self.bank[product.sku] = images
        if self.source == "generated":
            log.warning(
                "GroceryStoreDataset not found (set STORELENS_SHARED_DATA): products get "
                "generated packaging instead of real photos"
            )

    def for_unit(self, sku: str, unit_index: int) -> np.ndarray:
        images = self.bank[sku]
        # most units show the catalogue image; some an in-store photo of the same product
        choice = 0 if unit_index % 3 else 1 + unit_index // 3
        return images[choice % len(images)]


def _default_grocery_root() -> Path | None:
    shared = shared_data_dir()
    if shared is None:
        return None
    root = shared / "grocery-store" / "dataset"
    return root if (root / "classes.csv").is_file() else None


def _read_classes(root: Path) -> dict[str, tuple[str, list[str]]]:
    """fine class name → (iconic image path, [train photo paths])."""
    out: dict[str, tuple[str, list[str]]] = {}
    with open(root / "classes.csv", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    id_to_name = {int(r[1]): r[0] for r in rows}
    for r in rows:
        out[r[0]] = (r[4].lstrip("/"), [])
    train_list = root / "train.txt"
    if train_list.is_file():
        for line in train_list.read_text().splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) in id_to_name:
                out[id_to_name[int(parts[1])]][1].append(parts[0])
    return out


def _fit(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, TEXTURE_SIZE, interpolation=cv2.INTER_AREA)


def _load_class_images(root: Path, entry: tuple[str, list[str]]) -> list[np.ndarray]:
    iconic, photos = entry
    images = []
    img = cv2.imread(str(root / iconic))
    if img is not None:
        images.append(_fit(_crop_to_content(img)))
    for rel in photos[:PHOTOS_PER_SKU]:
        photo = cv2.imread(str(root / rel))
        if photo is not None:
            h, w = photo.shape[:2]
            side = int(min(h, w) * 0.7)  # the product fills the middle of an in-store photo
            y0, x0 = (h - side) // 2, (w - side) // 2
            images.append(_fit(photo[y0 : y0 + side, x0 : x0 + side]))
    return images


def _crop_to_content(image: np.ndarray) -> np.ndarray:
    """Trim the white margin around a catalogue image."""
    mask = (image < 235).any(axis=2)
    ys, xs = np.nonzero(mask)
    if len(xs) < 50:
        return image
    return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _generated_texture(sku: str, name: str) -> np.ndarray:
    w, h = TEXTURE_SIZE
    rng = np.random.default_rng(zlib.crc32(sku.encode()))
    img = np.empty((h, w, 3), np.uint8)
    img[:] = _random_colour(rng)
    band = _random_colour(rng)
    img[h // 3 : h // 3 + h // 4] = band
    cv2.putText(
        img,
        sku[-3:],
        (3, h // 3 + h // 6),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    cv2.putText(img, name[:6], (2, h - 6), cv2.FONT_HERSHEY_PLAIN, 0.7, (20, 20, 20), 1)
    return img
