"""Benchmark pages: each suite writes its own Markdown page and CSV under `docs/benchmarks/`
(the protocol, the table, the command, the machine, the date and the commit), so no figure in
the docs is typed by hand. Outside a checkout (an installed package) the page goes under
`runs/bench/` instead."""

from __future__ import annotations

import csv
import os
import platform
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from storelens.evaluation.bench.rows import BenchRow

_REPO = Path(__file__).resolve().parents[2]


def pages_dir() -> Path:
    docs = _REPO / "docs"
    if docs.is_dir() and (_REPO / "pyproject.toml").is_file():
        return docs / "benchmarks"
    from storelens.settings import runs_dir

    return runs_dir() / "bench"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(_REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def write_page(suite: str, rows: list[BenchRow], protocol: str, path: Path | None = None) -> Path:
    """Write `<suite>.md` and `<suite>.csv`; returns the Markdown path."""
    page = path or pages_dir() / f"{suite}.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Benchmark: {suite}",
        "",
        "Written by `storelens bench --only " + suite + "`; do not edit by hand.",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- commit: `{_commit()}`",
        f"- machine: {_machine()}",
        "",
        "## Protocol",
        "",
        textwrap.dedent(protocol).strip(),
        "",
        "## Results",
        "",
        "| measure | implementation | size | value | spread / 95 % interval | unit |",
        "|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        spread = "" if r.low is None else f"{_fmt(r.low)} – {_fmt(r.high)}"
        measure = (
            r.suite.split(": ", 1)[-1] + " · " + r.operation if ": " in r.suite else r.operation
        )
        lines.append(
            f"| {measure} | {r.implementation} | {r.size} | {_fmt(r.value)} | {spread} | {r.unit} |"
        )
    page.write_text("\n".join(lines) + "\n")
    with page.with_suffix(".csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["suite", "operation", "implementation", "size", "value", "unit", "low", "high"]
        )
        for r in rows:
            writer.writerow(
                [
                    r.suite,
                    r.operation,
                    r.implementation,
                    r.size,
                    f"{r.value:.6g}",
                    r.unit,
                    "" if r.low is None else f"{r.low:.6g}",
                    "" if r.high is None else f"{r.high:.6g}",
                ]
            )
    return page
