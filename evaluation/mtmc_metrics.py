"""Multi-camera tracking metrics: IDF1 and HOTA on global shopper ids, across every camera.

    m = evaluate_mtmc(recording, {"ceil-nw": "OUT/shoppers/ceil-nw.txt", ...})
    m.idf1, m.hota

As the AI City MTMC evaluation does, every camera's ground truth and results are laid end to
end as one long sequence (camera k's frames shifted past the frames of the cameras before it),
so one identity must keep one id in every camera: a shopper who gets another id in the next
camera is an identity switch, and two shoppers given one id across cameras are one too. The
ground truth's person ids are the simulator's global ids (`multicam_gt.txt`), the same in
every camera. TrackEval scores the sequence with the MOT17 rules the per-camera table uses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from storelens.datasets.formats.mot import (
    MotTable,
    SeqInfo,
    read_mot,
    read_seqinfo,
    write_mot,
    write_seqinfo,
)
from storelens.datasets.recording import StoreRecording
from storelens.evaluation.tracking_metrics import COMBINED, TrackingMetrics, evaluate_mot

SEQUENCE = "all-cameras"


def evaluate_mtmc(recording: StoreRecording, results: Mapping[str, str | Path]) -> TrackingMetrics:
    """Score global ids: `results` is camera → MOTChallenge results file whose ids are global
    (e.g. `storelens run`'s `shoppers/<cam>.txt`), for cameras of `recording` with ground
    truth."""
    cameras = [c for c in recording.camera_ids if c in results]
    if not cameras:
        raise ValueError(f"evaluate_mtmc: no results for any camera of {recording.path}")
    gts, outs, offset = [], [], 0
    info = None
    for camera in cameras:
        if not recording.has_ground_truth(camera):
            raise FileNotFoundError(f"{recording.camera_dir(camera)}: no gt/gt.txt")
        info = read_seqinfo(recording.camera_dir(camera) / "seqinfo.ini")
        gt = recording.ground_truth(camera)
        out = read_mot(results[camera], kind="results", seq_length=info.seq_length)
        gts.append(replace(gt, frame=gt.frame + offset))
        outs.append(replace(out, frame=out.frame + offset))
        offset += info.seq_length
    assert info is not None
    with tempfile.TemporaryDirectory(prefix="storelens-mtmc-") as tmp:
        folder = Path(tmp) / SEQUENCE
        write_mot(folder / "gt" / "gt.txt", MotTable.concatenate(gts), "gt")
        write_seqinfo(
            folder / "seqinfo.ini",
            SeqInfo(SEQUENCE, info.frame_rate, offset, info.width, info.height),
        )
        result = write_mot(Path(tmp) / "results.txt", MotTable.concatenate(outs), "results")
        return evaluate_mot({SEQUENCE: folder}, {SEQUENCE: result}, benchmark="MOT17")[COMBINED]
