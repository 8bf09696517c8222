"""Benchmark of the simulator: the demo store, 8 shoppers, 60 s at 10 fps on all six cameras.

Target (issue #3): under 2 minutes on the project's 2-core machine. There is no peer to run
beside it; the row states the target instead.
"""

from __future__ import annotations

from storelens.evaluation.bench.rows import BenchRow
from storelens.settings import runs_dir

TARGET_S = 120.0


def simulator_suite() -> list[BenchRow]:
    from storelens.configs import builtin_store
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.simulate import simulate

    scenario = load_scenario("easy").with_overrides(
        duration_s=60.0, crowd={"parties": 8, "arrival_window_s": 20.0}
    )
    result = simulate(
        builtin_store(), scenario, seed=0, out_dir=runs_dir() / "bench" / "sim", show_progress=False
    )
    camera_frames = result.frames * len(result.camera_ids)
    size = f"{len(result.camera_ids)} cams x {result.frames} frames"
    return [
        BenchRow(
            "simulator",
            "render + ground truth, 8 shoppers, 60 s",
            "storelens simulate",
            size,
            result.seconds,
            f"s (target < {TARGET_S:.0f})",
        ),
        BenchRow(
            "simulator",
            "throughput",
            "storelens simulate",
            size,
            camera_frames / result.seconds,
            "camera-frames / s",
        ),
    ]
