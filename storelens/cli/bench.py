"""`storelens bench`: every benchmark suite in one run, printed as one table per suite."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def bench(
    out: Path | None = typer.Option(
        None, help="also write the rows as CSV here (default: runs/bench/results.csv)"
    ),
) -> None:
    """Measure storelens against the libraries and trackers it is compared with."""
    import csv

    from storelens.core_bench import core_suite
    from storelens.settings import runs_dir

    suites = {"core array maths (CPU)": core_suite}
    all_rows = []
    for title, suite in suites.items():
        with console.status(f"running {title}..."):
            rows = suite()
        all_rows += rows
        table = Table(title=title)
        for col in ("operation", "implementation", "size"):
            table.add_column(col)
        table.add_column("ms / call", justify="right")
        for r in rows:
            table.add_row(r.operation, r.implementation, r.size, f"{r.ms_per_call:.3f}")
        console.print(table)
    path = out or runs_dir() / "bench" / "results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["suite", "operation", "implementation", "size", "ms_per_call"])
        writer.writerows(
            [r.suite, r.operation, r.implementation, r.size, f"{r.ms_per_call:.4f}"]
            for r in all_rows
        )
    console.print(f"rows written to {path}")
