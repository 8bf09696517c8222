"""The data set a training job reads: the user's YOLO `data.yaml`, or the simulated store
exported on the fly (cached by its settings), and the fingerprint logged with every run.

A simulated data set is one of two layouts, both `yolo/{images,labels}/{train,val}`:

- `sim.val_seed` set: `train` is every exported frame of the training simulation and `val` every
  exported frame of a second simulation (another seed, or another scenario) — what ultralytics
  selects `best.pt` on is a run the detector never trains on. Files are named after their run:
  `images/val/crowded-s1_ceil-sw_000401.jpg`;
- no `val_seed`: one simulation split by time (first 80 % train, last 20 % val), as before.

`simulated_eval_dataset` builds a data set of one simulation (or a time window of it) that is
all `val`, for scoring a detector on a scenario and seed it never saw
(`training.detector_eval.evaluate_on_simulation`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import NamedTuple

import yaml

from storelens.settings import runs_dir
from storelens.training.config import VAL_FIELDS, SimData


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def simulate_run(
    store: str | None,
    scenario: str,
    seed: int,
    duration_s: float,
    out_dir: Path,
    cameras: list[str] | None = None,
) -> Path:
    """`scenario` (a preset or a file) cut to `duration_s`, simulated into `out_dir` unless it
    is already there (`datasets.sim_cache.cached_simulation`)."""
    from storelens.configs import builtin_store
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim_cache import cached_simulation

    scen = load_scenario(scenario).with_overrides(duration_s=duration_s)
    cached_simulation(store or builtin_store(), scen, seed, out_dir, camera_ids=cameras)
    return out_dir


class RunExport(NamedTuple):
    sim_dir: Path
    prefix: str  # exported files are named `<prefix>_<camera>_<frame>`
    start_s: float = 0.0  # frames before this simulation time are left out


def export_labels(sim_dir: Path, out_dir: Path, class_set: str, every: int) -> Path:
    """A run exported as YOLO: boxes of the `coarse` or `sku` classes, or (`pose`) full-resolution
    person crops with COCO-17 keypoints (`datasets.formats.yolo_pose`); returns `data.yaml`."""
    if class_set == "pose":
        from storelens.datasets.formats.yolo_pose import export_yolo_pose

        return export_yolo_pose(sim_dir, out_dir, crops=True, every=every)
    from storelens.datasets.formats.yolo import export_yolo

    return export_yolo(sim_dir, out_dir, class_set=class_set, every=every)


def _export_whole_runs(
    runs: dict[str, RunExport], out: Path, class_set: str, every: int, work: Path
) -> Path:
    """Every exported frame of each run `runs[split]` from its `start_s` on into
    `out/{images,labels}/<split>`, named after the run it comes from; `data.yaml` is written
    last (a folder without it is incomplete and is rebuilt). A split missing from `runs` is an
    empty folder."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    names, extra = None, {}
    for split in ("train", "val"):
        for kind in ("images", "labels"):
            (out / kind / split).mkdir(parents=True, exist_ok=True)
    for split, run in runs.items():
        exported = yaml.safe_load(
            export_labels(run.sim_dir, work / split, class_set, every).read_text()
        )
        names = names or exported["names"]
        extra = {k: v for k, v in exported.items() if k not in ("path", "train", "val", "names")}
        if exported["names"] != names:
            raise ValueError(f"{run.sim_dir}: its {class_set} classes differ from the first run's")
        fps = float(json.loads((run.sim_dir / "manifest.json").read_text())["fps"])
        first_frame = 1 + round(run.start_s * fps)
        kept = 0
        for kind in ("images", "labels"):
            for part in ("train", "val"):  # the export's time split, undone
                for f in sorted((work / split / kind / part).iterdir()):
                    if int(f.stem.rsplit("_", 1)[1]) < first_frame:
                        continue
                    f.replace(out / kind / split / f"{run.prefix}_{f.name}")
                    kept += kind == "images"
        if not kept:
            raise ValueError(f"{run.sim_dir}: no frame from {run.start_s:g} s on to export")
    shutil.rmtree(work, ignore_errors=True)
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": names,
        **extra,  # a pose set's kpt_shape and flip_idx
    }
    path = out / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def simulated_dataset(sim: SimData) -> Path:
    """Simulate the store (and the validation run) and export it as YOLO, all cached under
    `runs/train-data/<key>/`; returns `data.yaml`."""
    # the validation fields are left out of the key while unset: older caches stay valid
    unset = {f for f in VAL_FIELDS if getattr(sim, f) is None}
    root = runs_dir() / "train-data" / _key(sim.model_dump_json(exclude=unset))
    data_yaml = root / "yolo" / "data.yaml"
    if data_yaml.is_file():
        return data_yaml
    simulate_run(sim.store, sim.scenario, sim.seed, sim.duration_s, root / "sim", sim.cameras)
    if sim.val_seed is None:
        return export_labels(root / "sim", root / "yolo", sim.class_set, sim.every)
    simulate_run(
        sim.store,
        sim.validation_scenario,
        sim.val_seed,
        sim.validation_duration_s,
        root / "sim-val",
        sim.cameras,
    )
    return _export_whole_runs(
        {
            "train": RunExport(root / "sim", f"{Path(sim.scenario).stem}-s{sim.seed}"),
            "val": RunExport(
                root / "sim-val", f"{Path(sim.validation_scenario).stem}-s{sim.val_seed}"
            ),
        },
        root / "yolo",
        sim.class_set,
        sim.every,
        root / "export",
    )


def simulated_eval_dataset(
    scenario: str,
    seed: int,
    duration_s: float,
    cameras: list[str] | None = None,
    every: int = 5,
    class_set: str = "coarse",
    store: str | None = None,
    start_s: float = 0.0,
) -> Path:
    """One simulation of `duration_s`, every `every`-th frame of it from `start_s` on as the
    `val` split (`train` is empty); returns `data.yaml`. Cached under `runs/eval-data/`: the
    simulation in `sims/<key>/` (shared by every window and export of it), the export in
    `<key>/yolo/`."""
    if not 0 <= start_s < duration_s:
        raise ValueError(f"start_s: {start_s} is not in [0, duration_s = {duration_s})")
    run = {
        "store": store,
        "scenario": scenario,
        "seed": seed,
        "duration_s": float(duration_s),
        "cameras": cameras,
    }
    settings = {**run, "every": every, "class_set": class_set, "start_s": float(start_s)}
    base = runs_dir() / "eval-data"
    root = base / _key(json.dumps(settings, sort_keys=True))
    data_yaml = root / "yolo" / "data.yaml"
    if data_yaml.is_file():
        return data_yaml
    sim_dir = simulate_run(
        store,
        scenario,
        seed,
        duration_s,
        base / "sims" / _key(json.dumps(run, sort_keys=True)),
        cameras,
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.json").write_text(json.dumps({**settings, "sim": str(sim_dir)}, indent=1))
    runs = {"val": RunExport(sim_dir, f"{Path(scenario).stem}-s{seed}", start_s)}
    return _export_whole_runs(runs, root / "yolo", class_set, every, root / "export")


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
