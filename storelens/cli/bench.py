"""`storelens bench`: every benchmark suite in one run, printed as one table per suite."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
SUITES = ("core", "simulator", "tracking-accuracy", "tracking-speed", "detector", "products")


def bench(
    out: Path | None = typer.Option(
        None, help="also write the rows as CSV here (default: runs/bench/results.csv)"
    ),
    only: str | None = typer.Option(None, help=f"comma-separated suites: {', '.join(SUITES)}"),
) -> None:
    """Measure storelens against the libraries and trackers it is compared with."""
    import csv

    from storelens.evaluation.bench.core import core_suite
    from storelens.evaluation.bench.detector import detector_suite
    from storelens.evaluation.bench.products import product_suite
    from storelens.evaluation.bench.simulator import simulator_suite
    from storelens.evaluation.bench.tracking import accuracy_suite, speed_suite
    from storelens.settings import runs_dir

    suites = {
        "core": ("core array maths (CPU)", core_suite),
        "simulator": ("simulator: demo store, all cameras", simulator_suite),
        "tracking-accuracy": (
            "tracking accuracy beside the peers (same detections)",
            accuracy_suite,
        ),
        "tracking-speed": ("tracking speed: storelens batched vs one peer per camera", speed_suite),
        "detector": (
            "detector: mAP after a CPU budget, torch vs onnxruntime latency",
            detector_suite,
        ),
        "products": ("product recognition: GroceryStoreDataset val", product_suite),
    }
    wanted = only.split(",") if only else list(suites)
    unknown = set(wanted) - set(suites)
    if unknown:
        raise typer.BadParameter(f"unknown suite(s) {sorted(unknown)}; choose from {list(suites)}")
    all_rows = []
    for key in wanted:
        title, suite = suites[key]
        with console.status(f"running {title}..."):
            rows = suite()
        all_rows += rows
        table = Table(title=title)
        for col in ("measure", "implementation", "size"):
            table.add_column(col)
        table.add_column("value", justify="right")
        table.add_column("unit")
        for r in rows:
            measure = (
                f"{r.suite.split(': ', 1)[-1]} · {r.operation}" if ": " in r.suite else r.operation
            )
            table.add_row(measure, r.implementation, r.size, f"{r.value:,.3f}", r.unit)
        console.print(table)
    path = out or runs_dir() / "bench" / "results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["suite", "operation", "implementation", "size", "value", "unit"])
        writer.writerows(
            [r.suite, r.operation, r.implementation, r.size, f"{r.value:.4f}", r.unit]
            for r in all_rows
        )
    console.print(f"rows written to {path}")
