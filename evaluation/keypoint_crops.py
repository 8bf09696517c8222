"""What a pose model does on simulated person crops, measured against the true keypoints: the
data `keypoint_noise_fit` fits the keypoint noise to and checks it on.

    crops = pose_on_crops(sim_dir, cache_dir)      # PoseCrops, cached as an .npz per run
    err = crops.error()                            # (N,17,2) prediction - truth, / box height

Frames: in every camera, runs of `RUN` consecutive frames every `PERIOD` frames (so frame-to-frame
persistence can be measured on a fifth of the frames). People: every true person box at least
`MIN_HEIGHT_PX` tall and `MIN_VISIBILITY` visible that has keypoint ground truth; the model sees
the box the way the pipeline will give it a detection (grown by `CROP_MARGIN`, cropped).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from storelens.boxes import tlwh_to_xyxy
from storelens.datasets.recording import StoreRecording
from storelens.datasets.sim.views import PERSON
from storelens.keypoints import FLIP_INDEX, N_KEYPOINTS

PERIOD, RUN = 25, 5
MIN_HEIGHT_PX = 24.0
MIN_VISIBILITY = 0.1
BODY_JOINTS = list(range(5, 17))  # the simulated body's labelled joints
SWAP_FACTOR = 0.5  # mirrored when the mirrored skeleton's error is below this share


@dataclass(frozen=True)
class PoseCrops:
    """One row per person crop."""

    camera: np.ndarray  # (N,) str
    frame: np.ndarray  # (N,) int
    track_id: np.ndarray  # (N,) int
    height: np.ndarray  # (N,) box height, px
    visibility: np.ndarray  # (N,) box visibility
    truth: np.ndarray  # (N,17,3) x, y, v
    predicted: np.ndarray  # (N,17,3) x, y, score (all 0 where the model found no one)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def found(self) -> np.ndarray:
        return self.predicted[:, :, 2].max(axis=1) > 0

    def mirrored(self) -> np.ndarray:
        """(N,) True where the model's skeleton fits the truth better left-right exchanged."""
        straight = self._body_error(self.predicted)
        flipped = self._body_error(self.predicted[:, FLIP_INDEX])
        return self.found & (flipped < SWAP_FACTOR * straight)

    def aligned(self) -> np.ndarray:
        """Predictions with mirrored skeletons put back (errors apart from the swap)."""
        out = self.predicted.copy()
        m = self.mirrored()
        out[m] = self.predicted[m][:, FLIP_INDEX]
        return out

    def error(self) -> np.ndarray:
        """(N,17,2) aligned prediction minus truth over box height (NaN where unlabelled or
        not found)."""
        err = (self.aligned()[..., :2] - self.truth[..., :2]) / self.height[:, None, None]
        ok = (self.truth[..., 2] > 0) & self.found[:, None]
        return np.where(ok[..., None], err, np.nan)

    def _body_error(self, pred: np.ndarray) -> np.ndarray:
        j = BODY_JOINTS
        lab = self.truth[:, j, 2] > 0
        d = np.linalg.norm(pred[:, j, :2] - self.truth[:, j, :2], axis=2)
        return np.where(lab, d, 0).sum(axis=1) / np.maximum(lab.sum(axis=1), 1)

    def select(self, mask: np.ndarray) -> PoseCrops:
        return PoseCrops(*(getattr(self, f.name)[mask] for f in fields(self)))

    @staticmethod
    def concatenate(parts: list[PoseCrops]) -> PoseCrops:
        return PoseCrops(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(PoseCrops))
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **{f.name: getattr(self, f.name) for f in fields(self)})
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> PoseCrops:
        with np.load(path) as z:
            return PoseCrops(*(z[f.name] for f in fields(PoseCrops)))


def sampled(frame: np.ndarray) -> np.ndarray:
    return (np.asarray(frame) - 1) % PERIOD < RUN


def pose_on_crops(
    sim_dir: str | Path,
    cache: str | Path | None = None,
    pose=None,  # type: ignore[no-untyped-def]
    cameras: list[str] | None = None,
    progress: bool = True,
) -> PoseCrops:
    """Run the pose model (`BlazePose` by default) on the sampled person crops of one
    simulated run; read from / written to `cache` (an .npz) when given."""
    if cache is not None and Path(cache).is_file():
        return PoseCrops.load(Path(cache))
    from storelens.inference.blazepose import BlazePose

    recording = StoreRecording(sim_dir)
    wanted = cameras or recording.camera_ids
    missing = [c for c in wanted if not recording.has_keypoints(c)]
    if missing:
        raise FileNotFoundError(f"{recording.path}: cameras {missing} have no gt/keypoints.txt")
    model = pose if pose is not None else BlazePose()
    parts: list[PoseCrops] = []
    frames = recording.frames(cameras=wanted)
    if progress:
        from rich.progress import track

        total = sum(len(recording.frame_times(c)[0]) for c in wanted)
        frames = track(frames, total=total, description=f"pose on {recording.path.name}")
    for rec in frames:
        if not sampled(rec.frame) or rec.keypoints is None:
            continue
        gt = rec.boxes
        keep = (
            (gt.class_id == PERSON)
            & (gt.tlwh[:, 3] >= MIN_HEIGHT_PX)
            & (gt.visibility >= MIN_VISIBILITY)
        )
        people = gt.select(keep)
        row = rec.keypoints.lookup(people.frame, people.track_id)
        people, row = people.select(row >= 0), row[row >= 0]
        if not len(people):
            continue
        predicted = model(rec.image, tlwh_to_xyxy(people.tlwh))
        parts.append(
            PoseCrops(
                np.full(len(people), rec.camera_id),
                people.frame.astype(int),
                people.track_id.astype(int),
                people.tlwh[:, 3].astype(float),
                people.visibility.astype(float),
                rec.keypoints.keypoints[row],
                predicted,
            )
        )
    crops = (
        PoseCrops.concatenate(parts)
        if parts
        else PoseCrops(
            np.zeros(0, str),
            np.zeros(0, int),
            np.zeros(0, int),
            np.zeros(0),
            np.zeros(0),
            np.zeros((0, N_KEYPOINTS, 3)),
            np.zeros((0, N_KEYPOINTS, 3)),
        )  # fmt: skip
    )
    if cache is not None:
        crops.save(Path(cache))
    return crops
