"""Product (SKU) recognition: the gallery search, the GroceryStoreDataset adapter and its errors,
`storelens eval products` on the real photos, and a short fine-tuning run that must beat the
pretrained backbone, registered and loaded back by name."""

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from storelens.cli import app
from storelens.config import ConfigError
from storelens.datasets.grocery import read_classes, read_gallery, read_list_file
from storelens.inference.product_gallery import ProductGallery

runner = CliRunner()


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_gallery_scores_a_class_by_its_best_image_and_lists_distinct_classes():
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(6, 32)))
    # class 4 has three images, one of them right on the query; the others far from it
    gallery = ProductGallery(
        _unit(np.vstack([centres, -centres[4], centres[4] * 0.2 + centres[1]])),
        np.array([0, 1, 2, 3, 4, 5, 4, 4]),
    )
    labels, scores = gallery.search(centres[[4, 2]], k=3)
    assert labels[:, 0].tolist() == [4, 2]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    assert all(len(set(row)) == 3 for row in labels.tolist())  # distinct SKUs, not images
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_gallery_grows_by_adding_a_catalogue_image_without_retraining():
    rng = np.random.default_rng(1)
    centres = _unit(rng.normal(size=(5, 16)))
    gallery = ProductGallery(centres[:4], np.arange(4))
    assert gallery.search(centres[4:], k=1)[0][0, 0] != 99
    grown = gallery.extended(centres[4:], np.array([99]))
    assert grown.search(centres[4:], k=1)[0][0, 0] == 99
    assert len(gallery.labels) == 4  # the original is untouched


def test_gallery_round_trips_through_a_file(tmp_path):
    gallery = ProductGallery(_unit(np.eye(3, 8) + 0.1), np.array([7, 8, 9]))
    loaded = ProductGallery.load(gallery.save(tmp_path / "g.npz"))
    assert np.array_equal(loaded.labels, gallery.labels)
    assert np.allclose(loaded.embeddings, gallery.embeddings)


@pytest.fixture
def tiny_grocery(tmp_path):
    """A two-class folder laid out like GroceryStoreDataset, with real (small) JPEG files."""
    root = tmp_path / "dataset"
    for name, colour in (("Red-Thing", (0, 0, 200)), ("Blue-Thing", (200, 0, 0))):
        for split in ("train", "iconic-images-and-descriptions"):
            folder = root / split / "Things" / name
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / f"{name}_001.jpg"), np.full((40, 40, 3), colour, np.uint8))
    (root / "classes.csv").write_text(
        "Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int),"
        "Iconic Image Path (str),Product Description Path (str)\n"
        "Red-Thing,0,Thing,0,/iconic-images-and-descriptions/Things/Red-Thing/Red-Thing_001.jpg,\n"
        "Blue-Thing,1,Thing,0,/iconic-images-and-descriptions/Things/Blue-Thing/Blue-Thing_001.jpg,\n"
    )
    (root / "train.txt").write_text(
        "train/Things/Red-Thing/Red-Thing_001.jpg, 0, 0\n"
        "train/Things/Blue-Thing/Blue-Thing_001.jpg, 1, 0\n"
    )
    return root


def test_adapter_reads_list_files_class_tables_and_gallery_folders(tiny_grocery):
    classes = read_classes(tiny_grocery / "classes.csv")
    assert classes.names == {0: "Red-Thing", 1: "Blue-Thing"}
    images = read_list_file(tiny_grocery / "train.txt")
    assert images.labels.tolist() == [0, 1] and all(p.is_file() for p in images.paths)
    gallery = read_gallery(tiny_grocery / "iconic-images-and-descriptions", classes)
    assert sorted(gallery.labels.tolist()) == [0, 1]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "train/Things/Red-Thing/Red-Thing_001.jpg, zero, 0",
            "train.txt:2: fine_id: not an integer (got 'zero')",
        ),
        ("train/missing.jpg, 0, 0", "train.txt:2: image not found: 'train/missing.jpg'"),
        ("just-a-path.jpg", "train.txt:2: expected `path, fine_id[, coarse_id]`"),
    ],
)
def test_bad_list_lines_name_the_file_line_and_value(tiny_grocery, line, expected):
    path = tiny_grocery / "train.txt"
    path.write_text(path.read_text().splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(
        ConfigError,
        match=expected.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        read_list_file(path)


def test_gallery_folder_with_an_unknown_class_is_refused(tiny_grocery):
    stray = tiny_grocery / "iconic-images-and-descriptions" / "Things" / "Green-Thing"
    stray.mkdir()
    cv2.imwrite(str(stray / "g.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ConfigError, match=r"folder names not in classes.csv: \['Green-Thing'\]"):
        read_gallery(
            tiny_grocery / "iconic-images-and-descriptions",
            read_classes(tiny_grocery / "classes.csv"),
        )


def test_eval_products_cli_reports_a_missing_list_file_cleanly(tiny_grocery):
    result = runner.invoke(
        app,
        [
            "eval",
            "products",
            "--gallery",
            str(tiny_grocery / "train.txt"),
            "--queries",
            str(tiny_grocery / "nope.txt"),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 2
    assert "nope.txt: list file not found" in result.output


@pytest.mark.slow
def test_eval_products_scores_the_pretrained_backbone_on_grocery_val(
    shared_data, tmp_path, monkeypatch
):
    """The issue's floor: the pretrained embedder with the catalogue gallery, top-1 ≈ 0.27."""
    monkeypatch.setenv("STORELENS_RUNS_DIR", str(tmp_path))
    root = shared_data / "grocery-store" / "dataset"
    result = runner.invoke(
        app,
        [
            "eval",
            "products",
            "--gallery",
            str(root / "iconic-images-and-descriptions"),
            "--queries",
            str(root / "val.txt"),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "pretrained MobileNetV2" in line)
    images, n_classes, queries, top1, top5 = [float(v) for v in row.split("│")[2:7]]
    assert (images, n_classes, queries) == (81, 81, 296)
    assert 0.2 < top1 < 0.35 and top5 > top1
    assert (tmp_path / "eval" / "products" / "matches.png").is_file()


@pytest.fixture(scope="module")
def fine_tuned(shared_data, tmp_path_factory, repo_root):
    tmp = tmp_path_factory.mktemp("products")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("STORELENS_RUNS_DIR", str(tmp / "runs"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        result = runner.invoke(
            app,
            ["train", "products", "--config", str(repo_root / "configs/train/products_tiny.yaml")],
            terminal_width=200,
        )
        yield {"result": result, "tmp": tmp}
    finally:
        mp.undo()


@pytest.mark.slow
def test_short_fine_tuning_beats_the_pretrained_backbone(fine_tuned, repo_root, monkeypatch):
    from storelens.inference.loading import load_product_recogniser
    from storelens.inference.product_embedder import load_embedder
    from storelens.training.config import load_products_config
    from storelens.training.product_eval import evaluate_products
    from storelens.training.product_training import load_product_data

    assert fine_tuned["result"].exit_code == 0, fine_tuned["result"].output
    assert "registered: models:/storelens-product-embedder-tiny/1" in fine_tuned["result"].output
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{fine_tuned['tmp'] / 'mlflow.db'}")
    embedder, gallery = load_product_recogniser("models:/storelens-product-embedder-tiny@candidate")
    data = load_product_data(load_products_config(repo_root / "configs/train/products_tiny.yaml"))
    assert len(gallery.labels) == len(data.train) + len(data.iconic)
    tuned = evaluate_products(embedder, data.iconic, data.val)
    floor = evaluate_products(load_embedder(None), data.iconic, data.val)
    one_per_class = len(np.unique(data.val.labels))  # val holds 60 of the 81 SKUs
    assert tuned.queries == floor.queries == len(data.val) == one_per_class
    assert tuned.top1 > floor.top1 + 0.1, (tuned.top1, floor.top1)


@pytest.mark.slow
def test_fine_tuning_is_one_mlflow_run_with_epoch_metrics_and_artifacts(fine_tuned):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{fine_tuned['tmp'] / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["products"], output_format="list")
    assert run.data.params["split"] == "14" and run.data.params["epochs"] == "1"
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val/top1_iconic")
    assert [m.step for m in history] == [0]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "products")}
    assert {
        "products/product_embedder.pt",
        "products/gallery.npz",
        "products/val_matches.png",
    } <= artifacts
