"""Tracking metrics through TrackEval, the reference implementation of HOTA, CLEAR and Identity.

`evaluate_mot` lays out MOTChallenge sequences and tracker results the way TrackEval expects
(in a temporary folder, with links, nothing copied), runs its `MotChallenge2DBox` dataset —
including the MOTChallenge preprocessing rules: distractor classes and zero-marked boxes are
removed for MOT16/17/20, only zero-marked boxes for MOT15 — and returns plain numbers per
sequence and combined.

Every ground-truth and results file is read with the MOTChallenge reader first
(`storelens.datasets.formats.mot.read_mot`, against the sequence's seqLength), so a corrupt
file fails with `MotFormatError` naming its line, field and value instead of deep inside
TrackEval; whatever TrackEval still refuses is raised as a `ValueError` naming the files.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from storelens.datasets.formats.mot import read_mot, read_seqinfo

COMBINED = "COMBINED"
BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")


@dataclass(frozen=True)
class TrackingMetrics:
    """One sequence (or all combined). Ratios in [0, 1]; counts as integers."""

    hota: float
    deta: float
    assa: float
    mota: float
    motp: float
    idf1: float
    idp: float
    idr: float
    recall: float
    precision: float
    id_switches: int
    fragmentations: int
    false_positives: int
    false_negatives: int
    mostly_tracked: int
    partially_tracked: int
    mostly_lost: int
    gt_ids: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src.resolve())


def evaluate_mot(
    sequences: dict[str, str | Path],
    results: dict[str, str | Path],
    benchmark: str = "MOT17",
    class_name: str = "pedestrian",
) -> dict[str, TrackingMetrics]:
    """Score tracker results against MOTChallenge ground truth.

    Args:
        sequences: name → sequence folder holding `gt/gt.txt` and `seqinfo.ini`.
        results: name → results file (MOTChallenge text) for the same names.
        benchmark: which MOTChallenge rules apply ("MOT15" has no classes, no distractors).

    Returns:
        name → metrics, plus `COMBINED` over all sequences.
    """
    import trackeval

    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark: {benchmark!r} is not one of {BENCHMARKS}")
    missing = sorted(set(sequences) ^ set(results))
    if missing:
        raise ValueError(f"sequences and results name different sequences: {missing}")
    with tempfile.TemporaryDirectory(prefix="storelens-trackeval-") as tmp:
        root = Path(tmp)
        seq_info = {}
        for name, folder in sequences.items():
            folder = Path(folder)
            info = read_seqinfo(folder / "seqinfo.ini")
            seq_info[name] = info.seq_length
            gt = folder / "gt" / "gt.txt"
            if not gt.is_file():
                raise FileNotFoundError(f"{gt}: no ground truth for sequence {name!r}")
            result = Path(results[name])
            if not result.is_file():
                raise FileNotFoundError(f"{result}: no results file for sequence {name!r}")
            read_mot(gt, kind="gt", seq_length=info.seq_length)
            read_mot(result, kind="results", seq_length=info.seq_length)
            _link(gt, root / "gt" / name / "gt" / "gt.txt")
            _link(folder / "seqinfo.ini", root / "gt" / name / "seqinfo.ini")
            _link(result, root / "trackers" / "storelens" / "data" / f"{name}.txt")
        dataset_config = {
            **trackeval.datasets.MotChallenge2DBox.get_default_dataset_config(),
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "OUTPUT_FOLDER": str(root / "out"),
            "TRACKERS_TO_EVAL": ["storelens"],
            "CLASSES_TO_EVAL": [class_name],
            "BENCHMARK": benchmark,
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": seq_info,
            "GT_LOC_FORMAT": "{gt_folder}/{seq}/gt/gt.txt",
            "PRINT_CONFIG": False,
        }
        eval_config = {
            **trackeval.Evaluator.get_default_eval_config(),
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "TIME_PROGRESS": False,
            "DISPLAY_LESS_PROGRESS": True,
            "OUTPUT_EMPTY_CLASSES": False,
            "LOG_ON_ERROR": None,
            "BREAK_ON_ERROR": True,
            "RETURN_ON_ERROR": False,
        }
        evaluator = trackeval.Evaluator(eval_config)
        metrics = [
            trackeval.metrics.HOTA(),
            trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
            trackeval.metrics.Identity({"PRINT_CONFIG": False}),
        ]
        import contextlib
        import io

        chatter = io.StringIO()  # TrackEval prints progress, and tracebacks before it raises
        try:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
                output, _ = evaluator.evaluate(
                    [trackeval.datasets.MotChallenge2DBox(dataset_config)], metrics
                )
        except Exception as err:  # TrackEvalException, or a crash on what it could not read
            raise _trackeval_error(err, sequences, results) from err
    per_seq = output["MotChallenge2DBox"]["storelens"]
    return {
        (COMBINED if seq == "COMBINED_SEQ" else seq): _metrics(res[class_name])
        for seq, res in per_seq.items()
    }


def _trackeval_error(
    err: Exception, sequences: dict[str, str | Path], results: dict[str, str | Path]
) -> ValueError:
    """A ValueError naming the files TrackEval failed on: the sequence its message names, else
    every results file."""
    text = str(err).strip() or type(err).__name__
    named = [n for n in sequences if re.search(rf"\b{re.escape(n)}\b", text)] or list(sequences)
    files = ", ".join(
        f"{results[n]} (ground truth {Path(sequences[n]) / 'gt' / 'gt.txt'})" for n in named
    )
    return ValueError(f"TrackEval cannot score {files}: {text}")


def _metrics(res: dict) -> TrackingMetrics:
    hota, clear, ident = res["HOTA"], res["CLEAR"], res["Identity"]
    return TrackingMetrics(
        hota=float(np.mean(hota["HOTA"])),
        deta=float(np.mean(hota["DetA"])),
        assa=float(np.mean(hota["AssA"])),
        mota=float(clear["MOTA"]),
        motp=float(clear["MOTP"]),
        idf1=float(ident["IDF1"]),
        idp=float(ident["IDP"]),
        idr=float(ident["IDR"]),
        recall=float(clear["CLR_Re"]),
        precision=float(clear["CLR_Pr"]),
        id_switches=int(clear["IDSW"]),
        fragmentations=int(clear["Frag"]),
        false_positives=int(clear["CLR_FP"]),
        false_negatives=int(clear["CLR_FN"]),
        mostly_tracked=int(clear["MT"]),
        partially_tracked=int(clear["PT"]),
        mostly_lost=int(clear["ML"]),
        gt_ids=int(clear.get("GT_IDs", clear["MT"] + clear["PT"] + clear["ML"])),
    )
