"""Shared fixtures: repository paths, the demo store, the optional ../shared data, one small
rendered simulation (two cameras, eight seconds) used by several suites, and storage on SQLite
and PostgreSQL with an attributed records-only run to fill it (tests/storage, tests/serving)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from storelens.configs import builtin_store
from storelens.datasets.sim.scenario import Scenario, load_scenario
from storelens.layout import StoreLayout
from storelens.settings import shared_data_dir
from storelens.storage import Database

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_STORE = REPO_ROOT / "configs" / "stores" / "demo_store.yaml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def demo_store_path() -> Path:
    return DEMO_STORE


@pytest.fixture(scope="session")
def demo_layout() -> StoreLayout:
    return StoreLayout.from_yaml(DEMO_STORE)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "../shared/data is absent (it exists on the project's machines and in CI; "
            "set STORELENS_SHARED_DATA to point at a copy)"
        )
    return path


SMALL_CAMERAS = ["ceil-sw", "shelf-fruit"]


def small_scenario() -> Scenario:
    """Four shoppers who all arrive within 3 s, so people are in view early; 8 s long."""
    return load_scenario("easy").with_overrides(duration_s=8.0, crowd={"arrival_window_s": 3.0})


def run_small(out: Path, seed: int = 3) -> Path:
    from storelens.datasets.simulate import simulate

    simulate(
        builtin_store(),
        small_scenario(),
        seed=seed,
        out_dir=out,
        camera_ids=SMALL_CAMERAS,
        workers=2,
        show_progress=False,
    )
    return out


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory) -> Path:
    return run_small(tmp_path_factory.mktemp("sim") / "small")


LIVE_CAMERAS = ["ceil-sw", "ceil-ne"]


@pytest.fixture(scope="session")
def live_sim(tmp_path_factory) -> Path:
    """42 s of the demo store (seed 0) seen by two ceiling cameras: three shoppers enter,
    take a product each, pay and leave within the recording (the live-path tests)."""
    from storelens.datasets.simulate import simulate

    out = tmp_path_factory.mktemp("live") / "sim"
    simulate(
        builtin_store(),
        load_scenario("easy").with_overrides(duration_s=42.0),
        seed=0,
        out_dir=out,
        camera_ids=LIVE_CAMERAS,
        workers=2,
        show_progress=False,
    )
    return out


# --- storage on both back ends (tests/storage, tests/serving) ---------------------------
# Storage on both back ends: `db` is a freshly migrated SQLite file, and the same on
# PostgreSQL in a schema of its own (dropped afterwards) where PostgreSQL answers at
# `$STORELENS_TEST_POSTGRES_URL` (default: the project machines' 127.0.0.1:5432, database
# `test`); without it the PostgreSQL cases skip and say why. `store_run` is ten minutes of the
# `theft` scenario without video, attributed from its true events: real sessions, events, POS
# transactions, RFID reads, baskets and alerts.


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
