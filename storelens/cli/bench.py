"""`storelens bench`: every benchmark suite in one run, printed as one table per suite."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
# the suite names, for --help without importing the suites (they live in storelens.evaluation)
SUITES = (
    "core",
    "simulator",
    "tracking-accuracy",
    "tracking-speed",
    "tracker-backends",
    "detector",
    "detector-latency",
    "products",
    "attribution",
    "storage",
    "api",
    "serving",
)


def bench(
    out: Path | None = typer.Option(
        None, help="also write the rows as CSV here (default: runs/bench/results.csv)"
    ),
    only: str | None = typer.Option(None, help=f"comma-separated suites: {', '.join(SUITES)}"),
) -> None:
    """Measure storelens against the libraries and trackers it is compared with."""
    import csv

    from storelens.evaluation.bench.suites import suites
    from storelens.settings import runs_dir

    available = suites()
    wanted = only.split(",") if only else list(available)
    unknown = set(wanted) - set(available)
    if unknown:
        raise typer.BadParameter(
            f"unknown suite(s) {sorted(unknown)}; choose from {list(available)}"
        )
    all_rows = []
    for key in wanted:
        title = available[key].title
        with console.status(f"running {title}..."):
            rows = available[key].run()
        all_rows += rows
        table = Table(title=title)
        for col in ("measure", "implementation", "size"):
            table.add_column(col)
        table.add_column("value", justify="right")
        table.add_column("spread (min–max)", justify="right")
        table.add_column("unit")
        for r in rows:
            measure = (
                f"{r.suite.split(': ', 1)[-1]} · {r.operation}" if ": " in r.suite else r.operation
            )
            spread = "" if r.low is None else f"{r.low:,.3f}–{r.high:,.3f}"
            table.add_row(measure, r.implementation, r.size, f"{r.value:,.3f}", spread, r.unit)
        console.print(table)
    path = out or runs_dir() / "bench" / "results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["suite", "operation", "implementation", "size", "value", "unit", "low", "high"]
        )
        writer.writerows(
            [r.suite, r.operation, r.implementation, r.size, f"{r.value:.4f}", r.unit]
            + (["", ""] if r.low is None else [f"{r.low:.4f}", f"{r.high:.4f}"])
            for r in all_rows
        )
    console.print(f"rows written to {path}")
