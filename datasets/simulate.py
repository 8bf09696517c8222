"""`simulate`: a store layout + a scenario + a seed → videos and complete ground truth.

    from storelens.datasets.simulate import simulate
    result = simulate("configs/stores/demo_store.yaml", "easy", seed=0, out_dir="runs/sim/easy")

Behaviour runs once (JuPedSim, fast) and its records are validated and written as typed
ground truth (`storelens.datasets.sim.truth`: a malformed record stops the run with an error
naming the file and field); then each camera renders in its own process, so the two cores of a
small machine both work. The same inputs give the same files.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from storelens import __version__
from storelens.datasets.sim.appearance import ProductTextures
from storelens.datasets.sim.behaviour import StoreBehaviour, Timeline
from storelens.datasets.sim.effects import SensorEffects
from storelens.datasets.sim.event_frames import event_evidence, event_frames, reach_misses
from storelens.datasets.sim.groundtruth import frame_boxes
from storelens.datasets.sim.keypoints import (
    WRISTS_FILE,
    coco_joints,
    project_keypoints,
    write_wrists,
)
from storelens.datasets.sim.paths import FLOOR_PATHS_FILE, write_floor_paths
from storelens.datasets.sim.scenario import Scenario, load_scenario
from storelens.datasets.sim.truth import simulator_provenance, write_truth
from storelens.datasets.sim.views import PERSON, StoreViews
from storelens.datasets.sim.writer import CameraRecorder, write_multicam
from storelens.layout import StoreLayout
from storelens.revision import Provenance

PROGRESS_EVERY = 10  # frames between progress messages from a camera worker


@dataclass(frozen=True)
class SimulationResult:
    out_dir: Path
    camera_ids: list[str]
    frames: int
    seconds: float
    texture_source: str


@dataclass(frozen=True)
class _CameraJob:
    layout: StoreLayout
    timeline: Timeline
    textures: ProductTextures
    scenario: Scenario
    camera_id: str
    seed: int
    out_dir: Path
    drop_mask: np.ndarray  # (K,) bool: frames this camera fails to deliver


def _render_camera(job: _CameraJob, queue: Any = None) -> dict[str, Any]:
    views = StoreViews(job.layout, job.timeline, job.textures, [job.camera_id])
    cam = job.layout.camera(job.camera_id)
    effects = SensorEffects(job.scenario.imaging, job.seed, job.camera_id)
    tl = job.timeline
    recorder = CameraRecorder(
        job.out_dir, job.camera_id, cam.resolution[0], cam.resolution[1], tl.fps
    )
    person_index = np.full(len(views.objects.class_id), -1)
    person_index[views.person_oid] = np.arange(len(views.person_oid))
    for k in range(len(tl.t)):
        view = views.render(job.camera_id, k)
        image = effects.apply(view.image, k, float(tl.t[k]))
        if not job.drop_mask[k]:
            boxes = frame_boxes(view, views.objects)
            floor = np.full((len(boxes.oid), 2), np.nan)
            is_person = boxes.class_id == PERSON
            people = person_index[boxes.oid[is_person]]
            floor[is_person] = tl.position[k, people]
            active, body = views.bodies(k)
            keypoints = project_keypoints(
                coco_joints(body)[np.searchsorted(active, people)],
                np.column_stack([views.person_oid[people], views.hand_oid[people]]),
                views.renderers[job.camera_id],
                view.canvas_oid,
                view.canvas_depth,
            )
            recorder.add(
                image,
                boxes,
                k,
                float(tl.t[k]),
                float(tl.t[k]) + effects.clock_offset_s,
                floor,
                keypoints,
            )
        if queue is not None and (k + 1) % PROGRESS_EVERY == 0:
            queue.put((job.camera_id, PROGRESS_EVERY))
    summary = recorder.close()
    summary["clock_offset_s"] = effects.clock_offset_s
    summary["dropped_frames"] = int(job.drop_mask.sum())
    return summary


def simulate(
    store: str | Path | StoreLayout,
    scenario: str | Path | Scenario,
    seed: int,
    out_dir: str | Path,
    camera_ids: list[str] | None = None,
    render: bool = True,
    workers: int | None = None,
    show_progress: bool = True,
) -> SimulationResult:
    """Simulate and write everything listed in `storelens.datasets.sim.writer`.

    Args:
        store: layout path or object. scenario: preset name, path or object.
        camera_ids: a subset of cameras (default: all). render: False writes only the records
            (events, POS, RFID, sessions) — seconds instead of minutes.
        workers: camera processes (default: one per core, at most one per camera).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.perf_counter()
    layout = store if isinstance(store, StoreLayout) else StoreLayout.from_yaml(store)
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    cams = camera_ids or [c.camera_id for c in layout.cameras]
    for cid in cams:
        layout.camera(cid)  # raises KeyError naming a camera the store does not have
    fps = scen.fps or max(layout.camera(c).fps for c in cams)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        disable=not show_progress,
        transient=False,
    )
    with progress:
        n_frames = int(round(scen.duration_s * fps))
        task = progress.add_task(f"behaviour ({scen.name}, seed {seed})", total=n_frames)
        behaviour = StoreBehaviour(layout, scen, seed=seed, fps=fps)
        timeline = behaviour.run(progress=lambda done, total: progress.update(task, completed=done))
        textures = ProductTextures(layout, scen.imaging.packaging, seed)
        provenance = simulator_provenance(layout, scen, seed, fps)
        frames = _write_records(out, layout, scen, timeline, provenance)
        summaries: list[dict[str, Any]] = []
        if render:
            rng = np.random.default_rng(seed + 1)
            drops = {
                cid: rng.random(len(timeline.t)) < scen.imaging.dropped_frame_rate for cid in cams
            }
            jobs = [
                _CameraJob(layout, timeline, textures, scen, cid, seed, out, drops[cid])
                for cid in cams
            ]
            tasks = {cid: progress.add_task(f"render {cid}", total=len(timeline.t)) for cid in cams}
            n_workers = max(1, min(workers or multiprocessing.cpu_count(), len(cams)))
            if n_workers == 1:
                for job in jobs:
                    summaries.append(_render_camera(job, _ProgressSink(progress, tasks)))
            else:
                # fork: workers inherit the loaded modules (no re-import of a notebook's __main__);
                # never from a process that already runs threads (a thread pool's lock or spin
                # state copied into the child can hang it), where a fresh interpreter is safe
                fork_safe = threading.active_count() == 1 and "ray" not in sys.modules
                methods = multiprocessing.get_all_start_methods()
                method = "fork" if fork_safe and "fork" in methods else "spawn"
                ctx = multiprocessing.get_context(method)
                with (
                    ctx.Manager() as manager,
                    ProcessPoolExecutor(n_workers, mp_context=ctx) as pool,
                ):
                    queue = manager.Queue()
                    futures = [pool.submit(_render_camera, job, queue) for job in jobs]
                    while not all(f.done() for f in futures):
                        _drain(queue, progress, tasks, timeout=0.2)
                    _drain(queue, progress, tasks, timeout=0)
                    summaries = [f.result() for f in futures]
            write_multicam(
                out / "multicam_gt.txt", cams, {s["camera_id"]: s["person_rows"] for s in summaries}
            )
            hand_rows = {s["camera_id"]: s["hand_rows"] for s in summaries}
            for event, seen in zip(
                timeline.events, event_evidence(timeline, frames, hand_rows), strict=True
            ):
                event["evidence"] = seen
            write_truth(out, timeline, provenance)
    manifest = {
        "storelens_version": __version__,
        "store_id": layout.store_id,
        "scenario": scen.name,
        "seed": seed,
        "fps": fps,
        "frames": len(timeline.t),
        "start_t": float(timeline.t[0]),
        "cameras": [
            {
                "camera_id": s["camera_id"],
                "frames": s["frames"],
                "dropped_frames": s["dropped_frames"],
                "clock_offset_s": s["clock_offset_s"],
            }
            for s in summaries
        ],
        "texture_source": textures.source,
        "rendered": render,
        "events_out_of_reach": reach_misses(frames),
        "terminal_clock_offsets_s": timeline.terminal_offset_s,
        "classes": {"1": "person", "2": "hand", "3": "product"},
        "id_scheme": "person: gid; hand: 10000 + 2*gid + side; product: 100000 + unit index",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return SimulationResult(
        out, cams, len(timeline.t), time.perf_counter() - start, textures.source
    )


class _ProgressSink:
    """Stands in for the worker queue when cameras render in this process."""

    def __init__(self, progress: Any, tasks: dict[str, Any]) -> None:
        self.progress, self.tasks = progress, tasks

    def put(self, item: tuple[str, int]) -> None:
        self.progress.advance(self.tasks[item[0]], item[1])


def _drain(queue: Any, progress: Any, tasks: dict[str, Any], timeout: float) -> None:
    import queue as queue_module

    try:
        cid, n = queue.get(timeout=timeout) if timeout else queue.get_nowait()
        progress.advance(tasks[cid], n)
        while True:
            cid, n = queue.get_nowait()
            progress.advance(tasks[cid], n)
    except queue_module.Empty:
        return


def _write_records(
    out: Path, layout: StoreLayout, scen: Scenario, tl: Timeline, provenance: Provenance
) -> np.ndarray:
    """Write the store, the scenario, the ground-truth records and the wrists; return each
    event's timeline frames (touch, interval start, end: `event_frames`)."""
    frames = event_frames(tl)
    (out / "store.yaml").write_text(yaml.safe_dump(layout.model_dump(mode="json"), sort_keys=False))
    (out / "scenario.yaml").write_text(
        yaml.safe_dump(scen.model_dump(mode="json"), sort_keys=False)
    )
    write_truth(out, tl, provenance)
    write_wrists(out / WRISTS_FILE, tl)
    write_floor_paths(out / FLOOR_PATHS_FILE, tl)
    return frames
