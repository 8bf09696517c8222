"""The service's applications as Serve `import_path`s, for a Serve config file on an existing
Ray cluster (`storelens serve --emit-config FILE`, then `serve run FILE`):

    storelens.serving.serve_apps:api       -> the `storelens` application (route prefix /)
    storelens.serving.serve_apps:detector  -> `storelens-detector` (no route)
    storelens.serving.serve_apps:manager   -> `storelens-manager` (no route)

Each builder takes the application's `args` from the file, `{"config": <ServeConfig>}`, and
returns the Application `serving/deployment.py` builds for `storelens serve` (the same
functions, the same resolved config). Serve calls the builders on the cluster, so what the file
does not hold comes from the environment there (that of `ray start` on the nodes): the API
secret, always — `$STORELENS_API_SECRET`; a builder refuses to build without it — and, when
`database_url` is null, `$STORELENS_DATABASE_URL`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from storelens.serving.config import ServeConfig
from storelens.serving.deployment import (
    api_application,
    detector_app,
    manager_app,
    resolved,
)
from storelens.settings import API_SECRET_ENV

if TYPE_CHECKING:
    from ray.serve import Application


class AppArgs(BaseModel):
    """The `args` of each application in the file `deployment.serve_config` makes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    config: ServeConfig = ServeConfig()


def _config(args: AppArgs | dict[str, Any]) -> ServeConfig:
    return resolved(AppArgs.model_validate(args).config)


def _live_config(args: AppArgs | dict[str, Any], app: str) -> ServeConfig:
    config = _config(args)
    if config.detector is None:
        raise ValueError(f"{app}: the config has no `detector` section, so no live path to build")
    return config


def cluster_secret() -> str:
    """The API secret from the environment this process was started in (on a cluster: that of
    `ray start`); never from the config file."""
    from storelens.storage.keys import check_secret

    secret = os.environ.get(API_SECRET_ENV)
    if not secret:
        raise RuntimeError(
            f"{API_SECRET_ENV} is not set where Serve builds the storelens applications: the "
            "Serve config file never holds the API secret. Set it in the environment of "
            f"`ray start` on every node of the cluster (e.g. `{API_SECRET_ENV}=... ray start "
            "...`) and deploy again"
        )
    return check_secret(secret)


def api(args: AppArgs | dict[str, Any]) -> Application:
    """The `storelens` application: the attribution API (`deployment.api_application`)."""
    config = _config(args)
    cluster_secret()  # fails early, naming what to set, where the cluster lacks the secret
    return api_application(config)


def detector(args: AppArgs | dict[str, Any]) -> Application:
    """The `storelens-detector` application (`deployment.detector_app`)."""
    return detector_app(_live_config(args, "detector"))


def manager(args: AppArgs | dict[str, Any]) -> Application:
    """The `storelens-manager` application (`deployment.manager_app`)."""
    config = _live_config(args, "manager")
    cluster_secret()  # as above: the workers it starts need the secret in their environment
    return manager_app(config)
