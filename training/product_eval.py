"""Product recognition evaluation: top-1 / top-5 retrieval accuracy of query photos against a
gallery, overall and per class, with a picture of what was matched.

    storelens eval products --gallery DIR_OR_LIST --queries LIST_FILE [--model FILE]

The same function scores the pretrained embedder (the floor), a fine-tuned one, an iconic-only
gallery (a SKU known only by its catalogue image) or a gallery of many photos per SKU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storelens.datasets.grocery import ClassTable, ProductImages
from storelens.inference.product_embedder import embed_images, read_rgb
from storelens.inference.product_gallery import ProductGallery


@dataclass(frozen=True)
class ProductMetrics:
    top1: float
    top5: float
    queries: int
    gallery_images: int
    gallery_classes: int
    per_class_top1: dict[int, float] = field(repr=False)
    predictions: np.ndarray = field(repr=False)  # (Q, 5) SKU ids, best first

    def as_dict(self) -> dict[str, float]:
        return {"top1": self.top1, "top5": self.top5, "queries": float(self.queries)}


def score_retrieval(
    gallery: ProductGallery, query_embeddings: np.ndarray, query_labels: np.ndarray
) -> ProductMetrics:
    predicted, _ = gallery.search(query_embeddings, k=5)
    hit_at = predicted == query_labels[:, None]
    classes = np.unique(query_labels)
    per_class = {
        int(c): float(hit_at[query_labels == c, 0].mean()) for c in classes
    }  # one entry per class for the report, not per frame
    return ProductMetrics(
        top1=float(hit_at[:, 0].mean()),
        top5=float(hit_at.any(axis=1).mean()),
        queries=len(query_labels),
        gallery_images=len(gallery.labels),
        gallery_classes=len(gallery.classes),
        per_class_top1=per_class,
        predictions=predicted,
    )


def build_gallery(model: Any, images: ProductImages, progress: str | None = None) -> ProductGallery:
    return ProductGallery(embed_images(model, images.paths, progress=progress), images.labels)


def evaluate_products(
    model: Any, gallery: ProductImages, queries: ProductImages, progress: bool = False
) -> ProductMetrics:
    built = build_gallery(model, gallery, "embedding gallery" if progress else None)
    query_embeddings = embed_images(
        model, queries.paths, progress="embedding queries" if progress else None
    )
    return score_retrieval(built, query_embeddings, queries.labels)


def draw_matches(
    metrics: ProductMetrics,
    queries: ProductImages,
    gallery: ProductImages,
    classes: ClassTable,
    path: str | Path,
    rows: int = 8,
    tile: int = 160,
) -> Path:
    """A sheet of query photos (left) and their top-3 gallery matches; green = right SKU.

    Half the rows are misses, half hits, so the sheet shows what the model confuses."""
    import cv2

    from storelens.drawing import put_label

    first_image = {
        int(label): gallery.paths[i] for i, label in reversed(list(enumerate(gallery.labels)))
    }
    correct = metrics.predictions[:, 0] == queries.labels
    misses, hits = np.flatnonzero(~correct), np.flatnonzero(correct)
    n_misses = min(len(misses), rows // 2)
    picked = np.concatenate([_spread(misses, n_misses), _spread(hits, rows - n_misses)])
    sheet = np.full((max(len(picked), 1) * tile, 4 * tile, 3), 255, np.uint8)
    for row, q in enumerate(picked):
        cells = [
            (queries.paths[q], f"query: {classes.names.get(int(queries.labels[q]), '?')}", None)
        ]
        for rank in range(3):
            label = int(metrics.predictions[q, rank])
            ok = label == queries.labels[q]
            cells.append((first_image[label], f"{rank + 1}. {classes.names.get(label, label)}", ok))
        for col, (image_path, text, ok) in enumerate(cells):
            image = (read_rgb(Path(image_path), tile)[..., ::-1] * 255).astype(np.uint8)
            if ok is not None:
                cv2.rectangle(
                    image, (0, 0), (tile - 1, tile - 1), (0, 170, 0) if ok else (0, 0, 220), 4
                )
            put_label(image, text[:24], (4, tile - 8), (255, 255, 255), 0.42)
            sheet[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile] = image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)
    return path


def _spread(indices: np.ndarray, count: int) -> np.ndarray:
    """`count` of `indices` spread evenly over the list (so over the classes, which are sorted)."""
    if count <= 0 or len(indices) == 0:
        return indices[:0]
    return indices[np.unique(np.linspace(0, len(indices) - 1, count).round().astype(int))]
