"""`storelens db ...`: the SQL storage — migrate it, load a run into it, ask it the store's
questions. The database is `--url`, else `$STORELENS_DATABASE_URL`, else the SQLite file
`runs/storelens.db`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from storelens.cli._errors import user_errors

app = typer.Typer(help="SQL storage: migrate, load a run, analytics.", no_args_is_help=True)
console = Console()

URL = typer.Option(
    None, "--url", help="SQLAlchemy URL (default: $STORELENS_DATABASE_URL or runs/storelens.db)"
)


def _db(url: str | None):  # -> Database
    from storelens.storage import Database

    db = Database(url)
    db.migrate()
    return db


@app.command("migrate")
def migrate(url: str | None = URL) -> None:
    """Create or upgrade the schema to the newest revision."""
    with user_errors():
        db = _db(url)
        console.print(f"{db!r}: at revision {db.current_revision()}")


@app.command("load")
def load(
    run_dir: Path = typer.Argument(..., help="a simulated run (storelens simulate)"),
    attribution: Path | None = typer.Option(
        None,
        "--attribution",
        help="where `storelens run` wrote baskets.jsonl and alerts.jsonl (default: RUN_DIR, "
        "when they are there; else the run's ground-truth events are attributed now)",
    ),
    url: str | None = URL,
) -> None:
    """Store a run's POS transactions and RFID reads (idempotently), its sessions and shelf
    events, and the baskets and alerts attribution made of them."""
    with user_errors():
        from storelens.attribution.paths import FloorPaths
        from storelens.datasets.sim.paths import FLOOR_PATHS_FILE
        from storelens.datasets.sim.truth import read_truth
        from storelens.datasets.sim.writer import read_records
        from storelens.records import Alert, Basket
        from storelens.storage import ingest_pos, ingest_rfid, save_records
        from storelens.storage.paths import save_paths

        if not (run_dir / "pos.jsonl").is_file():
            raise FileNotFoundError(f"{run_dir}: no pos.jsonl here; give a simulated run folder")
        truth = read_truth(run_dir)
        source = attribution or run_dir
        if attribution is None and not (run_dir / "baskets.jsonl").is_file():
            from storelens.evaluation.attribution_runner import attribute_run

            source = run_dir / "attribution"  # attribute the run's true events now
            with console.status(f"attributing {run_dir} into {source}…"):
                attribute_run(run_dir, source)
        derived = [*truth["sessions.jsonl"], *truth["events.jsonl"]]
        for name, model in (("baskets.jsonl", Basket), ("alerts.jsonl", Alert)):
            if (source / name).is_file():
                derived += read_records(source / name, model)
            elif attribution is not None:
                raise FileNotFoundError(f"--attribution {attribution}: no {name} here")
        db = _db(url)
        # a replay: records arrive as the store made them, so none is late
        arrived = max((r.t for r in [*truth["pos.jsonl"], *truth["rfid.jsonl"]]), default=None)
        reports = [
            ingest_pos(db, truth["pos.jsonl"], received_t=arrived),
            ingest_rfid(db, truth["rfid.jsonl"], received_t=arrived),
        ]
        saved = save_records(db, derived)
        floor = run_dir / FLOOR_PATHS_FILE
        stores = {s.store_id for s in truth["sessions.jsonl"]}
        paths = (
            save_paths(db, stores.pop(), FloorPaths.load(floor))
            if floor.is_file() and len(stores) == 1
            else 0
        )
        table = Table(title=f"loaded {run_dir} into {db!r}")
        for col in ("records", "stored", "already stored", "refused"):
            table.add_column(col, justify="right" if col != "records" else "left")
        for r in reports:
            table.add_row(r.kind, str(len(r.accepted)), str(len(r.duplicates)), str(len(r.errors)))
        for name, n in saved.stored.items():
            table.add_row(name, str(n), str(saved.unchanged[name]), "0")
        table.add_row("floor path stretches", str(paths), "", "")
        console.print(table)
        for r in reports:
            if r.errors:
                console.print(r.summary())


@app.command("retention")
def retention(
    days: float = typer.Option(..., "--days", min=0.001, help="keep this many days"),
    store_id: str | None = typer.Option(None, "--store", help="one store (default: all)"),
    url: str | None = URL,
) -> None:
    """Delete sessions (with baskets, alerts, reviews, evidence), shelf events, floor paths and
    settled webhooks older than `--days`; POS, RFID and the audit log stay."""
    with user_errors():
        from storelens.storage.retention import purge

        report = purge(_db(url), older_than_s=days * 86400.0, store_id=store_id)
        table = Table(title=f"deleted what ended before {_when(report.cutoff_t)}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in report.deleted.items():
            table.add_row(name, str(n))
        console.print(table)


def _when(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


@app.command("analytics")
def analytics(
    store_id: str = typer.Option(..., "--store", help="the store's id"),
    url: str | None = URL,
) -> None:
    """Conversion per SKU and per hour, from what the database holds."""
    with user_errors():
        from storelens.storage.queries import hourly, sku_funnel

        db = _db(url)
        with db.read() as conn:
            skus, hours = sku_funnel(conn, store_id), hourly(conn, store_id)
        if not hours:
            raise ValueError(f"store {store_id!r}: no sessions stored in {db!r}")
        t = Table(title=f"{store_id}: picks to purchases per SKU (top 15 by picks)")
        for col in ("sku", "picks", "put-backs", "purchased", "conversion"):
            t.add_column(col, justify="left" if col == "sku" else "right")
        for f in skus[:15]:
            conv = "—" if f.conversion is None else f"{f.conversion:.2f}"
            t.add_row(f.key, str(f.picks), str(f.put_backs), str(f.purchased), conv)
        console.print(t)
        h = Table(title=f"{store_id}: per hour (UTC)")
        for col in ("hour", "sessions", "conversion", "unpaid lines", "reviews / 1000"):
            h.add_column(col, justify="right")
        import datetime as dt

        for row in hours:
            when = dt.datetime.fromtimestamp(row.t, dt.UTC).strftime("%Y-%m-%d %H:00")
            h.add_row(
                when,
                str(row.sessions),
                f"{row.conversion:.2f}",
                str(row.unpaid_lines),
                f"{row.reviews_per_1000:.0f}",
            )
        console.print(h)


@app.command("revision")
def revision(message: str = typer.Argument(..., help="what changed in storage/tables.py")) -> None:
    """For developers: autogenerate a migration from the change to `storage/tables.py`."""
    import tempfile

    from alembic import command

    from storelens.storage import Database
    from storelens.storage.database import alembic_config

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'head.db'}")
        db.migrate()
        with db.engine.begin() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True)
        db.close()
