"""The attribution API as a Ray Serve application, and the service `storelens serve` runs.

`api_application(config)` is the Serve application: one deployment, `api`, whose
replicas each build the FastAPI app (`create_app`) on their own connection to the database and
run the service's housekeeping beside it — the webhook dispatcher (claims are exclusive, so any
number of replicas may drain the outbox) and, when a retention period is set, retention. The
replicas get their settings through Ray's `runtime_env`; the secret only through the
environment Ray's processes inherit (Ray logs runtime environments), never through a file.

With a `detector` in the config the live path comes up beside it as two more applications:
`storelens-detector` (the batched detector deployment every store worker sends frames to) and
`storelens-manager` (`StoreManager`, which keeps one `StoreWorker` actor per store with
cameras). Every deployment and actor reserves a fraction of a CPU from the config, so the
whole service schedules on a 2-core machine (docs/architecture.md, "Resource plan").

`start_service(config, secret)` migrates the database, starts a local Ray (or joins
`$RAY_ADDRESS`), binds Serve's HTTP proxy to `config.host:config.port`, deploys, and returns
the base URL once `/readyz` answers; `stop_service()` stops the store workers (each flushes),
then Serve and Ray.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import httpx
from fastapi import FastAPI

from storelens.serving.config import ServeConfig
from storelens.settings import API_SECRET_ENV

log = logging.getLogger(__name__)
CONFIG_ENV = "STORELENS_SERVE_CONFIG"
APP_NAME = "storelens"


class Housekeeping:
    """The replica's background jobs: webhook dispatch, and retention every `every_s`."""

    def __init__(self, db, secret: str, config: ServeConfig) -> None:  # type: ignore[no-untyped-def]
        from storelens.serving.webhooks import Dispatcher

        self.db = db
        self.config = config
        self.dispatcher = (
            Dispatcher(
                db,
                secret,
                allow_private=config.webhooks.allow_private,
                backoff_base_s=config.webhooks.backoff_base_s,
            )
            if config.webhooks.dispatch
            else None
        )
        self._stop = threading.Event()
        self._retention: threading.Thread | None = None

    def start(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.start(self.config.webhooks.interval_s)
        if self.config.retention.days is not None:
            self._retention = threading.Thread(
                target=self._retain, name="storelens-retention", daemon=True
            )
            self._retention.start()

    def _retain(self) -> None:
        from storelens.storage.retention import purge

        days = self.config.retention.days
        assert days is not None
        while not self._stop.is_set():
            try:
                report = purge(self.db, older_than_s=days * 86400.0)
                if report.total:
                    log.info("retention deleted %s", report.deleted)
            except Exception:  # a database hiccup must not end the job; it runs again later
                log.exception("retention")
            self._stop.wait(self.config.retention.every_s)

    def stop(self) -> None:
        self._stop.set()
        if self.dispatcher is not None:
            self.dispatcher.stop()


def build_api() -> FastAPI:
    """Run in each replica: the app over its own connection, housekeeping started."""
    from storelens.serving.api import create_app
    from storelens.storage import Database

    config = ServeConfig.model_validate_json(os.environ[CONFIG_ENV])
    secret = os.environ[API_SECRET_ENV]
    db = Database(config.database_url, schema=config.database_schema)
    app = create_app(db, secret, rate_per_s=config.rate_per_s, burst=config.burst)
    housekeeping = Housekeeping(db, secret, config)
    housekeeping.start()
    app.router.on_shutdown.append(housekeeping.stop)
    return app


def api_application(config: ServeConfig):  # -> ray.serve.Application
    from ray import serve

    from storelens.settings import worker_env

    env = {
        **worker_env(),
        CONFIG_ENV: resolved(config).model_dump_json(),
        "STORELENS_WEBHOOK_ALLOW_PRIVATE": "1" if config.webhooks.allow_private else "",
    }
    deployment = serve.deployment(serve.ingress(build_api)()).options(
        name="api",
        num_replicas=config.replicas,
        ray_actor_options={"num_cpus": config.replica_cpus, "runtime_env": {"env_vars": env}},
        health_check_period_s=5,
        max_ongoing_requests=config.max_ongoing_requests,
        logging_config={"enable_access_log": False, "log_level": "WARNING"},
    )
    return deployment.bind()


DETECTOR_APP, MANAGER_APP = "storelens-detector", "storelens-manager"


def detector_app(config: ServeConfig, user_config: dict | None = None):  # -> serve.Application
    """The detector application; `serve.run` it again with a `user_config` (`{"model": ref}`)
    to swap the model of the running replicas in place."""
    from storelens.serving.detector_service import detector_application

    assert config.detector is not None
    # the settings' fields are the application's arguments, one for one
    return detector_application(**config.detector.model_dump(), user_config=user_config)


def manager_app(config: ServeConfig):  # -> ray.serve.Application
    from ray import serve

    from storelens.serving.manager import StoreManager
    from storelens.settings import worker_env

    # what the manager and the store workers get through `runtime_env`. Never the secret: Ray
    # logs runtime environments; the secret reaches Ray's processes only through the
    # environment they inherit (`start_service` sets it before a local Ray starts; a
    # cluster's nodes have it in the environment of `ray start`)
    env = dict(worker_env())
    return (
        serve.deployment(StoreManager)
        .options(
            name="manager",
            num_replicas=1,
            ray_actor_options={"num_cpus": config.manager_cpus, "runtime_env": {"env_vars": env}},
            logging_config={"enable_access_log": False, "log_level": "WARNING"},
        )
        .bind(config.model_dump_json(), DETECTOR_APP, env)
    )


def resolved(config: ServeConfig) -> ServeConfig:
    """The config with the database URL filled in (what replicas and workers receive)."""
    from storelens.settings import database_url

    return config.model_copy(update={"database_url": config.database_url or database_url()})


def serve_config(config: ServeConfig) -> dict:
    """The Serve config file (`ServeDeploySchema`) that deploys this service on a running Ray
    cluster (`serve run FILE`; `serve deploy FILE` where the cluster runs a dashboard): the HTTP
    proxy on `config.host:config.port`, the API at `/`, and with a `detector` the detector and
    the manager without a route. Each application is built on the cluster by a builder in
    `serving/serve_apps.py` from `args: {"config": ...}`, the config as given here; the API
    secret is never in it (the builders read `$STORELENS_API_SECRET` there), and a null
    `database_url` is resolved there too. Migrate the database first (`storelens db migrate`)."""

    def app(name: str, builder: str, route_prefix: str | None) -> dict:
        return {
            "name": name,
            "route_prefix": route_prefix,
            "import_path": f"storelens.serving.serve_apps:{builder}",
            "args": {"config": config.model_dump(mode="json")},  # a copy each: no YAML aliases
        }

    applications = [app(APP_NAME, "api", "/")]
    if config.detector is not None:
        applications += [app(DETECTOR_APP, "detector", None), app(MANAGER_APP, "manager", None)]
    return {
        "http_options": {"host": config.host, "port": config.port},
        "logging_config": {"enable_access_log": False},
        "applications": applications,
    }


def wait_ready(base: str, *, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/readyz", timeout=2)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as err:
            last = f"{type(err).__name__}"
        time.sleep(0.25)
    raise TimeoutError(f"{base}/readyz did not answer 200 within {timeout_s:.0f} s ({last})")


def start_service(config: ServeConfig, secret: str, *, quiet: bool = False) -> str:
    """Migrate, start Ray and Serve, deploy; the base URL once ready. `quiet` keeps Ray's and
    Serve's own log lines off this process's terminal (a demo's table stays readable)."""
    import ray
    from ray import serve

    from storelens.storage import Database
    from storelens.storage.keys import check_secret

    check_secret(secret)
    if ray.is_initialized() and os.environ.get(API_SECRET_ENV) != secret:
        raise RuntimeError(
            f"Ray was started before {API_SECRET_ENV} was set: its processes would not have "
            "the secret (set it before ray.init, or let start_service start Ray)"
        )
    os.environ[API_SECRET_ENV] = secret  # inherited by the local Ray's processes
    db = Database(config.database_url, schema=config.database_schema)
    db.migrate()
    db.close()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray runs its workers at nice 15 by default; an API replica sharing a machine with other
    # work would then answer last (on 2 cores: 13 ms instead of 9 ms for /healthz)
    os.environ.setdefault("RAY_worker_niceness", "0")
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS") or None,
            num_cpus=config.ray_cpus if not os.environ.get("RAY_ADDRESS") else None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=not quiet,
        )
    if quiet:
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
    serve.start(
        http_options={"host": config.host, "port": config.port},
        logging_config={"enable_access_log": False},
    )
    config = resolved(config)
    serve.run(api_application(config), name=APP_NAME, route_prefix="/")
    if config.detector is not None:
        serve.run(detector_app(config), name=DETECTOR_APP, route_prefix=None)
        serve.run(manager_app(config), name=MANAGER_APP, route_prefix=None)
    base = f"http://{config.host}:{config.port}"
    wait_ready(base)
    return base


def manager_handle():  # -> DeploymentHandle of the running manager
    from ray import serve

    return serve.get_deployment_handle("manager", app_name=MANAGER_APP)


def stop_service() -> None:
    import ray
    from ray import serve

    from storelens.serving.worker import stop_workers

    try:
        if ray.is_initialized():
            if MANAGER_APP in serve.status().applications:
                try:
                    manager_handle().stop_all.remote().result(timeout_s=120)
                except Exception:  # the manager is gone: its workers are ended below
                    log.warning("the store manager did not stop its workers", exc_info=True)
            stop_workers()  # any the manager did not know of (detached: they outlive Serve)
        serve.shutdown()
    finally:
        ray.shutdown()
