"""`storelens demo`: the furthest real path that exists, on the embedded defaults.

Today: validate the demo store and draw its floor plan, simulate it (the `easy` scenario,
cached after the first run) with a preview of the ground truth, then what `storelens run` and
`storelens eval` do: the store pipeline detects people in every camera with the detector
shipped in `models/` (trained by `storelens train detector` on a different simulated scenario;
see its model card), tracks every camera at once, and TrackEval scores the tracks.
`--detector synthetic` starts from noisy ground truth instead. Later stages (events,
attribution, serving) extend this command as they land.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import user_errors

console = Console()
DEMO_SCENARIO = "easy"
DEMO_SEED = 0


def demo(
    store: Path | None = typer.Option(
        None, help="store layout YAML (default: the built-in demo store)"
    ),
    out: Path | None = typer.Option(None, help="output folder (default: runs/demo)"),
    duration: float = typer.Option(60.0, help="simulated seconds"),
    detector: str = typer.Option(
        "shipped",
        help="`shipped` (models/detector), a weights file, models:/NAME@alias, or `synthetic`",
    ),
) -> None:
    """Run the main job end to end on the demo store and say where the results are."""
    from storelens.cli.store import summary_table
    from storelens.configs import builtin_store
    from storelens.datasets.formats.mot import read_mot
    from storelens.datasets.sim.preview import contact_sheet
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim.writer import read_jsonl
    from storelens.datasets.sim_cache import cached_simulation
    from storelens.evaluation.draw_tracks import tracks_sheet
    from storelens.evaluation.report import print_run_metrics
    from storelens.evaluation.stage_eval import evaluate_run
    from storelens.evaluation.store_runner import run_store
    from storelens.floorplan import draw_floor_plan
    from storelens.layout import StoreLayout
    from storelens.settings import runs_dir

    out_dir = out or runs_dir() / "demo"
    with user_errors():
        store_path = store or builtin_store("demo_store")
        layout = StoreLayout.from_yaml(store_path)
        scenario = load_scenario(DEMO_SCENARIO).with_overrides(duration_s=duration)
        model = _detector_uri(detector)
    console.rule(f"[bold]storelens demo — {layout.store_id}")
    console.print(summary_table(layout))
    png = draw_floor_plan(layout, out_dir / "floor_plan.png")
    console.print(f"1. store layout [green]valid[/]: {store_path}\n2. floor plan: {png}")

    sim_dir = out_dir / "sim"
    sim = cached_simulation(store_path, scenario, DEMO_SEED, sim_dir)
    if sim.cached:
        console.print(f"3. simulation: cached in {sim_dir} (delete it to simulate again)")
    else:
        console.print(
            f"3. simulated {sim.frames} frames x {len(sim.camera_ids)} cameras in "
            f"{sim.seconds:.0f} s (products: {sim.texture_source})"
        )
    preview = sim_dir / "preview.png"
    if not preview.is_file():
        contact_sheet(sim_dir)
    console.print(f"4. preview with ground truth: {preview}")

    table = Table(title="ground truth of the simulated store")
    table.add_column("record")
    table.add_column("count", justify="right")
    for name in ("sessions", "events", "pos", "rfid", "staff_events"):
        table.add_row(name, str(len(read_jsonl(sim_dir / f"{name}.jsonl"))))
    console.print(table)

    track_dir = out_dir / "track"
    source = "noisy ground truth" if model is None else f"detector {model}"
    console.print(f"5. the store pipeline over every camera ({source}):")
    with user_errors():
        run_store(
            sim_dir,
            track_dir,
            detections="ground-truth-noisy" if model is None else "model",
            model=model or "shipped",
            seed=DEMO_SEED,
        )
        metrics = evaluate_run(sim_dir, track_dir)
    print_run_metrics(console, metrics)
    cams = sorted(p.stem for p in (track_dir / "tracks").glob("*.txt"))
    sheet = tracks_sheet(
        {c: sim_dir / "cameras" / c / "video.mp4" for c in cams},
        {c: read_mot(track_dir / "tracks" / f"{c}.txt") for c in cams},
        track_dir / "tracks.png",
        frame=int(0.3 * duration * 10),
    )
    console.print(f"6. tracks drawn on frames: {sheet}; metrics: {track_dir / 'metrics.json'}")
    console.print(f"Results are in {out_dir}/")


def _detector_uri(choice: str) -> str | None:
    """None for `synthetic` (noisy ground truth), else the checked model reference."""
    if choice == "synthetic":
        return None
    from storelens.inference.loading import model_ref

    return model_ref(choice)
