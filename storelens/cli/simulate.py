"""`storelens simulate` and `storelens dataset ...`: make a synthetic store and export it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from storelens.cli._errors import check_output_dir, user_errors

console = Console()
dataset_app = typer.Typer(
    help="Export simulator output to the formats training tools read.", no_args_is_help=True
)


def simulate(
    store: Path = typer.Option(None, help="store layout YAML (default: the built-in demo store)"),
    scenario: str = typer.Option(
        "easy", help="preset (easy, crowded, occluded, theft) or a YAML path"
    ),
    seed: int = typer.Option(0, min=0, help="everything random follows from this seed"),
    out: Path = typer.Option(..., help="output folder"),
    cameras: str = typer.Option(None, help="comma-separated camera ids (default: all)"),
    duration: float = typer.Option(None, help="override the scenario's duration_s"),
    render: bool = typer.Option(
        True, help="--no-render writes only events, POS, RFID and sessions"
    ),
    preview: bool = typer.Option(False, help="also write preview.png with the ground truth drawn"),
    workers: int = typer.Option(
        None, min=1, help="camera render processes (default: one per core)"
    ),
) -> None:
    """Simulate shoppers in a store: per-camera videos and complete ground truth."""
    from storelens.config import ConfigError
    from storelens.configs import builtin_store
    from storelens.datasets.sim.preview import contact_sheet
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.simulate import simulate as run

    with user_errors():
        check_output_dir(out)
        scen = load_scenario(scenario)
        if duration is not None:
            try:  # the same field / value message as a bad scenario file, naming the option
                scen = scen.with_overrides(duration_s=duration)
            except ConfigError as err:
                raise ConfigError(f"--duration {duration:g}: {err}") from None
        result = run(
            store or builtin_store(),
            scen,
            seed=seed,
            out_dir=out,
            camera_ids=cameras.split(",") if cameras else None,
            render=render,
            workers=workers,
        )
    console.print(
        f"[green]simulated[/] {result.frames} frames x {len(result.camera_ids)} cameras in "
        f"{result.seconds:.1f} s (products: {result.texture_source}) → {result.out_dir}"
    )
    if preview and render:
        console.print(f"preview: {contact_sheet(result.out_dir)}")


@dataset_app.command("export-yolo")
def export_yolo(
    sim_dir: Path = typer.Argument(..., help="a `storelens simulate` output folder"),
    out: Path = typer.Option(..., help="data set folder (data.yaml is written there)"),
    class_set: str = typer.Option("coarse", help="coarse (person, hand, product) or sku"),
    every: int = typer.Option(5, min=1, help="keep every n-th frame of each camera"),
    train_fraction: float = typer.Option(
        0.8, min=0.05, max=0.95, help="first share of time → train"
    ),
) -> None:
    """A YOLO data set split by time (ultralytics reads its data.yaml)."""
    from storelens.datasets.formats.yolo import export_yolo as run

    with user_errors():
        path = run(sim_dir, out, class_set=class_set, every=every, train_fraction=train_fraction)
    console.print(f"[green]YOLO data set[/]: {path}")


@dataset_app.command("export-yolo-pose")
def export_yolo_pose(
    sim_dir: Path = typer.Argument(..., help="a `storelens simulate` output folder"),
    out: Path = typer.Option(..., help="data set folder (data.yaml is written there)"),
    crops: bool = typer.Option(
        True, "--crops/--frames", help="one image per person crop (top-down) or whole frames"
    ),
    every: int = typer.Option(5, min=1, help="keep every n-th frame of each camera"),
    min_crop_px: float = typer.Option(48.0, min=1, help="smallest person height given a crop"),
    train_fraction: float = typer.Option(
        0.8, min=0.05, max=0.95, help="first share of time → train"
    ),
) -> None:
    """A YOLO-pose data set of people with COCO-17 keypoints (kpt_shape, flip_idx), by time."""
    from storelens.datasets.formats.yolo_pose import export_yolo_pose as run

    with user_errors():
        path = run(
            sim_dir,
            out,
            crops=crops,
            every=every,
            min_crop_px=min_crop_px,
            train_fraction=train_fraction,
        )
    console.print(f"[green]YOLO-pose data set[/]: {path}")


@dataset_app.command("export-coco")
def export_coco(
    sim_dir: Path = typer.Argument(..., help="a `storelens simulate` output folder"),
    out: Path = typer.Option(..., help="output folder"),
    class_set: str = typer.Option("coarse", help="coarse (person, hand, product) or sku"),
    every: int = typer.Option(5, min=1, help="keep every n-th frame of each camera"),
    keypoints: bool = typer.Option(
        False, "--keypoints", help="COCO-keypoints (person_keypoints_<split>.json) instead"
    ),
) -> None:
    """COCO json per split (with track ids and visibility), images beside it."""
    from storelens.datasets.formats.coco import export_coco as run

    with user_errors():
        paths = run(sim_dir, out, class_set=class_set, every=every, keypoints=keypoints)
    console.print(f"[green]COCO[/]: {', '.join(str(p) for p in paths.values())}")
