"""Adapter for product-photo folders laid out like GroceryStoreDataset (Klasson et al., 2019).

A split is a list file of `relative/path.jpg, fine_id, coarse_id` lines, paths relative to the
list file's folder; `classes.csv` beside it names each fine id and its catalogue (iconic) image.
A gallery is either such a list file or a folder of images whose leaf folder is the class name
(`iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg`), so adding
a product means adding a folder with its catalogue image. Errors name the file, the line and the
value. The selection split held out of `train` (to choose epochs without looking at `val`) is in
`storelens.datasets.grocery_split`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storelens.config import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class ProductImages:
    """Image paths with their fine (SKU) class ids, as parallel arrays."""

    paths: tuple[Path, ...]
    labels: np.ndarray  # (N,) int64 fine class ids

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, mask: np.ndarray) -> ProductImages:
        keep = np.flatnonzero(mask)
        return ProductImages(tuple(self.paths[i] for i in keep), self.labels[keep])

    def joined(self, other: ProductImages) -> ProductImages:
        """These images, then `other`'s."""
        return ProductImages(self.paths + other.paths, np.concatenate([self.labels, other.labels]))


@dataclass(frozen=True)
class ClassTable:
    """Fine class ids and names (and the catalogue image of each) from `classes.csv`."""

    names: dict[int, str]
    iconic: dict[int, Path]

    def id_of(self, name: str) -> int | None:
        return next((i for i, n in self.names.items() if n == name), None)


def _integer(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{where}: not an integer (got {text!r})") from None


def read_classes(path: str | Path) -> ClassTable:
    """GroceryStoreDataset's `classes.csv`: name, fine id, coarse name, coarse id, iconic path."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: classes file not found")
    names: dict[int, str] = {}
    iconic: dict[int, Path] = {}
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2:
            raise ConfigError(f"{path}:{line_no}: expected `name, class id, ...`, got {row!r}")
        class_id = _integer(row[1], f"{path}:{line_no}: class id")
        names[class_id] = row[0].strip()
        if len(row) > 4 and row[4].strip():
            iconic[class_id] = path.parent / row[4].strip().lstrip("/")
    return ClassTable(names, iconic)


def read_list_file(path: str | Path) -> ProductImages:
    """A split's list file; every listed image must exist."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: list file not found")
    paths: list[Path] = []
    labels: list[int] = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 2:
            raise ConfigError(f"{path}:{line_no}: expected `path, fine_id[, coarse_id]`: {line!r}")
        label = _integer(fields[1], f"{path}:{line_no}: fine_id")
        image = path.parent / fields[0]
        if not image.is_file():
            raise ConfigError(f"{path}:{line_no}: image not found: {fields[0]!r}")
        paths.append(image)
        labels.append(label)
    if not paths:
        raise ConfigError(f"{path}: the list file names no images")
    return ProductImages(tuple(paths), np.asarray(labels, np.int64))


def find_classes_csv(start: Path) -> Path | None:
    """`classes.csv` in `start` or the nearest folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / "classes.csv"
        if candidate.is_file():
            return candidate
    return None


def read_gallery(source: str | Path, classes: ClassTable) -> ProductImages:
    """A gallery from a list file, or from a folder whose images sit in class-named folders."""
    source = Path(source)
    if source.is_file():
        return read_list_file(source)
    if not source.is_dir():
        raise ConfigError(f"gallery: {str(source)!r} is neither a folder nor a list file")
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ConfigError(f"gallery: no images under {str(source)!r}")
    by_name = {name: class_id for class_id, name in classes.names.items()}
    unknown = sorted({p.parent.name for p in images} - set(by_name))
    if unknown:
        raise ConfigError(
            f"gallery: folder names not in classes.csv: {unknown[:5]}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        )
    return ProductImages(
        tuple(images), np.asarray([by_name[p.parent.name] for p in images], np.int64)
    )


def iconic_gallery(classes: ClassTable) -> ProductImages:
    """One catalogue image per class, as `classes.csv` names them."""
    missing = [str(p) for p in classes.iconic.values() if not p.is_file()]
    if missing:
        raise ConfigError(f"classes.csv: iconic image not found: {missing[0]!r}")
    ids = sorted(classes.iconic)
    return ProductImages(tuple(classes.iconic[i] for i in ids), np.asarray(ids, np.int64))
