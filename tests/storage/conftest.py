"""Storage on both back ends: `db` is a freshly migrated SQLite file, and the same on
PostgreSQL in a schema of its own (dropped afterwards) where PostgreSQL answers at
`$STORELENS_TEST_POSTGRES_URL` (default: the project machines' 127.0.0.1:5432, database
`test`); without it the PostgreSQL cases skip and say why. `store_run` is ten minutes of the
`theft` scenario without video, attributed from its true events: real sessions, events, POS
transactions, RFID reads, baskets and alerts."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from storelens.storage import Database

POSTGRES_URL_ENV = "STORELENS_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


@cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used here (None: it can)."""
    from sqlalchemy import create_engine, text

    url = postgres_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as err:  # any failure to connect means: skip, saying what failed
        return (
            f"PostgreSQL at {url} is not reachable ({type(err).__name__}); set {POSTGRES_URL_ENV}"
        )
    return None


def make_db(backend: str, tmp_path: Path) -> Database:
    if backend == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'storelens.db'}")
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    return Database(postgres_url(), schema=f"t_{uuid.uuid4().hex[:12]}")


BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def db(backend, tmp_path):
    database = make_db(backend, tmp_path)
    database.migrate()
    yield database
    if database.schema:
        database.drop_schema()
    database.close()


@pytest.fixture
def db_pair(tmp_path):
    """A migrated SQLite database and a migrated PostgreSQL schema, side by side."""
    lite, pg = make_db("sqlite", tmp_path), make_db("postgres", tmp_path)
    lite.migrate()
    pg.migrate()
    yield lite, pg
    pg.drop_schema()
    lite.close()


@dataclass(frozen=True)
class StoreRun:
    run_dir: Path
    layout: object
    sessions: list
    events: list
    pos: list
    rfid: list
    baskets: list
    alerts: list
    paths: object


@pytest.fixture(scope="session")
def store_run(tmp_path_factory) -> StoreRun:
    from storelens.attribution import FloorPaths
    from storelens.configs import builtin_store
    from storelens.datasets.sim.paths import FLOOR_PATHS_FILE
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim.truth import read_truth
    from storelens.datasets.simulate import simulate
    from storelens.evaluation.attribution_runner import attribute_run
    from storelens.layout import StoreLayout
    from storelens.records import Session, ShelfEvent

    run = tmp_path_factory.mktemp("theft-records")
    scenario = load_scenario("theft").with_overrides(
        duration_s=600,
        crowd={"arrival_rate_per_h": 200},
        checkout={"terminal_clock_offset_s": 3.0},
    )
    simulate(builtin_store(), scenario, seed=21, out_dir=run, render=False, show_progress=False)
    result = attribute_run(run, run / "attribution").result
    truth = read_truth(run)

    def core(model, recs):
        return [model.model_validate(r.model_dump(include=set(model.model_fields))) for r in recs]

    return StoreRun(
        run,
        StoreLayout.from_yaml(run / "store.yaml"),
        core(Session, truth["sessions.jsonl"]),
        core(ShelfEvent, truth["events.jsonl"]),
        truth["pos.jsonl"],
        truth["rfid.jsonl"],
        [result.baskets[s] for s in sorted(result.baskets)],
        [a for s in sorted(result.alerts) for a in result.alerts[s]],
        FloorPaths.load(run / FLOOR_PATHS_FILE),
    )
