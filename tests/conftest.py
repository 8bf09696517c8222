"""Shared fixtures: repository paths, the demo store, the optional ../shared data, and one
small rendered simulation (two cameras, eight seconds) used by several suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from storelens.configs import builtin_store
from storelens.datasets.sim.scenario import Scenario, load_scenario
from storelens.layout import StoreLayout
from storelens.settings import shared_data_dir

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
