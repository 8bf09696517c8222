"""`StorePipeline`: one object that steps a store frame by frame, online and offline alike.

    pipeline = StorePipeline(StoreTracker(config), detector=UltralyticsDetector(model))
    for frames in stream:                    # FrameBatch: the cameras' frames of one instant
        out = pipeline.step(frames)          # out.detections, out.tracks
    pipeline.save_checkpoint("ckpt.npz")     # resume: StorePipeline(...).load_checkpoint(...)

Stages today: detection (a detector passed in, or detections the caller already has, e.g.
recorded or noisy ground truth), optional appearance embeddings, the multi-camera tracker, and
hands: where detections carry keypoints (`data["keypoints"]`, (N,17,3) `x, y, score`, from a
pose model or noisy ground truth), each track gets its detection's skeleton and a `HandLinker`
turns the wrists into hands of that track (`PipelineOutput.hands`, one `HandObservations` per
camera); and shelf events, where an events stage is given (`events.ShelfEventStage`: hands in
3-D, facing episodes, the facings' change in the frames' images → `PipelineOutput.events`;
`finish()` decides the reaches still open at the end of a run); and shoppers, where a
`shoppers.ShopperTracker` is given: every camera's person tracks fused on the floor plan into
global ids (`PipelineOutput.shoppers`); and sessions, where a `sessions.SessionTracker` is
given as well: visits from the entrance to the exit, parties grouped, each closed session
returned at the step it closes (`PipelineOutput.sessions`; `finish()` returns the sessions of
people still inside with the open reaches). The offline runner
(`storelens run`), the notebooks, the demo and the serving worker all drive this one object,
so what is evaluated is what is served.

**Causal, with a declared delay.** Every stage sees only frames up to the current one and
declares how many seconds of look-ahead it needs before its output about an instant is final
(`lookahead_s`); the pipeline's delay is the sum along the chain. The tracker needs none: a
track reported at step t is never changed by later frames. A test checks that one call over a
whole run and frame-by-frame stepping give exactly the same output, and that output up to
frame k does not depend on frames after it.

**Checkpoints** hold the tracker's state and the pipeline's own counters, never appearance
embeddings or image data: nothing biometric is persisted, and after a resume appearance is
rebuilt from the next frames. The hand linker's few frames of held wrists are not kept either:
after a resume a hand is held again from its next confident wrist. The shoppers and sessions
stages are not in checkpoints yet: after a resume they start afresh with new global ids, and
the visits still open at the checkpoint are never emitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from storelens.detections import PERSON, Detections
from storelens.frames import FrameBatch
from storelens.records import ObservedSession, ObservedShelfEvent
from storelens.tracking.checkpoint import load_checkpoint, save_checkpoint
from storelens.tracking.events import ShelfEventStage
from storelens.tracking.hands import HandLinker, HandObservations
from storelens.tracking.sessions import SessionTracker
from storelens.tracking.shoppers import ShopperStep, ShopperTracker
from storelens.tracking.tracker import StoreTracker

CHECKPOINT_FORMAT = "storelens-pipeline/1"
TRACKER_LOOKAHEAD_S = 0.0  # a reported track is never revised by later frames


class FrameDetector(Protocol):
    """Anything that turns a batch of frames into detections (e.g. `UltralyticsDetector`)."""

    def __call__(self, frames: FrameBatch) -> Detections: ...


# (image (H,W,3) BGR, xyxy (N,4)) -> (N, D) unit vectors, e.g. `PersonEmbedder`
Embedder = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PipelineOutput:
    """What one step produced. Both are `Detections` with `data["frame_index"]` set."""

    detections: Detections  # every camera's detections at this step
    tracks: Detections  # confirmed tracks updated at this step (`tracker_id` set)
    hands: tuple[HandObservations, ...] = ()  # per camera of this step, where keypoints came
    events: tuple[ObservedShelfEvent, ...] = ()  # shelf events decided at this step
    shoppers: ShopperStep | None = None  # each person track's global shopper, where fused
    sessions: tuple[ObservedSession, ...] = ()  # sessions closed at this step


@dataclass(frozen=True)
class PipelineTail:
    """What the stages still held at the end of a run."""

    events: list[ObservedShelfEvent]
    sessions: list[ObservedSession]


class StorePipeline:
    """Frames in; detections and tracks out. See the module docstring."""

    def __init__(
        self,
        tracker: StoreTracker | None = None,
        *,
        detector: FrameDetector | None = None,
        embedder: Embedder | None = None,
        hands: HandLinker | None = None,
        events: ShelfEventStage | None = None,
        shoppers: ShopperTracker | None = None,
        sessions: SessionTracker | None = None,
    ) -> None:
        self.tracker = tracker or StoreTracker()
        self.detector = detector
        self.embedder = embedder
        self.hands = hands if hands is not None else HandLinker()
        self.events = events
        self.shoppers = shoppers
        self.sessions = sessions
        self.steps = 0
        self._last_t = 0.0  # the latest capture time stepped

    @property
    def lookahead_s(self) -> float:
        """Seconds after an instant until every stage's output about it is final (the events
        stage decides a reach at most `wait_s` after its hand left)."""
        events = self.events.config.wait_s if self.events is not None else 0.0
        return TRACKER_LOOKAHEAD_S + events

    def step(self, frames: FrameBatch, detections: Detections | None = None) -> PipelineOutput:
        """Advance every camera in `frames` by one frame.

        Args:
            frames: the cameras captured at this instant (with images unless `detections` is
                given or no stage needs pixels).
            detections: this instant's detections when they were made elsewhere; every box must
                belong to a camera in `frames`. None runs the pipeline's detector on the images.
        """
        if detections is None:
            if self.detector is None:
                raise ValueError(
                    "StorePipeline.step: no detections given and the pipeline has no detector"
                )
            detections = self.detector(frames)
        try:
            rows = frames.rows_of(detections.camera_id)
        except ValueError as err:
            raise ValueError(f"StorePipeline.step: detections of {err}") from None
        detections = detections.with_fields(
            timestamp=np.where(
                np.isnan(detections.timestamp), frames.timestamp[rows], detections.timestamp
            ),
            data={**detections.data, "frame_index": frames.frame_index[rows]},
        )
        if self.embedder is not None:
            detections = self._embed(frames, detections)
        tracks = self.tracker.update(detections, now=frames.now)
        self._last_t = float(np.max(frames.timestamp))
        data = {**tracks.data, "frame_index": frames.frame_index[frames.rows_of(tracks.camera_id)]}
        hands: tuple[HandObservations, ...] = ()
        if "keypoints" in detections.data:
            data["keypoints"] = np.asarray(detections.data["keypoints"])[data["detection_index"]]
            hands = self._link_hands(frames, tracks, data)
        tracks = tracks.with_fields(data=data)
        shoppers = self.shoppers.update(self._last_t, tracks) if self.shoppers is not None else None
        sessions: tuple[ObservedSession, ...] = ()
        if self.sessions is not None and shoppers is not None:
            sessions = tuple(self.sessions.update(self._last_t, shoppers))
        events: tuple[ObservedShelfEvent, ...] = ()
        if self.events is not None:
            events = tuple(self.events.update(self._last_t, frames, detections, tracks, hands))
        self.steps += 1
        return PipelineOutput(detections, tracks, hands, events, shoppers, sessions)

    def finish(self) -> PipelineTail:
        """The end of a run: what every stage still holds back (the events of open reaches,
        the sessions of people still inside)."""
        if self.steps == 0:
            return PipelineTail([], [])
        events = self.events.finish(self._last_t) if self.events is not None else []
        sessions = self.sessions.finish() if self.sessions is not None else []
        return PipelineTail(events, sessions)

    def _link_hands(
        self, frames: FrameBatch, tracks: Detections, data: dict[str, np.ndarray]
    ) -> tuple[HandObservations, ...]:
        persons = tracks.class_id == PERSON
        out = []
        for i, camera in enumerate(frames.camera_id.tolist()):  # per camera, never per track
            mine = persons & (tracks.camera_id == camera)
            out.append(
                self.hands.update(
                    camera,
                    int(frames.frame_index[i]),
                    tracks.tracker_id[mine],
                    data["keypoints"][mine],
                )
            )
        return tuple(out)

    def run(
        self, inputs: Iterable[tuple[FrameBatch, Detections | None]]
    ) -> Iterator[PipelineOutput]:
        """`step` over a stream of (frames, detections or None), yielding each step's output."""
        for frames, detections in inputs:
            yield self.step(frames, detections)

    def _embed(self, frames: FrameBatch, detections: Detections) -> Detections:
        if frames.images is None:
            raise ValueError("StorePipeline: appearance needs images, the frame batch has none")
        assert self.embedder is not None
        persons = detections.class_id == PERSON
        rows, embedded = [], []
        for i, camera in enumerate(frames.camera_id.tolist()):  # per camera, never per box
            mine = np.flatnonzero(persons & (detections.camera_id == camera))
            rows.append(mine)
            embedded.append(np.asarray(self.embedder(frames.images[i], detections.xyxy[mine])))
        dims = {e.shape[1] for e in embedded if e.ndim == 2}
        if len(dims) != 1 or any(
            e.shape != (len(r), *dims) for e, r in zip(embedded, rows, strict=True)
        ):
            raise ValueError(
                f"StorePipeline: the embedder must return (N, D) arrays, got "
                f"{[e.shape for e in embedded]} for {[len(r) for r in rows]} boxes"
            )
        features = np.zeros((len(detections), dims.pop()), np.float32)
        features[np.concatenate(rows)] = np.concatenate(embedded)
        return detections.with_fields(embedding=features)

    # ----------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly, without embeddings or images."""
        return {
            "format": CHECKPOINT_FORMAT,
            "steps": self.steps,
            "tracker": self.tracker.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"not a storelens pipeline checkpoint (format {state.get('format')!r}, "
                f"expected {CHECKPOINT_FORMAT!r})"
            )
        self.tracker.load_state_dict(state["tracker"])
        self.steps = int(state["steps"])

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the state atomically to `path` (an .npz file)."""
        return save_checkpoint(path, self.state_dict())

    def load_checkpoint(self, path: str | Path) -> None:
        self.load_state_dict(load_checkpoint(path))
