"""The suites of `storelens bench`, by name, in the order they run; each returns `BenchRow`s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storelens.evaluation.bench.rows import BenchRow


@dataclass(frozen=True)
class Suite:
    title: str
    run: Callable[[], list[BenchRow]]


def suites() -> dict[str, Suite]:
    """name → suite; the heavy modules are imported only when a suite is asked for."""
    from storelens.evaluation.bench import (
        api,
        attribution,
        core,
        detector,
        products,
        serving,
        simulator,
        storage,
        tracker_backends,
        tracking,
        tracking_speed,
    )

    return {
        "core": Suite("core array maths (CPU)", core.core_suite),
        "simulator": Suite("simulator: demo store, all cameras", simulator.simulator_suite),
        "tracking-accuracy": Suite(
            "tracking accuracy beside the peers (same detections)", tracking.accuracy_suite
        ),
        "tracking-speed": Suite(
            "tracking speed: storelens batched vs one peer per camera", tracking_speed.speed_suite
        ),
        "tracker-backends": Suite(
            "tracker backends: numpy vs the CUDA kernels (GPU, or the CPU shim)",
            tracker_backends.backends_suite,
        ),
        "detector": Suite(
            "detector: mAP after a CPU budget, torch vs onnxruntime latency",
            detector.detector_suite,
        ),
        "detector-latency": Suite(
            "shipped detector: torch vs onnxruntime latency", detector.latency_suite
        ),
        "products": Suite("product recognition: GroceryStoreDataset val", products.product_suite),
        "attribution": Suite(
            "attribution from ground-truth events: receipts, joins, alerts (noisy clocks)",
            attribution.attribution_suite,
        ),
        "storage": Suite(
            "storage: POS and RFID ingestion into SQLite and PostgreSQL", storage.storage_suite
        ),
        "api": Suite(
            "attribution API over HTTP: Ray Serve beside bare uvicorn, SQLite and PostgreSQL",
            api.api_suite,
        ),
        "serving": Suite(
            "the live path: cameras per core, latency, memory, detector batches, the demo",
            serving.serving_suite,
        ),
    }
