"""`storelens store ...`: checking and drawing store layout files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import user_errors

app = typer.Typer(help="Store layout files: validate and draw them.", no_args_is_help=True)
console = Console()


def summary_table(layout) -> Table:  # type: ignore[no-untyped-def]
    """A rich table of what a layout holds."""
    table = Table(title=f"store {layout.store_id} ({layout.name or 'unnamed'})", show_lines=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("details")
    cams = layout.cameras
    table.add_row(
        "floor",
        "",
        f"{layout.floor.width_m} x {layout.floor.depth_m} m, "
        f"ceiling {layout.floor.ceiling_m} m, zone {layout.timezone}",
    )
    for kind in ("ceiling", "shelf"):
        these = [c for c in cams if c.kind == kind]
        table.add_row(
            f"{kind} cameras",
            str(len(these)),
            ", ".join(
                f"{c.camera_id} {c.resolution[0]}x{c.resolution[1]}@{c.fps:g}" for c in these
            ),
        )
    facings = sum(len(s.planogram) for s in layout.shelves)
    table.add_row(
        "shelf units",
        str(len(layout.shelves)),
        f"{facings} facings, {len(layout.planogram_skus)} SKUs on shelves",
    )
    table.add_row(
        "checkout lanes",
        str(len(layout.checkout_lanes)),
        ", ".join(f"{ln.lane_id} ({ln.pos_terminal_id})" for ln in layout.checkout_lanes),
    )
    table.add_row(
        "RFID gates",
        str(len(layout.rfid_gates)),
        ", ".join(f"{g.gate_id} ({len(g.reader_ids)} readers)" for g in layout.rfid_gates),
    )
    table.add_row(
        "entrances",
        str(len(layout.entrances)),
        ", ".join(f"{e.entrance_id} ({e.direction})" for e in layout.entrances),
    )
    tagged = sum(p.rfid_tagged for p in layout.catalogue)
    table.add_row("catalogue", str(len(layout.catalogue)), f"{tagged} RFID-tagged SKUs")
    return table


@app.command("validate")
def validate(
    path: Path = typer.Argument(..., help="store layout YAML, e.g. configs/stores/demo_store.yaml"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="floor-plan PNG (default: runs/<store_id>/floor_plan.png)"
    ),
) -> None:
    """Check a store file and draw its floor plan (shelves, lanes, gates, camera footprints)."""
    from storelens.floorplan import draw_floor_plan
    from storelens.layout import StoreLayout
    from storelens.settings import runs_dir

    with user_errors():
        layout = StoreLayout.from_yaml(path)
    console.print(summary_table(layout))
    png = draw_floor_plan(layout, out or runs_dir() / layout.store_id / "floor_plan.png")
    console.print(f"[green]valid[/] {path} — floor plan: {png}")
