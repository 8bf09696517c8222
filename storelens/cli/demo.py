"""`storelens demo`: the furthest real path that exists, on the embedded defaults.

Today: validate the demo store and draw its floor plan. Later stages (simulate, track,
attribute, serve) extend this command as they land.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from storelens.cli._errors import user_errors

console = Console()


def demo(
    store: Path | None = typer.Option(
        None, help="store layout YAML (default: the built-in demo store)"
    ),
    out: Path | None = typer.Option(None, help="output folder (default: runs/demo)"),
) -> None:
    """Run the main job end to end on the demo store and say where the results are."""
    from storelens.cli.store import summary_table
    from storelens.configs import builtin_store
    from storelens.floorplan import draw_floor_plan
    from storelens.layout import StoreLayout
    from storelens.settings import runs_dir

    out_dir = out or runs_dir() / "demo"
    with user_errors():
        store_path = store or builtin_store("demo_store")
        layout = StoreLayout.from_yaml(store_path)
    console.rule(f"[bold]storelens demo — {layout.store_id}")
    console.print(summary_table(layout))
    png = draw_floor_plan(layout, out_dir / "floor_plan.png")
    console.print(f"1. store layout [green]valid[/]: {store_path}")
    console.print(f"2. floor plan: {png}")
    console.print(f"Results are in {out_dir}/")
