"""The tracker's thresholds, each a named field whose description states its trade-off."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Unit = Annotated[float, Field(ge=0, le=1)]


class TrackerConfig(BaseModel):
    """Settings of `StoreTracker`; defaults start from ByteTrack / OC-SORT on MOT17 and are set
    on the simulated store at 10 fps (crowded scenario, seeds 7, 11 and 12; the benchmark scores
    other seeds). `configs/tracking/mot15.yaml` keeps its own values for 25 fps ACF boxes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_score: Unit = Field(
        0.5,
        description=(
            "detections at or above this score take part in the first association; higher is "
            "stricter and leaves more boxes to the low-score stage"
        ),
    )
    low_score: Unit = Field(
        0.1,
        description=(
            "detections between low_score and high_score only extend existing tracks (ByteTrack's "
            "second stage): lower recovers occluded people but lets clutter extend tracks"
        ),
    )
    new_track_score: Unit = Field(
        0.6,
        description=(
            "an unmatched detection starts a track only at or above this score; lower finds people "
            "sooner but starts tracks on false positives"
        ),
    )
    match_cost: Unit = Field(
        0.8,
        description=(
            "first-stage gate on 1 - IoU (after score fusion): higher accepts looser overlaps, "
            "helping at low frame rates, at the risk of swaps in crowds"
        ),
    )
    low_match_cost: Unit = Field(0.5, description="second-stage (low-score) gate on 1 - IoU")
    tentative_match_cost: Unit = Field(0.9, description="gate for confirming a tentative track")
    fuse_score: bool = Field(
        True,
        description=(
            "multiply IoU by the detection score in the first stage: prefers confident boxes; turn "
            "off for detectors with poorly calibrated scores"
        ),
    )
    lost_track_buffer_s: Annotated[float, Field(ge=0)] = Field(
        1.2,
        description=(
            "seconds a track survives without a detection: longer holds identities through "
            "occlusion but keeps ghosts alive and invites wrong re-matches"
        ),
    )
    min_hits: Annotated[int, Field(ge=1)] = Field(
        2,
        description=(
            "detections needed before a track is reported (a new track on a camera's first frame "
            "is reported at once): more suppresses flicker, delays new people"
        ),
    )
    motion_gate: bool = Field(
        False,
        description=(
            "refuse matches whose Mahalanobis distance to the Kalman prediction exceeds the 99% "
            "chi² bound (4 dof), in the first stage and in observation recovery: prevents jumps, "
            "may drop very erratic boxes; off by default (it cost identities on the simulated "
            "store, measured when recovery still let gated jumps through)"
        ),
    )
    observation_recovery: bool = Field(
        True,
        description=(
            "OC-SORT's recovery: match still-unmatched tracks by their last observed box, which "
            "re-finds people who stopped during an occlusion"
        ),
    )
    direction_weight: Annotated[float, Field(ge=0)] = Field(
        0.0,
        description=(
            "OC-SORT's velocity-direction consistency bonus in the first stage: higher favours "
            "detections in the direction the track was moving. OC-SORT uses 0.2 at 30 fps; at "
            "10 fps in a store people turn between frames and it costs identities (see README)"
        ),
    )
    direction_baseline_s: Annotated[float, Field(ge=0)] = Field(
        0.25,
        description=(
            "seconds between the two observations whose difference is a track's direction of "
            "motion (for `direction_weight`): OC-SORT compares directions over a few frames; "
            "shorter reacts to turns sooner but takes the direction from box jitter, longer is "
            "steadier but lags behind turns"
        ),
    )
    recovery_match_cost: Unit = Field(
        0.7,
        description=(
            "gate on 1 - IoU with a track's last observed box in the recovery stage "
            "(`observation_recovery`; 0.7 is OC-SORT's IoU threshold 0.3): higher re-finds people "
            "who moved further while unseen, at the risk of giving a lost id to someone else"
        ),
    )
    appearance_weight: Unit = Field(
        0.0,
        description=(
            "0 ignores embeddings; >0 lets appearance (cosine distance) replace IoU for people "
            "within `appearance_proximity`: more robust to crossings, needs a re-id embedder"
        ),
    )
    appearance_gate: Unit = Field(
        0.25, description="cosine distance above which appearance is ignored"
    )
    appearance_proximity: Unit = Field(0.5, description="1 - IoU above which appearance is ignored")
    embedding_momentum: Unit = Field(0.9, description="EMA weight of a track's old embedding")
    position_noise: Annotated[float, Field(gt=0)] = Field(
        0.05,
        description=(
            "Kalman process noise on position, in box heights per √s: higher follows sudden moves, "
            "lower smooths jitter"
        ),
    )
    velocity_noise: Annotated[float, Field(gt=0)] = Field(
        0.4,
        description=(
            "Kalman process noise on velocity, in box heights per s per √s: low trusts a steady "
            "walk (coasts through occlusion), high follows turns and stops sooner"
        ),
    )
    measurement_noise: Annotated[float, Field(gt=0)] = Field(
        0.07,
        description=(
            "detector box noise as a fraction of box height: higher smooths jittery boxes more "
            "(with `output_box: filtered`), lower follows each box"
        ),
    )
    freeze_size_when_lost: bool = Field(
        True,
        description=(
            "stop the size rates of a track nobody sees (ByteTrack): an occluded person's box "
            "keeps moving but does not grow or shrink"
        ),
    )
    output_box: Literal["detection", "filtered"] = Field(
        "filtered",
        description=(
            "report the matched detection's box (sharpest with a good detector) or the Kalman "
            "posterior (smoother with a jittery one)"
        ),
    )
    backend: Literal["numpy", "cuda", "cuda-shim", "auto"] = Field(
        "numpy",
        description=(
            "where the array maths runs (tracking/backend.py): numpy on the CPU; cuda on a GPU "
            "(pycuda or cupy, fails without one); auto = cuda when a GPU is found, else numpy; "
            "cuda-shim runs the CUDA kernels on the CPU (for checking, slow). Same tracks on "
            "every backend; not part of a checkpoint, which resumes on any backend"
        ),
    )
    default_frame_interval_s: Annotated[float, Field(gt=0)] = Field(
        0.1,
        description=(
            "time step assumed when a call carries no timestamp at all (e.g. MOT files by frame)"
        ),
    )
