"""The data set a training job reads: the user's YOLO `data.yaml`, or the simulated store
exported on the fly (cached by its settings), and the fingerprint logged with every run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from storelens.settings import runs_dir
from storelens.training.config import SimData


def simulated_dataset(sim: SimData) -> Path:
    """Simulate the store and export it as YOLO (both cached); returns `data.yaml`."""
    from storelens.configs import builtin_store
    from storelens.datasets.formats.yolo import export_yolo
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim_cache import cached_simulation

    key = hashlib.sha256(sim.model_dump_json().encode()).hexdigest()[:12]
    root = runs_dir() / "train-data" / key
    data_yaml = root / "yolo" / "data.yaml"
    if data_yaml.is_file():
        return data_yaml
    scenario = load_scenario(sim.scenario).with_overrides(duration_s=sim.duration_s)
    cached_simulation(
        sim.store or builtin_store(), scenario, sim.seed, root / "sim", camera_ids=sim.cameras
    )
    return export_yolo(root / "sim", root / "yolo", class_set=sim.class_set, every=sim.every)


def dataset_fingerprint(data_yaml: str | Path) -> str:
    """sha256 over the names and bytes of every label file and the names of every image."""
    data = yaml.safe_load(Path(data_yaml).read_text())
    root = Path(data.get("path") or Path(data_yaml).parent)
    digest = hashlib.sha256()
    for split in ("train", "val"):
        images = root / str(data[split])
        labels = Path(str(images).replace("images", "labels"))
        for img in sorted(images.glob("*")):
            digest.update(img.name.encode())
        for lbl in sorted(labels.glob("*.txt")):
            digest.update(lbl.name.encode())
            digest.update(lbl.read_bytes())
    return digest.hexdigest()
