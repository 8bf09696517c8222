"""One small rendered simulation shared by the simulator tests (two cameras, eight seconds)."""

from pathlib import Path

import pytest

from storelens.configs import builtin_store
from storelens.datasets.sim.scenario import Scenario, load_scenario
from storelens.datasets.simulate import simulate

SMALL_CAMERAS = ["ceil-sw", "shelf-fruit"]


def small_scenario() -> Scenario:
    """Four shoppers who all arrive within 3 s, so people are in view early; 8 s long."""
    scen = load_scenario("easy")
    crowd = scen.crowd.model_copy(update={"arrival_window_s": 3.0})
    return scen.model_copy(update={"duration_s": 8.0, "crowd": crowd})


def run_small(out: Path, seed: int = 3) -> Path:
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
