"""`StoreTracker`: one tracker for every camera of a store, batched over cameras.

    tracker = StoreTracker(TrackerConfig(), id_counter=IdCounter())
    tracks = tracker.update(detections)          # every frame, empty frames too

Per call, all cameras' tracks are predicted, scored and updated as single array operations;
only the linear assignment runs per camera. Association (see `TrackerConfig` for each gate):

1. confirmed and lost tracks ↔ high-score detections: IoU (× score), motion gate, OC-SORT's
   direction consistency, optional appearance (ByteTrack first stage; BoT-SORT-style fusion);
2. still-unmatched confirmed tracks ↔ low-score detections by IoU (ByteTrack second stage);
3. still-unmatched tracks ↔ remaining high detections by IoU with the track's *last observed*
   box (OC-SORT observation-centric recovery);
4. tentative tracks ↔ the rest; then new tentative tracks from confident leftovers.

A re-found track's velocity is re-estimated from its last observation and the new one over the
real elapsed time (OC-SORT's observation-centric re-update, in closed form). Time comes from
the detections' timestamps (or `now`), so frame drops and uneven frame rates are handled by the
time-aware Kalman filter. Ids come from an injected counter: they never collide across cameras,
and several trackers can share one counter.

Checkpoints: `state_dict()` is everything a fresh `StoreTracker(same config)` needs to carry on
exactly where this one stopped (`load_state_dict`); `tracking.checkpoint` writes it to a file.
It holds no appearance embeddings and no image data (nothing biometric is persisted): resumed
tracks start without an embedding, are matched by motion alone until a detection gives them one
again, and appearance is rebuilt from the next frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from storelens.boxes import xywh_to_xyxy, xyxy_to_xywh
from storelens.detections import Detections
from storelens.revision import config_hash
from storelens.tracking.association import INFEASIBLE, Blocks, assign, blocks, gather
from storelens.tracking.backend import ArrayBackend, get_backend
from storelens.tracking.config import TrackerConfig
from storelens.tracking.kalman import CHI2_99_4DOF

TENTATIVE, TRACKED, LOST = 0, 1, 2
STATE_FORMAT = "storelens.StoreTracker"
STATE_VERSION = 1


class IdCounter:
    """Hands out unique track ids, `n` at a time; share one between trackers to keep ids unique."""

    def __init__(self, start: int = 1) -> None:
        self.next_id = start

    def __call__(self, n: int) -> np.ndarray:
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        return ids

    def state_dict(self) -> dict[str, int]:
        """`{"next_id": int}`: the next id this counter hands out."""
        return {"next_id": int(self.next_id)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a `state_dict()`: the next id handed out is `state["next_id"]`."""
        next_id = state.get("next_id") if isinstance(state, Mapping) else None
        if isinstance(next_id, (bool, np.bool_)) or not isinstance(next_id, (int, np.integer)):
            raise ValueError(f"IdCounter state: expected {{'next_id': int}}, got {state!r}")
        self.next_id = int(next_id)


@dataclass
class TrackTable:
    """All tracks of all cameras as aligned arrays (T rows)."""

    mean: np.ndarray  # (T,8) Kalman state, see kalman.py
    cov: np.ndarray  # (T,8,8)
    track_id: np.ndarray  # (T,) -1 while tentative
    cam: np.ndarray  # (T,) camera index
    cls: np.ndarray  # (T,)
    score: np.ndarray  # (T,) last detection score
    state: np.ndarray  # (T,) TENTATIVE | TRACKED | LOST
    hits: np.ndarray  # (T,)
    t_pred: np.ndarray  # (T,) time the mean refers to
    t_obs: np.ndarray  # (T,) time of the last matched detection
    last_obs: np.ndarray  # (T,4) xyxy of the last matched detection
    prev_obs: np.ndarray  # (T,4) an earlier observation, for the direction of motion
    t_prev_obs: np.ndarray  # (T,)
    embedding: np.ndarray  # (T,D), D = 0 without appearance

    @classmethod
    def empty(cls, dim: int = 0) -> TrackTable:
        z = np.zeros(0)
        return cls(
            np.zeros((0, 8)),
            np.zeros((0, 8, 8)),
            z.astype(np.int64),
            z.astype(int),
            z.astype(np.int64),
            z,
            z.astype(np.int8),
            z.astype(int),
            z,
            z,
            np.zeros((0, 4)),
            np.zeros((0, 4)),
            z,
            np.zeros((0, dim), np.float32),
        )

    def __len__(self) -> int:
        return len(self.track_id)

    def select(self, rows: np.ndarray) -> TrackTable:
        return TrackTable(*(getattr(self, f.name)[rows] for f in fields(self)))

    def append(self, other: TrackTable) -> TrackTable:
        if len(self) == 0:
            return other
        dim = max(self.embedding.shape[1], other.embedding.shape[1])
        return TrackTable(
            *(
                np.concatenate([getattr(t.with_embedding_dim(dim), f.name) for t in (self, other)])
                for f in fields(self)
            )
        )

    def with_embedding_dim(self, dim: int) -> TrackTable:
        """This table with `dim`-wide embeddings: a table without any gets zero vectors, which
        appearance matching ignores until a detection sets them (see `StoreTracker._correct`)."""
        have = self.embedding.shape[1]
        if have == dim:
            return self
        if have:
            raise ValueError(
                f"detection embeddings changed dimension mid-stream: tracks have {have}, "
                f"detections {dim}"
            )
        out = TrackTable(*(getattr(self, f.name) for f in fields(self)))
        out.embedding = np.zeros((len(self), dim), np.float32)
        return out


def _centres(xyxy: np.ndarray) -> np.ndarray:
    return np.stack([(xyxy[..., 0] + xyxy[..., 2]) / 2, (xyxy[..., 1] + xyxy[..., 3]) / 2], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


# The track table's columns in a checkpoint and their dtypes; `embedding` is never saved.
_STATE_COLUMNS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "mean": (np.dtype(np.float64), (8,)),
    "cov": (np.dtype(np.float64), (8, 8)),
    "track_id": (np.dtype(np.int64), ()),
    "cam": (np.dtype(int), ()),
    "cls": (np.dtype(np.int64), ()),
    "score": (np.dtype(np.float64), ()),
    "state": (np.dtype(np.int8), ()),
    "hits": (np.dtype(int), ()),
    "t_pred": (np.dtype(np.float64), ()),
    "t_obs": (np.dtype(np.float64), ()),
    "last_obs": (np.dtype(np.float64), (4,)),
    "prev_obs": (np.dtype(np.float64), (4,)),
    "t_prev_obs": (np.dtype(np.float64), ()),
}


def _config_dump(config: TrackerConfig) -> dict[str, Any]:
    # the backend changes where the maths runs, not the tracks: a checkpoint resumes on any
    return config.model_dump(mode="json", exclude={"backend"})


class StoreTracker:
    """Multi-camera, multi-object tracker. See the module docstring."""

    def __init__(
        self,
        config: TrackerConfig | None = None,
        *,
        id_counter: Callable[[int], np.ndarray] | None = None,
        backend: str | ArrayBackend | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        c = self.config
        self.backend = get_backend(c.backend if backend is None else backend)
        self.kalman = self.backend.kalman(c.position_noise, c.velocity_noise, c.measurement_noise)
        self.next_ids = id_counter or IdCounter()
        self.reset()

    def reset(self) -> None:
        self.tracks = TrackTable.empty()
        self.camera_names: list[str] = []
        self._camera_index: dict[str, int] = {}
        self._camera_time = np.zeros(0)
        self._camera_steps = np.zeros(0, int)

    # ----------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume this tracker exactly, as plain arrays, lists and numbers.

        A fresh `StoreTracker(same config)` given this state by `load_state_dict` returns, from
        the next `update` on, exactly what this tracker would have returned. Appearance
        embeddings are left out on purpose (nothing biometric is persisted): see the module
        docstring. The arrays are copies; `tracking.checkpoint.save_checkpoint` writes the dict.

        Layout:
            format, version: "storelens.StoreTracker", 1
            config: the `TrackerConfig` as JSON-able values; config_sha256: its hash
            tracks: {mean, cov, track_id, cam, cls, score, state, hits, t_pred, t_obs,
                     last_obs, prev_obs, t_prev_obs}, one row per track (cam indexes cameras.names)
            cameras: {names: list of camera ids in index order, time: (C,) float64,
                      steps: (C,) int}
            id_counter: the counter's own state_dict() ({"next_id": int} for an `IdCounter`)

        Raises:
            TypeError: the injected id counter has no `state_dict` / `load_state_dict` (a
                plain function): its position cannot be saved, so a resumed tracker could hand
                out ids again. Use an `IdCounter`, or give the counter both methods.
        """
        counter_state = getattr(self.next_ids, "state_dict", None)
        if not callable(counter_state) or not callable(
            getattr(self.next_ids, "load_state_dict", None)
        ):
            raise TypeError(
                f"StoreTracker.state_dict: the id counter {self.next_ids!r} has no "
                "state_dict()/load_state_dict(), so where it stands cannot be saved and a resumed "
                "tracker could hand out the same ids again; use an IdCounter or add both methods"
            )
        dump = _config_dump(self.config)
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "config": dump,
            "config_sha256": config_hash(dump),
            "tracks": {name: getattr(self.tracks, name).copy() for name in _STATE_COLUMNS},
            "cameras": {
                "names": list(self.camera_names),
                "time": self._camera_time.copy(),
                "steps": self._camera_steps.copy(),
            },
            "id_counter": counter_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace this tracker's state with a `state_dict()` (from this or another process).

        The tracker must have the same config as the one saved; its id counter is set to the
        saved position (a counter shared between trackers: save and restore them together).
        Resumed tracks have no appearance embedding until a detection gives them one.

        Raises:
            ValueError: not a tracker state, another config, or inconsistent arrays; the
                tracker is left unchanged.
            TypeError: the id counter cannot be restored (see `state_dict`).
        """
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise ValueError(
                "StoreTracker.load_state_dict: not a tracker state (expected a dict from "
                f"StoreTracker.state_dict() with format {STATE_FORMAT!r})"
            )
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"StoreTracker.load_state_dict: state version {state.get('version')!r}, this "
                f"tracker reads version {STATE_VERSION}"
            )
        self._check_config(state.get("config"), state.get("config_sha256"))
        loader = getattr(self.next_ids, "load_state_dict", None)
        if not callable(loader):
            raise TypeError(
                f"StoreTracker.load_state_dict: the id counter {self.next_ids!r} has no "
                "load_state_dict(), so it cannot continue from the saved ids; use an IdCounter"
            )
        try:
            tracks, names, cam_time, cam_steps = _parse_state(state)
            counter_state = state["id_counter"]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"StoreTracker.load_state_dict: invalid state: {err!r}") from err
        loader(counter_state)
        self.tracks = tracks
        self.camera_names = names
        self._camera_index = {name: i for i, name in enumerate(names)}
        self._camera_time = cam_time
        self._camera_steps = cam_steps

    def _check_config(self, saved: Any, saved_hash: Any) -> None:
        dump = _config_dump(self.config)
        if saved == dump and saved_hash == config_hash(dump):
            return
        if not isinstance(saved, Mapping):
            raise ValueError("StoreTracker.load_state_dict: the state has no tracker config")
        differ = sorted(
            k
            for k in set(dump) | set(saved)
            if k not in dump or k not in saved or dump[k] != saved[k]
        )
        detail = ", ".join(
            f"{k}: saved {saved.get(k, '(absent)')!r}, here {dump.get(k, '(absent)')!r}"
            for k in differ
        )
        raise ValueError(
            "StoreTracker.load_state_dict: the checkpoint was saved by a tracker with another "
            f"config ({detail or 'config hash differs'}); resume with the config it was saved with"
        )

    # ------------------------------------------------------------------ time
    def _camera(self, names: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(names, return_inverse=True)
        for name in uniq.tolist():
            if name not in self._camera_index:
                self._camera_index[name] = len(self.camera_names)
                self.camera_names.append(name)
                self._camera_time = np.append(self._camera_time, np.nan)
                self._camera_steps = np.append(self._camera_steps, 0)
        return np.array([self._camera_index[n] for n in uniq.tolist()], int)[inverse]

    def _step_times(
        self, det_cam: np.ndarray, det_time: np.ndarray, now: float | Mapping[str, float] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cameras advanced by this call and every camera's time after it.

        A camera's time is, in order: `now[camera]`, a scalar `now`, the latest timestamp of its
        detections, or its previous time plus `default_frame_interval_s`.
        """
        explicit = (
            self._camera(np.array(list(now), dtype=str))
            if isinstance(now, Mapping) and now
            else None
        )
        n_cams = len(self.camera_names)
        step = np.zeros(n_cams, bool)
        step[det_cam] = True
        times = np.full(n_cams, np.nan)
        if len(det_cam):
            np.fmax.at(times, det_cam, det_time)
        if explicit is not None:
            step[explicit] = True
            times[explicit] = np.array(list(now.values()), float)  # type: ignore[union-attr]
        elif isinstance(now, (int, float)):
            step[:] = True
            times[:] = float(now)
        elif now is None and len(det_cam) == 0:
            step[:] = True  # an empty frame without a time: every camera moves on one step
        previous = self._camera_time
        fallback = np.where(
            np.isnan(previous), 0.0, previous + self.config.default_frame_interval_s
        )
        return np.flatnonzero(step), np.where(np.isnan(times), fallback, times)

    # ---------------------------------------------------------------- update
    def update(
        self, detections: Detections, now: float | Mapping[str, float] | None = None
    ) -> Detections:
        """Advance the cameras in `detections` (or named by `now`) by one step.

        Args:
            detections: boxes of any number of cameras at one instant (not modified).
            now: the instant, when the detections' timestamps do not say it (a float for all
                cameras, or camera id → time); needed to age cameras that saw nothing.

        Returns:
            The confirmed tracks updated at this step, as `Detections` with `tracker_id` set,
            boxes per `config.output_box` (the detection's or the Kalman posterior), and
            `data["detection_index"]` into the input.
        """
        cfg = self.config
        det_cam = self._camera(detections.camera_id)
        step_cams, cam_time = self._step_times(det_cam, detections.timestamp, now)
        tracks = self.tracks
        if detections.embedding is not None and len(tracks):
            # tracks resumed from a checkpoint (or born without embeddings) get zero vectors
            tracks = tracks.with_embedding_dim(detections.embedding.shape[1])
        in_step = np.isin(tracks.cam, step_cams)

        # 1. predict every track of the cameras that moved on, each by its own elapsed time
        rows = np.flatnonzero(in_step)
        if cfg.freeze_size_when_lost:  # ByteTrack's rule: an unseen box keeps moving, not growing
            tracks.mean[rows[tracks.state[rows] != TRACKED], 6:8] = 0.0
        dt = np.clip(cam_time[tracks.cam[rows]] - tracks.t_pred[rows], 0, None)
        tracks.mean[rows], tracks.cov[rows] = self.kalman.predict(
            tracks.mean[rows], tracks.cov[rows], dt
        )
        tracks.t_pred[rows] = cam_time[tracks.cam[rows]]

        # 2. forget tracks lost for longer than the buffer
        expired = (
            in_step
            & (tracks.state != TENTATIVE)
            & (cam_time[tracks.cam] - tracks.t_obs > cfg.lost_track_buffer_s)
        )
        tracks = tracks.select(~expired)
        in_step = in_step[~expired]

        # 3. associate in stages
        keep = detections.confidence >= cfg.low_score
        high = np.flatnonzero(keep & (detections.confidence >= cfg.high_score))
        low = np.flatnonzero(keep & (detections.confidence < cfg.high_score))
        z = xyxy_to_xywh(detections.xyxy.astype(np.float64))
        boxes = detections.xyxy.astype(np.float64)
        pred_boxes = xywh_to_xyxy(tracks.mean[:, :4]) if len(tracks) else np.zeros((0, 4))
        cams = np.unique(np.concatenate([step_cams, det_cam]))

        t_pool = np.flatnonzero(in_step & (tracks.state != TENTATIVE))
        m1_t, m1_d = self._match(
            tracks,
            t_pool,
            high,
            det_cam,
            detections,
            boxes,
            pred_boxes,
            cams,
            cfg.match_cost,
            first_stage=True,
            gated=cfg.motion_gate,
        )
        left_t = np.setdiff1d(t_pool, m1_t)
        left_high = np.setdiff1d(high, m1_d)
        tracked_left = left_t[tracks.state[left_t] == TRACKED]
        m2_t, m2_d = self._match(
            tracks,
            tracked_left,
            low,
            det_cam,
            detections,
            boxes,
            pred_boxes,
            cams,
            cfg.low_match_cost,
        )
        left_t = np.setdiff1d(left_t, m2_t)
        m3_t = m3_d = np.zeros(0, int)
        if cfg.observation_recovery:
            m3_t, m3_d = self._match(
                tracks,
                left_t,
                left_high,
                det_cam,
                detections,
                boxes,
                tracks.last_obs,
                cams,
                cfg.recovery_match_cost,
                gated=cfg.motion_gate,  # recovery must not let through what the gate refused
            )
            left_high = np.setdiff1d(left_high, m3_d)
        tentative = np.flatnonzero(in_step & (tracks.state == TENTATIVE))
        m4_t, m4_d = self._match(
            tracks,
            tentative,
            left_high,
            det_cam,
            detections,
            boxes,
            pred_boxes,
            cams,
            cfg.tentative_match_cost,
        )
        left_high = np.setdiff1d(left_high, m4_d)

        # 4. update matched tracks
        mt = np.concatenate([m1_t, m2_t, m3_t, m4_t])
        md = np.concatenate([m1_d, m2_d, m3_d, m4_d])
        self._correct(tracks, mt, md, detections, z, boxes, cam_time)
        matched = np.zeros(len(tracks), bool)
        matched[mt] = True
        tracks.hits[mt] += 1
        promote = matched & (tracks.state == TENTATIVE) & (tracks.hits >= cfg.min_hits)
        tracks.state[matched & (tracks.state == LOST)] = TRACKED
        tracks.state[promote] = TRACKED
        tracks.track_id[promote] = self.next_ids(int(promote.sum()))
        tracks.state[in_step & ~matched & (tracks.state == TRACKED)] = LOST
        dead = in_step & ~matched & (tracks.state == TENTATIVE)
        tracks = tracks.select(~dead)
        det_of_track = np.full(len(matched), -1)
        det_of_track[mt] = md
        det_of_track = det_of_track[~dead]

        # 5. new tracks from confident leftovers
        new = left_high[detections.confidence[left_high] >= cfg.new_track_score]
        if len(new):
            born = self._new_tracks(new, det_cam, detections, z, boxes, cam_time)
            tracks = tracks.append(born)
            det_of_track = np.concatenate([det_of_track, new])
        self.tracks = tracks
        self._camera_time[step_cams] = cam_time[step_cams]
        self._camera_steps[step_cams] += 1

        out = (tracks.state == TRACKED) & (det_of_track >= 0)
        rows = np.flatnonzero(out)
        boxes_out = (
            tracks.last_obs[rows]
            if cfg.output_box == "detection"
            else xywh_to_xyxy(tracks.mean[rows, :4])
        )
        return Detections(
            xyxy=boxes_out,
            confidence=tracks.score[rows],
            class_id=tracks.cls[rows],
            tracker_id=tracks.track_id[rows],
            camera_id=np.array(self.camera_names, dtype=str)[tracks.cam[rows]]
            if len(rows)
            else None,
            timestamp=cam_time[tracks.cam[rows]],
            data={"detection_index": det_of_track[rows]},
        )

    # ------------------------------------------------------------- internals
    def _match(
        self,
        tracks: TrackTable,
        t_rows: np.ndarray,
        d_rows: np.ndarray,
        det_cam: np.ndarray,
        detections: Detections,
        boxes: np.ndarray,
        track_boxes: np.ndarray,
        cams: np.ndarray,
        limit: float,
        first_stage: bool = False,
        gated: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        if len(t_rows) == 0 or len(d_rows) == 0:
            return np.zeros(0, int), np.zeros(0, int)
        tb: Blocks = blocks(t_rows, tracks.cam[t_rows], cams)
        db: Blocks = blocks(d_rows, det_cam[d_rows], cams)
        iou = self.backend.box_iou_blocks(gather(track_boxes, tb.index), gather(boxes, db.index))
        score = gather(detections.confidence.astype(np.float64), db.index)
        cost = 1.0 - (iou * score[:, None, :] if first_stage and self.config.fuse_score else iou)
        if gated:
            cost = self._motion_gate(cost, tracks, tb, gather(boxes, db.index))
        if first_stage:
            cost = self._first_stage_terms(cost, iou, tracks, tb, db, detections, boxes)
        same_class = (
            gather(tracks.cls, tb.index)[:, :, None]
            == gather(detections.class_id, db.index)[:, None, :]
        )
        cost = np.where(same_class & tb.valid[:, :, None] & db.valid[:, None, :], cost, INFEASIBLE)
        return assign(cost, tb, db, limit)

    def _motion_gate(
        self, cost: np.ndarray, tracks: TrackTable, tb: Blocks, d_boxes: np.ndarray
    ) -> np.ndarray:
        """Pairs whose detection lies outside the 99% chi² bound of the track's Kalman
        prediction become infeasible (the prediction's covariance grows while a track is lost,
        so a long-lost track is gated more loosely)."""
        t_idx = np.where(tb.valid, tb.index, 0)
        z = xyxy_to_xywh(d_boxes.reshape(-1, 4)).reshape(d_boxes.shape)
        flat_t = t_idx.reshape(-1)
        d2 = self.kalman.mahalanobis(
            tracks.mean[flat_t], tracks.cov[flat_t], np.repeat(z, tb.index.shape[1], axis=0)
        )
        return np.where(d2.reshape(cost.shape) > CHI2_99_4DOF, INFEASIBLE, cost)

    def _first_stage_terms(
        self,
        cost: np.ndarray,
        iou: np.ndarray,
        tracks: TrackTable,
        tb: Blocks,
        db: Blocks,
        detections: Detections,
        boxes: np.ndarray,
    ) -> np.ndarray:
        cfg = self.config
        t_idx = np.where(tb.valid, tb.index, 0)
        d_boxes = gather(boxes, db.index)
        if cfg.direction_weight > 0:
            last = _centres(tracks.last_obs[t_idx])
            has_dir = (tracks.t_prev_obs[t_idx] < tracks.t_obs[t_idx])[:, :, None]
            track_dir = _unit(last - _centres(tracks.prev_obs[t_idx]))
            det_dir = _unit(_centres(d_boxes)[:, None, :, :] - last[:, :, None, :])
            cos = np.clip(np.einsum("ctk,ctnk->ctn", track_dir, det_dir), -1, 1)
            bonus = (np.pi / 2 - np.arccos(cos)) / np.pi
            score = gather(detections.confidence.astype(np.float64), db.index)[:, None, :]
            cost = cost - np.where(has_dir, cfg.direction_weight * bonus * score, 0.0)
        if (
            cfg.appearance_weight > 0
            and detections.embedding is not None
            and tracks.embedding.shape[1]
        ):
            t_emb = _unit(tracks.embedding[t_idx].astype(np.float64))
            d_emb = _unit(gather(detections.embedding.astype(np.float64), db.index))
            emb_cost = self.backend.cosine_distance_blocks(t_emb, d_emb)
            usable = (emb_cost <= cfg.appearance_gate) & (1.0 - iou <= cfg.appearance_proximity)
            # a zero embedding (a resumed track not seen since) says nothing about who it is
            known = (t_emb != 0).any(axis=-1)[:, :, None] & (d_emb != 0).any(axis=-1)[:, None, :]
            usable &= known
            w = cfg.appearance_weight
            cost = np.where(usable, (1 - w) * cost + w * emb_cost, cost)
        return cost

    def _correct(
        self,
        tracks: TrackTable,
        mt: np.ndarray,
        md: np.ndarray,
        detections: Detections,
        z: np.ndarray,
        boxes: np.ndarray,
        cam_time: np.ndarray,
    ) -> None:
        if len(mt) == 0:
            return
        now = cam_time[tracks.cam[mt]]
        gap = now - tracks.t_obs[mt]
        refound = (tracks.state[mt] == LOST) & (gap > 1e-9)
        mean, cov = self.kalman.update(tracks.mean[mt], tracks.cov[mt], z[md])
        if refound.any():
            # Observation-centric re-update (OC-SORT), in closed form: after a gap the filter's
            # velocity is stale, so take the centre's velocity from the two real observations.
            # Size rates stay at zero: over short gaps they are dominated by box jitter.
            r = np.flatnonzero(refound)
            last_centre = _centres(tracks.last_obs[mt[r]])
            mean[r, 4:6] = (z[md[r], :2] - last_centre) / gap[r, None]
            mean[r, 6:8] = 0.0
        tracks.mean[mt], tracks.cov[mt] = mean, cov
        move_prev = now - tracks.t_prev_obs[mt] > self.config.direction_baseline_s
        tracks.prev_obs[mt[move_prev]] = tracks.last_obs[mt[move_prev]]
        tracks.t_prev_obs[mt[move_prev]] = tracks.t_obs[mt[move_prev]]
        tracks.last_obs[mt] = boxes[md]
        tracks.t_obs[mt] = now
        tracks.score[mt] = detections.confidence[md]
        if detections.embedding is not None and tracks.embedding.shape[1]:
            m = self.config.embedding_momentum
            old = tracks.embedding[mt]
            new = _unit(detections.embedding[md])
            unset = ~(old != 0).any(axis=1, keepdims=True)  # resumed: take the first as it is
            tracks.embedding[mt] = np.where(unset, new, m * old + (1 - m) * new)

    def _new_tracks(
        self,
        rows: np.ndarray,
        det_cam: np.ndarray,
        detections: Detections,
        z: np.ndarray,
        boxes: np.ndarray,
        cam_time: np.ndarray,
    ) -> TrackTable:
        n = len(rows)
        mean, cov = self.kalman.initiate(z[rows])
        cams = det_cam[rows]
        first_step = self._camera_steps[cams] == 0
        confirmed = first_step | (self.config.min_hits <= 1)
        ids = np.full(n, -1, np.int64)
        ids[confirmed] = self.next_ids(int(confirmed.sum()))
        t = cam_time[cams]
        emb = (
            _unit(detections.embedding[rows]).astype(np.float32)
            if detections.embedding is not None
            else np.zeros((n, 0), np.float32)
        )
        return TrackTable(
            mean=mean,
            cov=cov,
            track_id=ids,
            cam=cams,
            cls=detections.class_id[rows].astype(np.int64),
            score=detections.confidence[rows].astype(np.float64),
            state=np.where(confirmed, TRACKED, TENTATIVE).astype(np.int8),
            hits=np.ones(n, int),
            # one array per time column: they are updated in place one at a time (sharing one,
            # predicting a newborn track moved its observation times along with it)
            t_pred=t.copy(),
            t_obs=t.copy(),
            last_obs=boxes[rows],
            prev_obs=boxes[rows],
            t_prev_obs=t,
            embedding=emb,
        )


def _parse_state(state: Mapping[str, Any]) -> tuple[TrackTable, list[str], np.ndarray, np.ndarray]:
    """The parts of a `state_dict()`, checked and copied into the tracker's own dtypes."""
    cols = state["tracks"]
    if not isinstance(cols, Mapping) or set(cols) != set(_STATE_COLUMNS):
        got = sorted(cols) if isinstance(cols, Mapping) else type(cols).__name__
        raise ValueError(f"tracks: expected columns {sorted(_STATE_COLUMNS)}, got {got}")
    arrays = {}
    n = len(np.asarray(cols["track_id"]))
    for name, (dtype, shape) in _STATE_COLUMNS.items():
        arr = np.asarray(cols[name])
        if arr.shape != (n, *shape):
            raise ValueError(f"tracks.{name}: expected shape {(n, *shape)}, got {arr.shape}")
        arrays[name] = arr.astype(dtype, casting="same_kind", copy=True)
    cameras = state["cameras"]
    names = cameras["names"]
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise ValueError("cameras.names: expected a list of camera ids")
    if len(set(names)) != len(names):
        raise ValueError(f"cameras.names: repeated camera ids in {names}")
    cam_time = np.asarray(cameras["time"]).astype(np.float64, casting="same_kind", copy=True)
    cam_steps = np.asarray(cameras["steps"]).astype(int, casting="same_kind", copy=True)
    if cam_time.shape != (len(names),) or cam_steps.shape != (len(names),):
        raise ValueError(
            f"cameras: {len(names)} names but time {cam_time.shape} and steps {cam_steps.shape}"
        )
    if n and not (0 <= arrays["cam"].min() and arrays["cam"].max() < len(names)):
        raise ValueError("tracks.cam: camera index out of range of cameras.names")
    tracks = TrackTable(**arrays, embedding=np.zeros((n, 0), np.float32))
    return tracks, list(names), cam_time, cam_steps
