"""Showing and recording metrics: rich tables per stage, and an MLflow run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from storelens.evaluation.attribution_metrics import AttributionMetrics
from storelens.evaluation.event_metrics import EventMetrics, EventScore
from storelens.evaluation.session_metrics import SessionMetrics
from storelens.evaluation.stage_eval import RunMetrics
from storelens.evaluation.tracking_metrics import TrackingMetrics

COLUMNS = [
    ("HOTA", "hota", "{:.3f}"),
    ("DetA", "deta", "{:.3f}"),
    ("AssA", "assa", "{:.3f}"),
    ("MOTA", "mota", "{:.3f}"),
    ("IDF1", "idf1", "{:.3f}"),
    ("IDSW", "id_switches", "{}"),
    ("FP", "false_positives", "{}"),
    ("FN", "false_negatives", "{}"),
    ("GT ids", "gt_ids", "{}"),
]


def metrics_table(
    metrics: dict[str, TrackingMetrics], title: str = "tracking (TrackEval)"
) -> Table:
    table = Table(title=title)
    table.add_column("sequence")
    for name, _, _ in COLUMNS:
        table.add_column(name, justify="right")
    for seq, m in metrics.items():
        table.add_row(seq, *(fmt.format(getattr(m, attr)) for _, attr, fmt in COLUMNS))
    return table


def log_to_mlflow(
    metrics: dict[str, TrackingMetrics],
    params: dict[str, Any],
    run_name: str,
    experiment: str = "tracking",
    artifacts: list[Path] | None = None,
) -> str:
    """One MLflow run: params once, every metric as `<sequence>/<metric>`. Returns the run id.

    Uses `MLFLOW_TRACKING_URI`, else a SQLite store `mlflow.db` in the working directory.
    Failures raise: a tracking failure is an error, not a warning.
    """
    from storelens.inference.mlflow_store import configure_mlflow

    mlflow = configure_mlflow(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(
            {f"{seq}/{k}": float(v) for seq, m in metrics.items() for k, v in m.as_dict().items()}
        )
        for path in artifacts or []:
            mlflow.log_artifact(str(path))
        return run.info.run_id


def attribution_table(m: AttributionMetrics) -> Table:
    """Attribution's figures with their 95 % intervals."""
    table = Table(title=f"attribution ({m.sessions} complete sessions; 95 % Wilson intervals)")
    table.add_column("figure")
    table.add_column("value [95 % interval]", justify="right")
    table.add_column("n", justify="right")
    rows = m.headline()
    rows += [(f"{s} precision", v, 1.0) for s, v in m.line_precision.items()]
    rows += [(f"{s} recall", v, 1.0) for s, v in m.line_recall.items()]
    for name, share, scale in rows:
        digits = 1 if scale > 1 else 3
        table.add_row(name, share.text(scale, digits), str(share.n))
    for terminal, err in m.terminal_offset_error_s.items():
        table.add_row(f"clock offset error {terminal} (s)", f"{err:.2f}", "")
    return table


def sessions_table(m: SessionMetrics) -> Table:
    """Sessions found against the true ones."""
    table = Table(title="sessions: visits from the entrance to the exit")
    table.add_column("figure")
    table.add_column("value", justify="right")

    def text(v: float | None, unit: str = "") -> str:
        return "–" if v is None else f"{v:.3f}{unit}" if not unit else f"{v:.1f}{unit}"

    table.add_row("sessions found / true / matched", f"{m.found} / {m.true} / {m.matched}")
    table.add_row("recall / precision", f"{m.recall:.3f} / {m.precision:.3f}")
    table.add_row("found sessions per true session", f"{m.fragments:.2f}")
    table.add_row("enter time error (median)", text(m.enter_error_s, " s"))
    table.add_row("exit time error (median)", text(m.exit_error_s, " s"))
    table.add_row("entrance right", text(m.entrance_accuracy))
    table.add_row(f"parties grouped ({m.parties} parties)", text(m.parties_grouped))
    table.add_row("found groups mixing parties", text(m.wrong_groups))
    return table


def events_table(m: EventMetrics) -> Table:
    """The event metric with and without the shopper condition, per kind."""
    table = Table(
        title=f"events (tolerance {m.tolerance_s:g} s after the hand leaves; 95 % bootstrap)"
    )
    for col in ("events", "matched / predicted / true", "precision", "recall", "F1 [95 %]"):
        table.add_column(col, justify="left" if col == "events" else "right")

    def row(name: str, s: EventScore) -> None:
        f = "–" if s.f1 is None else f"{s.f1:.3f}"
        if "f1" in s.interval:
            f += f" [{s.interval['f1'][0]:.3f}, {s.interval['f1'][1]:.3f}]"
        pr = ["–" if v is None else f"{v:.3f}" for v in (s.precision, s.recall)]
        table.add_row(name, f"{s.matched} / {s.predicted} / {s.true}", *pr, f)

    row("all, shopper right", m.score)
    row("all, any shopper", m.any_shopper)
    for kind, s in m.per_kind.items():
        row(f"{kind}, shopper right", s)
    return table


def print_run_metrics(console: Console, metrics: RunMetrics) -> None:
    """One table per scored stage of `storelens eval`, then the stages skipped and why."""
    if metrics.tracking is not None:
        console.print(metrics_table(metrics.tracking, title="tracking: persons (TrackEval, MOT17)"))
    if metrics.mtmc is not None:
        console.print(
            metrics_table(
                metrics.mtmc, title="shoppers: global ids over every camera (MTMC, TrackEval)"
            )
        )
    if metrics.sessions is not None:
        console.print(sessions_table(metrics.sessions))
    if metrics.attribution is not None:
        console.print(attribution_table(metrics.attribution))
    if metrics.events is not None:
        console.print(events_table(metrics.events))
    for stage, reason in metrics.skipped.items():
        console.print(f"[yellow]{stage}[/]: skipped ({reason})")
