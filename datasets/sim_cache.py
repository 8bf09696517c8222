"""Simulate a store unless the same simulation is already on disk: the one cache that the demo,
training data and the benchmarks share.

A simulation is the same when its store file, scenario, seed, cameras, the product atlas and
the storelens version are: their sha256 is written to `cache_key.txt` beside the output once
the simulation has finished, so an interrupted run is never taken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from storelens.datasets.sim.product_atlas import atlas_sha256
from storelens.datasets.sim.scenario import Scenario

KEY_FILE = "cache_key.txt"


@dataclass(frozen=True)
class CachedSimulation:
    out_dir: Path
    cached: bool  # True when nothing was simulated this time
    frames: int
    camera_ids: list[str]
    seconds: float  # simulation time (0 when cached)
    texture_source: str


def simulation_key(
    store: str | Path,
    scenario: Scenario,
    seed: int,
    camera_ids: list[str] | None,
    render: bool = True,
) -> str:
    from storelens import __version__

    parts = {
        "store": Path(store).read_text(encoding="utf-8"),
        "scenario": scenario.model_dump(mode="json"),
        "seed": seed,
        "cameras": camera_ids,
        "atlas": atlas_sha256(),
        "version": __version__,
    }
    if not render:  # records only (rendered keys stay as they were)
        parts["render"] = False
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached_simulation(
    store: str | Path,
    scenario: Scenario,
    seed: int,
    out_dir: str | Path,
    camera_ids: list[str] | None = None,
    show_progress: bool = True,
    render: bool = True,
) -> CachedSimulation:
    """`simulate(...)` into `out_dir`, or nothing when `out_dir` already holds this simulation."""
    from storelens.datasets.simulate import simulate

    out = Path(out_dir)
    key = simulation_key(store, scenario, seed, camera_ids, render)
    key_file, manifest = out / KEY_FILE, out / "manifest.json"
    if key_file.is_file() and key_file.read_text() == key and manifest.is_file():
        info = json.loads(manifest.read_text())
        return CachedSimulation(
            out,
            True,
            int(info.get("frames", 0)),
            [c["camera_id"] for c in info.get("cameras", [])],
            0.0,
            str(info.get("texture_source", "")),
        )
    key_file.unlink(missing_ok=True)
    result = simulate(
        store,
        scenario,
        seed=seed,
        out_dir=out,
        camera_ids=camera_ids,
        show_progress=show_progress,
        render=render,
    )
    key_file.write_text(key)
    return CachedSimulation(
        out, False, result.frames, result.camera_ids, result.seconds, result.texture_source
    )
