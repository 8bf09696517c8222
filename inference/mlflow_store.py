"""Where MLflow writes: `MLFLOW_TRACKING_URI` when set (a shared server), else an embedded SQLite
store `mlflow.db` in the working directory — no server needed (`storelens.settings`). mlflow is
imported inside the function, so importing this module is cheap."""

from __future__ import annotations

import os
from types import ModuleType

from storelens.settings import settings


def configure_mlflow(experiment: str | None = None) -> ModuleType:
    """Import mlflow, point it at the store and select `experiment` (if given); returns mlflow."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    # always set it: an earlier `set_tracking_uri` in this process would otherwise win over the env
    mlflow.set_tracking_uri(settings().mlflow_tracking_uri)
    if experiment is not None:
        mlflow.set_experiment(experiment)
    return mlflow
