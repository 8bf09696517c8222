"""The product gallery: catalogue embeddings with their SKU ids, searched by cosine similarity.

A class scores the best similarity of any of its gallery images, so a gallery may hold one
catalogue image per SKU or many photos each; top-k lists distinct SKUs. Adding a SKU is adding
rows (`extended`); nothing is retrained. Search is one matrix product and one reduction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ProductGallery:
    embeddings: np.ndarray  # (G, D) float32, unit rows
    labels: np.ndarray  # (G,) int64 SKU / fine class ids

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.labels):
            raise ValueError(
                f"embeddings {self.embeddings.shape} and labels {self.labels.shape} do not pair up"
            )
        if len(self.labels) == 0:
            raise ValueError("a product gallery needs at least one image")

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.labels)

    def extended(self, embeddings: np.ndarray, labels: np.ndarray) -> ProductGallery:
        return ProductGallery(
            np.concatenate([self.embeddings, embeddings.astype(np.float32)]),
            np.concatenate([self.labels, np.asarray(labels, np.int64)]),
        )

    def class_scores(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(classes (C,), scores (Q, C)): each class's best cosine similarity to each query."""
        order = np.argsort(self.labels, kind="stable")
        sorted_labels = self.labels[order]
        classes, starts = np.unique(sorted_labels, return_index=True)
        similarity = queries.astype(np.float32) @ self.embeddings[order].T
        return classes, np.maximum.reduceat(similarity, starts, axis=1)

    def search(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-k distinct SKUs per query: (labels (Q, k), similarities (Q, k)), best first."""
        classes, scores = self.class_scores(queries)
        k = min(k, len(classes))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return classes[top], np.take_along_axis(scores, top, axis=1)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, embeddings=self.embeddings, labels=self.labels)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ProductGallery:
        with np.load(Path(path)) as data:
            return cls(data["embeddings"].astype(np.float32), data["labels"].astype(np.int64))
