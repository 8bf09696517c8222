"""Where MLflow writes: `MLFLOW_TRACKING_URI` when set (a shared server), else an embedded SQLite
store `mlflow.db` in the working directory — no server needed. Imported lazily (no mlflow at
module level in the core)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType


def configure_mlflow(experiment: str) -> ModuleType:
    """Import mlflow, point it at the store and select `experiment`; returns the module."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    mlflow.set_experiment(experiment)
    return mlflow
