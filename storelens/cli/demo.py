"""`storelens demo`: the main job end to end on the embedded defaults.

Validate the demo store and draw its floor plan, simulate it (the `easy` scenario, cached after
the first run) with a preview of the ground truth, then the live path
(`storelens.cli.live`): the cameras streamed over RTSP into the service on a local Ray
(API, batched detector, a store worker), the store's POS and RFID posted over the API as they
happen, and the attribution read back and scored against the ground truth. `--offline` runs
what `storelens run` and `storelens eval` do instead: the pipeline over the recorded videos and
TrackEval over its tracks (`--detector synthetic` there starts from noisy ground truth).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import service_errors, user_errors

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
    offline: bool = typer.Option(
        False, help="run the pipeline over the recorded videos and score the tracks instead"
    ),
    rate: float = typer.Option(
        0.5, min=0.05, max=4.0, help="replay speed of the live streams (x real time)"
    ),
    sample_fps: float = typer.Option(5.0, min=0.5, help="frames per second the worker takes"),
    keep_serving: bool = typer.Option(
        False, help="leave the API up at the end and print its URL and a key"
    ),
    files: bool = typer.Option(
        False, help="read the camera files instead of streaming them over RTSP"
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

    if not offline:
        if model is None:
            raise typer.BadParameter(
                "the live path needs a detector; --detector synthetic is for --offline",
                param_hint="--detector",
            )
        _live(sim_dir, out_dir / "live", model, rate, sample_fps, keep_serving, files)
        console.print(f"Results are in {out_dir}/")
        return

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


def _live(
    sim_dir: Path,
    out_dir: Path,
    model: str,
    rate: float,
    sample_fps: float,
    keep_serving: bool,
    files: bool,
) -> None:
    from storelens.cli.live import run_live_demo

    console.print(
        f"5. live: the cameras streamed into the service at {rate:g}x real time, "
        f"{sample_fps:g} frames/s taken per camera (detector {model})"
    )

    last = [0.0]

    def progress(status: dict, config) -> None:  # type: ignore[no-untyped-def]
        import time

        if time.monotonic() - last[0] < 10:
            return
        last[0] = time.monotonic()
        (store,) = config.stores.values()
        cams = status.get("cameras", {})
        fps = sum(c.get("fps_out", 0.0) for c in cams.values())
        saved = status.get("saved", {})
        console.print(
            f"   t = {status.get('clock_t', 0) - store.clock.origin_t:5.1f} s: "
            f"{fps:.1f} frames/s detected, {saved.get('ShelfEvent', 0)} events, "
            f"{saved.get('Session', 0)} session and {saved.get('Basket', 0)} basket revisions",
            highlight=False,
        )

    def hold(base: str, key: str) -> None:
        import threading

        console.print(f"API at {base}/v1 (docs {base}/docs); key: {key}\nCtrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass

    with user_errors(), service_errors("the live demo"):
        result = run_live_demo(
            sim_dir,
            out_dir,
            rate=rate,
            sample_fps=sample_fps,
            detector_model=model,
            force_files=files,
            keep_serving=hold if keep_serving else None,
            progress=progress,
            quiet=True,
        )
    if result.transport == "file":
        console.print("   (no RTSP server here: the files were read through the same ingest)")
    console.print(_attribution_table(result))
    m = result.metrics
    console.print(
        f"6. receipts exactly right: {m.receipt_accuracy.text()} of {m.sessions} complete "
        f"sessions; alerts precision {m.alert_precision.text()}, recall "
        f"{m.alert_recall.text()} ({result.wall_s:.0f} s wall)",
        highlight=False,
    )
    for name, path in result.outputs.items():
        console.print(f"7. {name}: {path}")


def _attribution_table(result) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title="attribution through the live service (against the ground truth)")
    for col in ("session", "shoppers", "basket (sku x qty status)", "truth", ""):
        table.add_column(col)
    for s in result.sessions:
        sid = s["session"]["session_id"]
        truth = result.truth.get(sid)
        got = sorted((ln["sku"], ln["qty"], ln["status"]) for ln in s["lines"])
        want = sorted(
            (ln.sku, ln.qty, ln.status.value) for ln in (truth.expected_lines if truth else [])
        )
        complete = bool(truth and truth.complete)
        table.add_row(
            sid[-8:],
            ",".join(x[-6:] for x in s["session"]["shopper_ids"]),
            "; ".join(f"{k} x{q} {st}" for k, q, st in got) or "-",
            "; ".join(f"{k} x{q} {st}" for k, q, st in want) or "-",
            ("[green]ok[/]" if got == want else "[red]differs[/]") if complete else "incomplete",
        )
    return table
