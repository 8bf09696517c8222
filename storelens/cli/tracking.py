"""`storelens run`, `eval`, `track ...`: the offline chain from the command line.

`run RUN_DIR --out OUT` drives the store pipeline over a simulated or recorded store and writes
each stage's output; `eval RUN_DIR OUT` scores every stage present (one table per stage, one
`metrics.json`). `track sim` is both in one go; `track mot` runs the pipeline over one
MOTChallenge sequence; `eval tracking` scores MOTChallenge results files with TrackEval. This
module only parses arguments and prints: the work is `storelens.evaluation`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from storelens.cli._errors import check_output_dir, check_output_file, user_errors

console = Console()
track_app = typer.Typer(help="Run the multi-camera tracker.", no_args_is_help=True)
RUN_EVAL = "run"


class _EvalGroup(TyperGroup):
    """`storelens eval RUN_DIR OUT_DIR` is `storelens eval run RUN_DIR OUT_DIR`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored Context
        positional = [a for a in args if not a.startswith("-")]
        if positional and positional[0] not in self.commands:
            args = [RUN_EVAL, *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_EvalGroup,
    help=(
        "Evaluate stages with the field's reference metrics. `storelens eval RUN_DIR OUT_DIR` "
        "scores every stage of a `storelens run` output; the subcommands score one kind of model."
    ),
    no_args_is_help=True,
)

SOURCE_HELP = "`model` (a trained detector on the video) or `ground-truth-noisy`"


def run(
    run_dir: Path = typer.Argument(
        ..., help="a simulated (`storelens simulate`) or recorded store"
    ),
    out: Path = typer.Option(..., help="output folder: tracks/, detections/, run.json"),
    detections: str = typer.Option("model", help=SOURCE_HELP),
    keypoints: str = typer.Option(
        "none",
        help="`none` or `ground-truth-noisy`: each person detection gets the true skeleton "
        "degraded like the shipped pose model's (keypoints/, hands/)",
    ),
    model: str = typer.Option(
        "shipped", help="`shipped` (models/detector), a weights file, or models:/NAME@alias"
    ),
    config: Path = typer.Option(
        None, help="tracker override YAML, e.g. configs/tracking/mot15.yaml"
    ),
    seed: int = typer.Option(0, help="seed of the synthetic detection and keypoint noise"),
    events: str = typer.Option(
        "pipeline",
        help="`pipeline` (the pipeline's own) or `ground-truth`: attribute the run's true "
        "events and sessions (works on a records-only run: no video needed)",
    ),
    attribution_config: Path = typer.Option(
        None, help="attribution thresholds YAML (AttributionConfig fields)"
    ),
) -> None:
    """Drive the store pipeline over RUN_DIR and write every stage's output to OUT."""
    from storelens.evaluation.attribution_runner import EVENT_SOURCES

    with user_errors():
        if events not in EVENT_SOURCES:
            raise ValueError(f"--events: {events!r} is not one of {EVENT_SOURCES}")
    rendered = _rendered(run_dir)
    if rendered or events == "pipeline":
        summary = _run(run_dir, out, detections, model, config, seed, keypoints)
        console.print(
            f"[green]{summary.steps} steps x {len(summary.cameras)} cameras[/] in "
            f"{summary.seconds:.0f} s ({summary.source}) → {out}"
        )
    if events == "ground-truth":
        _attribute(run_dir, out, attribution_config)
    else:
        console.print(
            "[yellow]attribution[/]: skipped (the pipeline's shelf events name camera tracks, "
            "not yet the shoppers of its sessions; `--events ground-truth` attributes the "
            "run's true events and sessions)"
        )


def _rendered(run_dir: Path) -> bool:
    import json

    manifest = run_dir / "manifest.json"
    if not manifest.is_file():
        return True  # a recorded store: cameras only
    try:
        return bool(json.loads(manifest.read_text()).get("rendered", True))
    except (json.JSONDecodeError, AttributeError):
        return True  # the run's reader names what is wrong with it, line and field


def _attribute(run_dir: Path, out: Path, config_path: Path | None) -> None:
    from storelens.attribution import AttributionConfig
    from storelens.config import load_config
    from storelens.evaluation.attribution_runner import attribute_run

    with user_errors():
        check_output_dir(out)
        config = load_config(config_path, AttributionConfig) if config_path else None
        done = attribute_run(run_dir, out, config)
    offsets = ", ".join(f"{t} {o:+.2f} s" for t, o in done.result.terminal_offsets_s.items())
    console.print(
        f"[green]attribution[/]: {done.baskets} baskets of {done.sessions} sessions, "
        f"{done.alerts} alerts; terminal clock offsets {offsets or 'none'} → {out}"
    )


def eval_run(
    run_dir: Path = typer.Argument(..., help="the store run that has the ground truth"),
    out_dir: Path = typer.Argument(..., help="a `storelens run` output folder"),
    mlflow: bool = typer.Option(False, "--mlflow", help="log the metrics to MLflow"),
) -> None:
    """Score every stage in OUT_DIR against RUN_DIR's ground truth; writes OUT_DIR/metrics.json."""
    _eval(run_dir, out_dir, mlflow, params={"run_dir": run_dir, "out_dir": out_dir})


eval_app.command(RUN_EVAL, help="Score every stage of a `storelens run` output (the default).")(
    eval_run
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
    from storelens.evaluation.mot_runner import load_tracker_config, track_to_file

    with user_errors():
        check_output_file(out)
        path = track_to_file(seq_dir, out, load_tracker_config(config), det)
    console.print(f"[green]results[/]: {path}")


@track_app.command("sim")
def track_sim(
    sim_dir: Path = typer.Argument(..., help="a `storelens simulate` output folder"),
    out: Path = typer.Option(..., help="output folder (as `storelens run` writes it)"),
    config: Path = typer.Option(None, help="tracker override YAML"),
    seed: int = typer.Option(0, help="seed of the synthetic detection noise"),
    detector: str = typer.Option(
        None, help="detect with this model (file or models:/NAME@alias) instead of noisy truth"
    ),
    mlflow: bool = typer.Option(False, "--mlflow", help="log the metrics to MLflow"),
) -> None:
    """`storelens run` + `storelens eval` in one go (noisy ground truth unless --detector)."""
    source = "model" if detector else "ground-truth-noisy"
    _run(sim_dir, out, source, detector or "shipped", config, seed)
    params = {"sim_dir": sim_dir, "config": config, "seed": seed, "detector": detector}
    _eval(sim_dir, out, mlflow, params)


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
    from storelens.evaluation.report import log_to_mlflow, metrics_table
    from storelens.evaluation.tracking_metrics import evaluate_mot

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
    console.print(metrics_table(metrics))
    if mlflow:
        params = {"benchmark": benchmark, "results": results}
        console.print(f"logged to MLflow run {log_to_mlflow(metrics, params, 'eval:tracking')}")


def _run(  # type: ignore[no-untyped-def]
    run_dir: Path,
    out: Path,
    detections: str,
    model: str,
    config: Path | None,
    seed: int,
    keypoints: str = "none",
):
    from storelens.evaluation.mot_runner import load_tracker_config
    from storelens.evaluation.store_runner import DETECTION_SOURCES, KEYPOINT_SOURCES, run_store

    with user_errors():
        check_output_dir(out)
        if detections not in DETECTION_SOURCES:
            raise ValueError(f"--detections: {detections!r} is not one of {DETECTION_SOURCES}")
        if keypoints not in KEYPOINT_SOURCES:
            raise ValueError(f"--keypoints: {keypoints!r} is not one of {KEYPOINT_SOURCES}")
        return run_store(
            run_dir,
            out,
            detections=detections,  # type: ignore[arg-type]
            keypoints=keypoints,  # type: ignore[arg-type]
            model=model,
            tracker_config=load_tracker_config(config),
            seed=seed,
        )


def _eval(run_dir: Path, out_dir: Path, mlflow: bool, params: dict[str, Any]) -> None:
    from storelens.evaluation.report import log_to_mlflow, print_run_metrics
    from storelens.evaluation.stage_eval import evaluate_run

    with user_errors():
        metrics = evaluate_run(run_dir, out_dir)
    print_run_metrics(console, metrics)
    console.print(f"metrics: {Path(out_dir) / 'metrics.json'}")
    if mlflow and metrics.tracking is not None:
        run_id = log_to_mlflow(metrics.tracking, params, f"eval:{Path(out_dir).name}")
        console.print(f"logged to MLflow run {run_id}")
