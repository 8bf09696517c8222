"""`storelens track ...` and `storelens eval tracking`: run the tracker, score it with TrackEval."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from storelens.cli._errors import user_errors

console = Console()
track_app = typer.Typer(help="Run the multi-camera tracker.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Evaluate stages with the field's reference metrics.", no_args_is_help=True
)


@track_app.command("mot")
def track_mot(
    seq_dir: Path = typer.Argument(..., help="MOTChallenge sequence: seqinfo.ini + det/det.txt"),
    out: Path = typer.Option(..., help="results file (MOTChallenge format)"),
    config: Path = typer.Option(
        None, help="tracker override YAML, e.g. configs/tracking/mot15.yaml"
    ),
    det: Path = typer.Option(None, help="detections file (default: SEQ_DIR/det/det.txt)"),
) -> None:
    """Track one MOTChallenge sequence from its detections."""
    from storelens.tracking.mot_runner import load_tracker_config, track_to_file

    with user_errors():
        path = track_to_file(seq_dir, out, load_tracker_config(config), det)
    console.print(f"[green]results[/]: {path}")


@track_app.command("sim")
def track_sim(
    sim_dir: Path = typer.Argument(..., help="a `storelens simulate` output folder"),
    out: Path = typer.Option(..., help="folder for det/<camera>.txt and results/<camera>.txt"),
    config: Path = typer.Option(None, help="tracker override YAML"),
    seed: int = typer.Option(0, help="seed of the synthetic detection noise"),
    detector: str = typer.Option(
        None, help="detect with this model (file or models:/NAME@alias) instead of noisy truth"
    ),
    mlflow: bool = typer.Option(False, "--mlflow", help="log the metrics to MLflow"),
) -> None:
    """Track every camera of a simulated store at once (one tracker) and score persons."""
    metrics = run_sim_tracking(sim_dir, out, config, seed, detector)
    params = {"sim_dir": sim_dir, "config": config, "seed": seed, "detector": detector}
    _report(metrics, params, f"sim:{sim_dir.name}", mlflow)


def run_sim_tracking(  # type: ignore[no-untyped-def]
    sim_dir: Path, out: Path, config: Path | None, seed: int, detector: str | Path | None = None
):
    """Detections (a trained detector's, or noisy ground truth) → tracker → TrackEval, per
    camera and combined; the metrics are also written to `out/metrics.json`."""
    import json

    from storelens.datasets.formats.mot import write_mot
    from storelens.datasets.recording import SimRecording
    from storelens.tracking.mot_runner import load_sequence, load_tracker_config, track_sequences
    from storelens.tracking.synthetic_detections import noisy_detections
    from storelens.tracking.trackeval_metrics import evaluate_mot

    with user_errors():
        recording = SimRecording(sim_dir)
        cfg = load_tracker_config(config)
        sequences, seq_dirs, results = [], {}, {}
        model = None
        if detector:
            from storelens.training.registry import load_detector

            model = load_detector(detector)
        for i, cid in enumerate(recording.camera_ids):
            width, height = recording.image_size(cid)
            if model is not None:
                from storelens.training.inference import detect_video

                dets = detect_video(model, recording.camera_dir(cid) / "video.mp4")
            else:
                dets = noisy_detections(
                    recording.ground_truth(cid), width, height, seed=seed * 1000 + i
                )
            det_path = write_mot(out / "det" / f"{cid}.txt", dets, kind="det")
            sequences.append(load_sequence(recording.camera_dir(cid), det_path))
            seq_dirs[cid] = recording.camera_dir(cid)
        for cid, table in track_sequences(sequences, cfg).items():
            results[cid] = write_mot(out / "results" / f"{cid}.txt", table, kind="results")
        metrics = evaluate_mot(seq_dirs, results, benchmark="MOT17")
    (out / "metrics.json").write_text(
        json.dumps({name: m.as_dict() for name, m in metrics.items()}, indent=2)
    )
    return metrics


@eval_app.command("tracking")
def eval_tracking(
    sequences: list[Path] = typer.Argument(
        ..., help="sequence folders with gt/gt.txt and seqinfo.ini"
    ),
    results: Path = typer.Option(
        ..., help="folder of <sequence>.txt results, or one file for one sequence"
    ),
    benchmark: str = typer.Option("MOT17", help="MOTChallenge rules: MOT15, MOT16, MOT17 or MOT20"),
    mlflow: bool = typer.Option(False, "--mlflow", help="log the metrics to MLflow"),
) -> None:
    """HOTA / DetA / AssA / MOTA / IDF1 / IDSW with TrackEval, per sequence and combined."""
    from storelens.tracking.trackeval_metrics import evaluate_mot

    with user_errors():
        if results.is_file():
            if len(sequences) != 1:
                raise ValueError(
                    f"--results {results} is one file but {len(sequences)} sequences were given"
                )
            files = {sequences[0].name: results}
        else:
            files = {s.name: results / f"{s.name}.txt" for s in sequences}
        metrics = evaluate_mot({s.name: s for s in sequences}, files, benchmark=benchmark)
    _report(metrics, {"benchmark": benchmark, "results": results}, f"eval:{results.name}", mlflow)


def _report(metrics, params, run_name, mlflow: bool) -> None:  # type: ignore[no-untyped-def]
    from storelens.tracking.report import log_to_mlflow, metrics_table

    console.print(metrics_table(metrics))
    if mlflow:
        run_id = log_to_mlflow(metrics, params, run_name)
        console.print(f"logged to MLflow run {run_id}")
