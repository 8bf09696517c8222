"""`storelens train products` and `storelens eval products`: the SKU recogniser (an embedding
model matched against a gallery of catalogue images)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import user_errors
from storelens.settings import runs_dir

console = Console()


def train_products(
    config: Path = typer.Option(..., help="training config, e.g. configs/train/products.yaml"),
    out: Path = typer.Option(None, help="output folder (default: runs/train/<experiment>)"),
) -> None:
    """Fine-tune the product embedder; one MLflow run; registered with alias `candidate`."""
    from storelens.training.config import load_products_config
    from storelens.training.product_training import train_products as run

    with user_errors():
        result = run(load_products_config(config), out)
    table = Table(title=f"product recogniser: MLflow run {result.run_id}")
    for col in ("gallery", "top-1", "top-5", "queries"):
        table.add_column(col, justify="left" if col == "gallery" else "right")
    for name, m in (
        ("catalogue images only", result.iconic_only),
        ("catalogue + training photos", result.with_photos),
    ):
        table.add_row(name, f"{m.top1:.3f}", f"{m.top5:.3f}", str(m.queries))
    console.print(table)
    console.print(f"embedder: {result.embedder}\ngallery: {result.gallery}")
    if result.model_name:
        console.print(
            f"registered: models:/{result.model_name}/{result.version} (alias candidate); "
            f"promote with `storelens models promote {result.model_name} {result.version}`"
        )


def eval_products(
    gallery: Path = typer.Option(
        ..., help="gallery: a folder of images in class-named folders, or a list file"
    ),
    queries: Path = typer.Option(..., help="list file of `path, fine_id, coarse_id` lines"),
    model: str = typer.Option(
        None, help="embedder file or models:/NAME@alias (default: the pretrained backbone)"
    ),
    classes: Path = typer.Option(
        None, help="classes.csv (default: the nearest one at or above the queries' folder)"
    ),
    out: Path = typer.Option(None, help="where the picture of matches goes"),
) -> None:
    """Top-1 / top-5 SKU retrieval of the query photos against the gallery."""
    from storelens.config import ConfigError
    from storelens.datasets.grocery import (
        find_classes_csv,
        read_classes,
        read_gallery,
        read_list_file,
    )
    from storelens.inference.loading import load_product_recogniser
    from storelens.inference.product_embedder import load_embedder
    from storelens.training.product_eval import draw_matches, evaluate_products

    with user_errors():
        classes_csv = classes or find_classes_csv(queries.resolve().parent)
        if classes_csv is None:
            raise ConfigError(
                f"classes: no classes.csv at or above {queries.parent}; pass --classes"
            )
        table_of_classes = read_classes(classes_csv)
        query_images = read_list_file(queries)
        gallery_images = read_gallery(gallery, table_of_classes)
        embedder = load_product_recogniser(model)[0] if model else load_embedder(None)
        metrics = evaluate_products(embedder, gallery_images, query_images, progress=True)
        picture = draw_matches(
            metrics,
            query_images,
            gallery_images,
            table_of_classes,
            (out or runs_dir() / "eval" / "products") / "matches.png",
        )
    table = Table(title=f"products: {queries} against {gallery}")
    for col in ("model", "gallery images", "classes", "queries", "top-1", "top-5"):
        table.add_column(col, justify="left" if col == "model" else "right")
    table.add_row(
        model or "pretrained MobileNetV2",
        str(metrics.gallery_images),
        str(metrics.gallery_classes),
        str(metrics.queries),
        f"{metrics.top1:.3f}",
        f"{metrics.top5:.3f}",
    )
    console.print(table)
    worst = sorted(metrics.per_class_top1.items(), key=lambda kv: kv[1])[:5]
    console.print(
        "weakest classes: "
        + ", ".join(f"{table_of_classes.names.get(c, c)} {acc:.2f}" for c, acc in worst)
    )
    console.print(f"matches: {picture}")
