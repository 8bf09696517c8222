"""How simulated people and products look.

People vary in height, build, skin, hair, clothing colours and patterns (solid, stripes,
checks), so appearance re-identification has something to learn; staff wear one uniform, as
in a real store. Products wear real photos from GroceryStoreDataset (the SKU's
`grocery_class` in the store file: its catalogue image and some in-store photos) out of the
atlas that ships in the package (`product_atlas`), so every machine renders the same store;
generated packaging (a colour, a band and the SKU printed with OpenCV's built-in font) is the
other choice, and training data can mix the two (`Imaging.packaging`).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from storelens.datasets.sim.product_atlas import TEXTURE_SIZE, load_atlas
from storelens.datasets.sim.scenario import Range
from storelens.layout import StoreLayout

log = logging.getLogger(__name__)

PACKAGING = ("photos", "generated", "mixed")

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
    """Texture images per SKU, chosen per unit deterministically.

    `packaging`: `photos` (the SKU's GroceryStoreDataset class from the shipped atlas; a SKU
    without one gets generated packaging), `generated` (every SKU), or `mixed` (each SKU photo
    or generated at random by `seed`, with the generated colours drawn by `seed` too: training
    data that does not learn one store's packaging).
    """

    def __init__(self, layout: StoreLayout, packaging: str = "photos", seed: int = 0) -> None:
        if packaging not in PACKAGING:
            raise ValueError(f"packaging must be one of {', '.join(PACKAGING)} (got {packaging!r})")
        atlas = load_atlas() if packaging != "generated" else {}
        rng = np.random.default_rng(seed)
        self.bank: dict[str, list[np.ndarray]] = {}
        photos = 0
        for product in layout.catalogue:
            images = list(atlas.get(product.grocery_class or "", ()))
            if packaging == "mixed" and rng.random() < 0.5:
                images = []
            if images:
                photos += 1
            else:
                colour_key = f"{product.sku}/{seed}" if packaging == "mixed" else product.sku
                images = [_generated_texture(product.sku, product.name, colour_key)]
            self.bank[product.sku] = images
        n = len(layout.catalogue)
        if photos == n:
            self.source = "grocery-store photos (package atlas)"
        elif photos == 0:
            self.source = "generated"
        else:
            self.source = f"mixed: {photos} of {n} SKUs photos"
        if packaging == "photos" and photos < n:
            log.warning(
                "%d of %d SKUs have no grocery_class in the atlas: generated", n - photos, n
            )

    def for_unit(self, sku: str, unit_index: int) -> np.ndarray:
        images = self.bank[sku]
        # most units show the catalogue image; some an in-store photo of the same product
        choice = 0 if unit_index % 3 else 1 + unit_index // 3
        return images[choice % len(images)]


def _generated_texture(sku: str, name: str, colour_key: str) -> np.ndarray:
    w, h = TEXTURE_SIZE
    rng = np.random.default_rng(zlib.crc32(colour_key.encode()))
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
