"""The product texture atlas that ships inside the package, so every machine renders the same store.

GroceryStoreDataset (Klasson et al., WACV 2019, MIT licence) gives each of its 81 product
classes a catalogue ("iconic") image and in-store phone photos. The atlas holds, per class, the
catalogue image trimmed of its white margin and the middle of its first `PHOTOS_PER_CLASS`
training photos, each resized to `TEXTURE_SIZE`, as tiles of one lossless PNG with a JSON index
(`assets/product_atlas.json`) and the dataset's licence beside it. The simulator reads only the
atlas; the data set is needed only to rebuild it:

    python -m storelens.datasets.sim.product_atlas ../shared/data/grocery-store/dataset

The gallery photos the product recogniser is scored on (`val`) are never in the atlas.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

TEXTURE_SIZE = (48, 64)  # width, height of every product texture (small: warps stay cheap)
PHOTOS_PER_CLASS = 3  # in-store photos used beside the catalogue image
ATLAS_COLUMNS = 1 + PHOTOS_PER_CLASS  # one row per class
ASSETS = Path(__file__).resolve().parent / "assets"
ATLAS_PNG = ASSETS / "product_atlas.png"
ATLAS_INDEX = ASSETS / "product_atlas.json"
ATTRIBUTION = (
    "Product textures: GroceryStoreDataset, M. Klasson, C. Zhang, H. Kjellström, 'A Hierarchical "
    "Grocery Store Image Dataset with Visual and Semantic Labels', WACV 2019; "
    "github.com/marcusklasson/GroceryStoreDataset, MIT licence (assets/GROCERY_STORE_LICENSE)."
)


class AtlasError(RuntimeError):
    """The shipped atlas is missing or does not match its index."""


def class_entries(root: Path) -> dict[str, tuple[str, list[str]]]:
    """fine class name → (catalogue image path, [training photo paths]), from the lists."""
    out: dict[str, tuple[str, list[str]]] = {}
    with open(root / "classes.csv", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    id_to_name = {int(r[1]): r[0] for r in rows}
    for r in rows:
        out[r[0]] = (r[4].lstrip("/"), [])
    for line in (root / "train.txt").read_text().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) in id_to_name:
            out[id_to_name[int(parts[1])]][1].append(parts[0])
    return out


def _fit(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, TEXTURE_SIZE, interpolation=cv2.INTER_AREA)


def _crop_to_content(image: np.ndarray) -> np.ndarray:
    """Trim the white margin around a catalogue image."""
    ys, xs = np.nonzero((image < 235).any(axis=2))
    if len(xs) < 50:
        return image
    return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"{path}: not a readable image")
    return image


def class_tiles(root: Path, entry: tuple[str, list[str]]) -> list[np.ndarray]:
    """The catalogue image and the middle of the first photos of one class, as textures."""
    iconic, photos = entry
    tiles = [_fit(_crop_to_content(_read(root / iconic)))]
    for rel in photos[:PHOTOS_PER_CLASS]:
        photo = _read(root / rel)
        h, w = photo.shape[:2]
        side = int(min(h, w) * 0.7)  # the product fills the middle of an in-store photo
        y0, x0 = (h - side) // 2, (w - side) // 2
        tiles.append(_fit(photo[y0 : y0 + side, x0 : x0 + side]))
    return tiles


def build_atlas(grocery_root: Path, out_dir: Path = ASSETS) -> Path:
    """Write `product_atlas.png` + `.json` (and the licence) from a GroceryStoreDataset copy."""
    grocery_root = Path(grocery_root)
    entries = class_entries(grocery_root)
    w, h = TEXTURE_SIZE
    names = list(entries)
    atlas = np.full((h * len(names), w * ATLAS_COLUMNS, 3), 255, np.uint8)
    index: dict[str, int] = {}
    for row, name in enumerate(names):
        tiles = class_tiles(grocery_root, entries[name])
        for col, tile in enumerate(tiles):
            atlas[row * h : (row + 1) * h, col * w : (col + 1) * w] = tile
        index[name] = len(tiles)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / ATLAS_PNG.name
    if not cv2.imwrite(str(png), atlas, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"{png}: could not be written")
    meta = {
        "tile_size": [w, h],
        "columns": ATLAS_COLUMNS,
        "classes": [{"name": n, "row": r, "tiles": index[n]} for r, n in enumerate(names)],
        "png_sha256": hashlib.sha256(png.read_bytes()).hexdigest(),
        "attribution": ATTRIBUTION,
    }
    (out_dir / ATLAS_INDEX.name).write_text(json.dumps(meta, indent=1) + "\n")
    licence = grocery_root.parent / "LICENSE"
    if licence.is_file():
        (out_dir / "GROCERY_STORE_LICENSE").write_text(licence.read_text())
    return png


@lru_cache(maxsize=1)
def load_atlas() -> dict[str, tuple[np.ndarray, ...]]:
    """grocery class name → its texture tiles (catalogue image first), from the shipped atlas."""
    if not ATLAS_PNG.is_file() or not ATLAS_INDEX.is_file():
        raise AtlasError(f"{ATLAS_PNG}: the product atlas is missing from the package")
    meta = json.loads(ATLAS_INDEX.read_text())
    data = ATLAS_PNG.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["png_sha256"]:
        raise AtlasError(f"{ATLAS_PNG}: does not match the sha256 in {ATLAS_INDEX.name}")
    atlas = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    w, h = meta["tile_size"]
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for c in meta["classes"]:
        r = c["row"]
        out[c["name"]] = tuple(
            np.ascontiguousarray(atlas[r * h : (r + 1) * h, k * w : (k + 1) * w])
            for k in range(c["tiles"])
        )
    return out


def atlas_sha256() -> str:
    """The shipped atlas' fingerprint (part of a simulation's cache key)."""
    return str(json.loads(ATLAS_INDEX.read_text())["png_sha256"]) if ATLAS_INDEX.is_file() else ""


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    if len(sys.argv) != 2:
        sys.exit("usage: python -m storelens.datasets.sim.product_atlas GROCERY_STORE_DATASET_DIR")
    print(build_atlas(Path(sys.argv[1])))
