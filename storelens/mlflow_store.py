"""Where MLflow writes: `MLFLOW_TRACKING_URI` when set (a shared server), else an embedded SQLite
store `mlflow.db` in the working directory — no server needed. Imported lazily (no mlflow at
module level in the core)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType


def configure_mlflow(experiment: str | None = None) -> ModuleType:
    """Import mlflow, point it at the store and select `experiment` (if given); returns mlflow."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    # always set it: an earlier `set_tracking_uri` in this process would otherwise win over the env
    mlflow.set_tracking_uri(
        os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    )
    if experiment is not None:
        mlflow.set_experiment(experiment)
    return mlflow
