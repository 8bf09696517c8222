"""Every person's true floor path, written beside the records (`floor_paths.npz`).

Attribution reads where shoppers were — who stood at a checkout lane when a sale was rung up,
who walked through the exit gate when a tag was read — from floor paths; the cross-camera
shopper stage makes them from video, the simulator writes the true ones here, so attribution
can be measured from ground truth on a records-only run. Arrays (no pickled objects):
`shopper_id` (N,) person ids (`p001` ...), `t` (N,) seconds since the epoch, `xy` (N,2) metres,
sampled every `PATH_STEP_S` while the person is in the store, sorted by person then time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from storelens.datasets.sim.behaviour import Timeline

FLOOR_PATHS_FILE = "floor_paths.npz"
PATH_STEP_S = 0.2  # 5 samples a second: finer than a step at walking speed (~0.25 m)


def write_floor_paths(path: Path, tl: Timeline) -> Path:
    """Write the timeline's floor paths (see the module docstring)."""
    every = max(1, int(round(PATH_STEP_S * (tl.fps or 1.0))))
    frames = np.arange(0, len(tl.t), every)
    active = tl.active[frames]  # (F,P)
    person, frame = np.nonzero(active.T)  # person-major, then frame order
    ids = np.array([f"p{q.gid:03d}" for q in tl.persons], dtype=str)
    np.savez_compressed(
        path,
        shopper_id=ids[person] if len(ids) else np.array([], str),
        t=tl.t[frames][frame],
        xy=tl.position[frames][frame, person],
    )
    return path
