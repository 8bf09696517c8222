"""`storelens run RUN_DIR --out OUT_DIR`: the store pipeline over a simulated or recorded store.

Frames are read from every camera's video and stepped through one `StorePipeline` instant by
instant (frames with the same step key across cameras are one step), exactly as the serving
worker steps live streams. Detections come from a trained detector (the shipped one by default,
or a weights file / `models:/NAME@alias`), or — `detections="ground-truth-noisy"` — from the
run's ground truth degraded like a real detector's (`synthetic_detections`), in which case no
video is decoded. With `keypoints="ground-truth-noisy"` every person detection also gets the
skeleton a pose model would give it (the true keypoints through the noise fitted to the shipped
pose model: `keypoint_source`), and the pipeline links each track's wrists into hands. With
hands and a calibrated store (`RUN_DIR/store.yaml`) the pipeline also finds shelf events
(`tracking.events`): the videos are decoded for the facings' appearance even when the
detections are noisy ground truth. Each stage writes its output under OUT_DIR:

    run.json                what ran: source, model, tracker config and its hash, steps, seconds
    detections/<cam>.txt    every detection (MOTChallenge det format)
    tracks/<cam>.txt        every confirmed track box (MOTChallenge results format)
    keypoints/<cam>.txt     each track's skeleton per frame (`formats.keypoints`, with scores)
    hands/<cam>.csv         each track's hands per frame (`HANDS_HEADER`)
    events.jsonl            the shelf events (core `ObservedShelfEvent` records), in the order
                            they were decided
    shoppers/<cam>.txt      every person track box with its global shopper id as reported
                            online (MOTChallenge results format; id = shopper + 1), where the
                            store is calibrated (`RUN_DIR/store.yaml`)
    shoppers/revised/<cam>.txt   the same with every merge applied (the final answer)
    shopper_corrections.jsonl    the merges and splits, in order
    sessions.jsonl          the visits (core `ObservedSession` records), in the order they
                            closed, then those still open at the end; where calibrated
    floor_paths.npz         each session shopper's floor path (`FloorPaths`, as the simulator
                            writes the true ones)

Attribution (`baskets.jsonl`) reads these as it reads the simulator's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from storelens.attribution.paths import FloorPaths
from storelens.datasets.formats.keypoints import keypoint_rows, write_keypoints
from storelens.datasets.formats.mot import MotTable, write_mot
from storelens.datasets.recording import StoreRecording
from storelens.datasets.sim.paths import FLOOR_PATHS_FILE
from storelens.datasets.sim.writer import write_records
from storelens.detections import PERSON, Detections
from storelens.evaluation.keypoint_source import attach_keypoints, noisy_camera_keypoints
from storelens.evaluation.mot_runner import detections_by_frame, instants, mot_tables
from storelens.evaluation.synthetic_detections import noisy_detections
from storelens.frames import FrameBatch
from storelens.inference.loading import SHIPPED, model_ref
from storelens.layout import StoreLayout
from storelens.records import ObservedSession, ObservedShelfEvent
from storelens.tracking.config import TrackerConfig
from storelens.tracking.events import EventConfig, ShelfEventStage
from storelens.tracking.hands import HandObservations
from storelens.tracking.pipeline import FrameDetector, PipelineOutput, StorePipeline
from storelens.tracking.sessions import SessionConfig, SessionTracker
from storelens.tracking.shoppers import ShopperConfig, ShopperTracker
from storelens.tracking.tracker import StoreTracker

DetectionSource = Literal["model", "ground-truth-noisy"]
DETECTION_SOURCES: tuple[str, ...] = ("model", "ground-truth-noisy")
KeypointSource = Literal["none", "ground-truth-noisy"]
KEYPOINT_SOURCES: tuple[str, ...] = ("none", "ground-truth-noisy")
HANDS_HEADER = "frame,id,side,x,y,confidence,held"


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    cameras: list[str]
    steps: int
    seconds: float
    source: str


def run_store(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    detections: DetectionSource = "model",
    keypoints: KeypointSource = "none",
    model: str | Path = SHIPPED,
    tracker_config: TrackerConfig | None = None,
    event_config: EventConfig | None = None,
    shopper_config: ShopperConfig | None = None,
    session_config: SessionConfig | None = None,
    seed: int = 0,
    progress: bool = True,
) -> RunSummary:
    """Drive the pipeline over every camera of `run_dir` and write each stage's output."""
    if detections not in DETECTION_SOURCES:
        raise ValueError(f"detections: {detections!r} is not one of {DETECTION_SOURCES}")
    if keypoints not in KEYPOINT_SOURCES:
        raise ValueError(f"keypoints: {keypoints!r} is not one of {KEYPOINT_SOURCES}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():  # refused before any work, not after the last step
        raise NotADirectoryError(f"{out}: is a file; the output of a run is a folder")
    recording = StoreRecording(run_dir)
    config = tracker_config or TrackerConfig()
    cameras = recording.camera_ids
    times = {c: recording.frame_times(c) for c in cameras}
    started = time.perf_counter()

    store_yaml = Path(run_dir) / "store.yaml"
    store = StoreLayout.from_yaml(store_yaml) if store_yaml.is_file() else None
    layout = store if keypoints != "none" else None
    if detections == "model":
        ref = model_ref(model)
        pipeline = StorePipeline(StoreTracker(config), detector=_detector(ref))
        steps = video_steps(recording, times)
        source = f"detector {ref}"
    else:
        ref = None
        pipeline = StorePipeline(StoreTracker(config))
        steps = noisy_steps(recording, seed, times)
        if layout is not None:  # the events stage looks at the facings: decode the videos too
            steps = (
                (pictures, dets)
                for (pictures, _), (_, dets) in zip(
                    video_steps(recording, times), steps, strict=True
                )
            )
        source = f"ground truth + synthetic detector noise (seed {seed})"
    if keypoints == "ground-truth-noisy":
        steps = with_noisy_keypoints(recording, steps, seed, pipeline.detector)
        source += " + noisy keypoints"
    if store is not None:
        geometries = {c.camera_id: c.geometry() for c in store.cameras if c.camera_id in cameras}
        pipeline.shoppers = ShopperTracker(geometries, shopper_config)
        pipeline.sessions = SessionTracker(store, pipeline.shoppers, session_config)
    if layout is not None:
        pipeline.events = ShelfEventStage(layout, geometries, config=event_config)

    n_steps = len(np.unique(np.concatenate([times[c][1] for c in cameras])))
    all_dets, all_tracks, all_shoppers = [], [], []
    skeletons: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    hands: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    outputs = pipeline.run(steps)
    if progress:
        from rich.progress import track

        outputs = track(outputs, total=n_steps, description=f"pipeline ({source})", transient=True)
    events: list[ObservedShelfEvent] = []
    sessions: list[ObservedSession] = []
    for output in outputs:
        events.extend(output.events)
        sessions.extend(output.sessions)
        all_dets.append(_strip(output.detections))
        all_tracks.append(output.tracks)
        if output.shoppers is not None:
            all_shoppers.append(_shopper_boxes(output))
        if keypoints != "none":
            _collect_bodies(output, skeletons, hands)
    det_tables = mot_tables(Detections.concatenate(all_dets))  # tracker ids stay -1
    track_tables = mot_tables(Detections.concatenate(all_tracks))
    for camera in cameras:
        write_mot(
            out / "detections" / f"{camera}.txt", det_tables.get(camera, MotTable.empty()), "det"
        )
        write_mot(
            out / "tracks" / f"{camera}.txt", track_tables.get(camera, MotTable.empty()), "results"
        )
    if pipeline.shoppers is not None:
        _write_shoppers(out, cameras, Detections.concatenate(all_shoppers), pipeline.shoppers)
    tail = pipeline.finish()
    events.extend(tail.events)
    sessions.extend(tail.sessions)
    if pipeline.events is not None:
        write_records(out / "events.jsonl", events)
    if pipeline.sessions is not None:
        write_records(out / "sessions.jsonl", sessions)
        names, t, xy = pipeline.sessions.paths()
        FloorPaths(names, t, xy).save(out / FLOOR_PATHS_FILE)
    if keypoints != "none":
        for camera in cameras:
            write_keypoints(out / "keypoints" / f"{camera}.txt", skeletons[camera], scores=True)
            write_hands(out / "hands" / f"{camera}.csv", hands[camera])
    seconds = time.perf_counter() - started
    (out / "run.json").write_text(
        json.dumps(
            {
                "run_dir": str(Path(run_dir).resolve()),
                "detections": detections,
                "keypoints": keypoints,
                "model": ref,
                "seed": seed,
                "cameras": cameras,
                "steps": pipeline.steps,
                "events": len(events) if pipeline.events is not None else None,
                "sessions": len(sessions) if pipeline.sessions is not None else None,
                "lookahead_s": pipeline.lookahead_s,
                "tracker_config": config.model_dump(mode="json"),
                "seconds": round(seconds, 2),
            },
            indent=2,
        )
    )
    return RunSummary(out, cameras, pipeline.steps, seconds, source)


def _shopper_boxes(output: PipelineOutput) -> Detections:
    """The step's person track boxes with the shopper id (+ 1) as their track id; a second
    box on a person (`ShopperStep.primary` False) is left out: one box per person and camera."""
    step = output.shoppers
    assert step is not None
    persons = output.tracks[np.flatnonzero(output.tracks.class_id == PERSON)]
    main = np.flatnonzero(step.primary)
    return _strip(persons[main]).with_fields(tracker_id=step.shopper_id[main] + 1)


def _write_shoppers(
    out: Path, cameras: list[str], boxes: Detections, shoppers: ShopperTracker
) -> None:
    online = mot_tables(boxes)
    revised = mot_tables(boxes.with_fields(tracker_id=shoppers.resolve(boxes.tracker_id - 1) + 1))
    for camera in cameras:
        write_mot(
            out / "shoppers" / f"{camera}.txt", online.get(camera, MotTable.empty()), "results"
        )
        write_mot(
            out / "shoppers" / "revised" / f"{camera}.txt",
            revised.get(camera, MotTable.empty()),
            "results",
        )
    (out / "shopper_corrections.jsonl").write_text(
        "".join(json.dumps(asdict(c)) + "\n" for c in shoppers.corrections)
    )


def _detector(ref: str):  # type: ignore[no-untyped-def]
    from storelens.inference.detector import UltralyticsDetector
    from storelens.inference.loading import load_detector

    return UltralyticsDetector(load_detector(ref))


def video_steps(
    recording: StoreRecording, times: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> Iterator[tuple[FrameBatch, None]]:
    """Decoded frames of every camera, one `FrameBatch` per capture instant (for a detector);
    `times` (camera → `frame_times`) when the caller has read them already."""
    cameras = recording.camera_ids
    times = times or {c: recording.frame_times(c) for c in cameras}
    captures = [cv2.VideoCapture(str(recording.video(c))) for c in cameras]
    try:
        for c, cap in zip(cameras, captures, strict=True):
            if not cap.isOpened():
                raise FileNotFoundError(f"{recording.video(c)}: cannot open the video")
        for frames, present in instants(
            cameras, [times[c][0] for c in cameras], [times[c][1] for c in cameras]
        ):
            images = []
            for i, f in present:
                ok, image = captures[i].read()
                if not ok:
                    raise ValueError(
                        f"{recording.video(cameras[i])}: ends before frame {f + 1} "
                        f"({len(times[cameras[i]][0])} frames listed)"
                    )
                images.append(image)
            yield replace(frames, images=images), None
    finally:
        for cap in captures:
            cap.release()


def noisy_steps(
    recording: StoreRecording,
    seed: int = 0,
    times: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Iterator[tuple[FrameBatch, Detections]]:
    """Per capture instant: frames without pixels and the ground truth degraded as the shipped
    detector degrades it (`synthetic_detections`: the noise model fitted to it, with each
    camera's own clutter; deterministic for `seed`, camera i uses seed * 1000 + i)."""
    cameras = recording.camera_ids
    times = times or {c: recording.frame_times(c) for c in cameras}
    per_frame = []
    for i, camera in enumerate(cameras):
        if not recording.has_ground_truth(camera):
            raise FileNotFoundError(
                f"{recording.camera_dir(camera)}: no gt/gt.txt to make noisy detections from"
            )
        width, height = recording.image_size(camera)
        table = noisy_detections(
            recording.ground_truth(camera), width, height, seed=seed * 1000 + i, camera_id=camera
        )
        per_frame.append(detections_by_frame(table, camera, times[camera][0]))
    for frames, present in instants(
        cameras, [times[c][0] for c in cameras], [times[c][1] for c in cameras]
    ):
        yield frames, Detections.concatenate([per_frame[i][f] for i, f in present])


def with_noisy_keypoints(
    recording: StoreRecording,
    steps: Iterator[tuple[FrameBatch, Detections | None]],
    seed: int = 0,
    detector: FrameDetector | None = None,
) -> Iterator[tuple[FrameBatch, Detections]]:
    """The steps with every person detection given its noisy skeleton (`keypoint_source`;
    camera i draws with seed * 1000 + i). Steps without detections are detected here first,
    by the pipeline's own `detector`, so the pipeline does not detect them again."""
    sources = {
        c: noisy_camera_keypoints(recording, c, seed=seed * 1000 + i)
        for i, c in enumerate(recording.camera_ids)
    }
    for frames, dets in steps:
        if dets is None:
            if detector is None:
                raise ValueError("with_noisy_keypoints: a step without detections and no detector")
            dets = detector(frames)
        frame_of = dict(zip(frames.camera_id.tolist(), frames.frame_index.tolist(), strict=True))
        yield frames, attach_keypoints(dets, frame_of, sources)


def _collect_bodies(
    output: PipelineOutput,
    skeletons: dict[str, list[np.ndarray]],
    hands: dict[str, list[np.ndarray]],
) -> None:
    tracks = output.tracks
    for camera in np.unique(tracks.camera_id).tolist():  # per camera, never per track
        mine = tracks.camera_id == camera
        frame = int(tracks.data["frame_index"][mine][0])
        skeletons[camera].append(
            keypoint_rows(frame, tracks.tracker_id[mine], tracks.data["keypoints"][mine])
        )
    for obs in output.hands:
        if len(obs):
            hands[obs.camera_id].append(hand_rows(obs))


def hand_rows(obs: HandObservations) -> np.ndarray:
    """(M,7) `frame, id, side, x, y, confidence, held` rows of one camera frame's hands."""
    n = len(obs)
    return np.column_stack(
        [np.full(n, obs.frame), obs.track_id, obs.side, obs.xy, obs.confidence, obs.held]
    )


def write_hands(path: Path, rows: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = np.concatenate(rows) if rows else np.zeros((0, 7))
    fmt = ["%d", "%d", "%d", "%.2f", "%.2f", "%.3f", "%d"]
    np.savetxt(path, table, fmt=fmt, delimiter=",", header=HANDS_HEADER, comments="")
    return path


def _strip(dets: Detections) -> Detections:
    """Only what the detections file keeps (no embeddings ever leave memory)."""
    return Detections(
        xyxy=dets.xyxy,
        confidence=dets.confidence,
        class_id=dets.class_id,
        camera_id=dets.camera_id,
        timestamp=dets.timestamp,
        data={"frame_index": dets.data["frame_index"]},
    )
