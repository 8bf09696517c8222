"""`StoreWorker`: the Ray actor that runs one store's live pipeline (`StoreRuntime`) in a loop.

One named, detached actor per store (`worker_name(store_id)` in namespace `storelens`), with
`max_restarts=-1`: Ray restarts a worker that dies (a crash, `kill -9`, a lost node) by calling
its constructor again with the same arguments, and the runtime resumes from its checkpoint.
It is an actor, not a Serve replica, on purpose: Serve's routing gives no affinity (a store's
tracker state must live in one process), and Serve's autoscaler does not see work done in a
replica's background loop. Detached actors outlive `serve.shutdown()`, so whoever starts them
stops them: the manager (`storelens.serving.manager`) or `stop_workers()`.

Frames go to the detector deployment through a Serve handle (batched there across every
stream of every store); `detector=None` runs the same ONNX model in the worker's own process
(tests, a machine without Serve).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from storelens.serving.config import ServeConfig
from storelens.settings import API_SECRET_ENV
from storelens.storage.cameras import redact_text

log = logging.getLogger(__name__)
NAMESPACE = "storelens"
WORKER_PREFIX = "store-worker:"


def worker_name(store_id: str) -> str:
    return f"{WORKER_PREFIX}{store_id}"


def serve_detect(app_name: str, deployment: str = "detector"):  # type: ignore[no-untyped-def]
    """A detect function that sends one letterboxed frame to the Serve detector deployment
    and gives its answer as `DetectedBoxes`, like `local_detect`."""
    from ray import serve

    from storelens.serving.frame_steps import DetectedBoxes

    handle = serve.get_deployment_handle(deployment, app_name=app_name)

    def detect(boxed):  # type: ignore[no-untyped-def]
        a = handle.remote(boxed).result(timeout_s=60)
        return DetectedBoxes(a.xyxy, a.confidence, a.class_id, str(a.model_version or ""))

    return detect


def local_detect(model: str, imgsz: int, conf: float, threads: int = 1):  # type: ignore[no-untyped-def]
    """The same detector in this process (no batching across stores)."""
    from storelens.inference.onnx_detector import OnnxDetector
    from storelens.serving.frame_steps import DetectedBoxes

    detector = OnnxDetector(model, imgsz=imgsz, conf=conf, threads=threads)
    lock = threading.Lock()

    def detect(boxed):  # type: ignore[no-untyped-def]
        with lock:
            ((xyxy, score, cls),) = detector.detect_letterboxed(boxed.tensor[None])
        return DetectedBoxes(boxed.unletterbox(xyxy), score, cls, detector.model_version)

    return detect


class StoreWorkerLoop:
    """The loop around a `StoreRuntime`: ticks in a thread until stopped (after a finite
    recording ends it goes on attributing what the store posts). Ray calls the actor's methods
    on another thread: every touch of the runtime holds `_lock`. The Ray actor below is this
    class under `ray.remote`; tests may run it in-process."""

    def __init__(self, store_id: str, config_json: str, detector_app: str | None) -> None:
        from storelens.serving.store_runtime import StoreRuntime
        from storelens.settings import runs_dir
        from storelens.storage import Database

        config = ServeConfig.model_validate_json(config_json)
        if store_id not in config.stores:
            raise ValueError(f"store {store_id!r} is not in the serve config's stores")
        if config.detector is None:
            raise ValueError("the serve config has no detector: the live path needs one")
        settings = config.stores[store_id]
        secret = os.environ[API_SECRET_ENV]
        self.db = Database(config.database_url, schema=config.database_schema)
        detect = (
            serve_detect(detector_app)
            if detector_app
            else local_detect(
                config.detector.model,
                config.detector.imgsz,
                config.detector.conf,
                config.detector.threads,
            )
        )
        state_dir = (config.state_dir or runs_dir() / "serve") / store_id
        self.runtime = StoreRuntime(
            store_id,
            settings,
            db=self.db,
            secret=secret,
            detect=detect,
            state_dir=state_dir,
            imgsz=config.detector.imgsz,
            worker=f"{worker_name(store_id)} pid {os.getpid()}",
        )
        self.started_t = time.time()
        self.errors = 0
        self.last_error = ""
        self._sync = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"store-{store_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        runtime = self.runtime
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._sync.is_set():
                        self._sync.clear()
                        runtime.sync_cameras()
                    stepped = runtime.tick()
                if not stepped:
                    time.sleep(runtime.timings.interval_s)
            except Exception as err:  # a database hiccup must not end the store; it retries
                self.errors += 1
                self.last_error = redact_text(f"{type(err).__name__}: {err}")[:500]
                log.exception("store %s", runtime.store_id)
                time.sleep(1.0)

    def sync_cameras(self) -> None:
        """Ask the loop to pick up cameras registered or removed since."""
        self._sync.set()

    def status(self) -> dict[str, Any]:
        with self._lock:
            runtime = self.runtime.status()
        return {
            **runtime,
            "errors": self.errors,
            "last_error": self.last_error,
            "alive": self._thread.is_alive(),
        }

    def pid(self) -> int:
        return os.getpid()

    def stop(self) -> dict[str, Any]:
        """Stop the loop, close the streams and flush everything held (a clean stop)."""
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:  # a loop still inside a tick finishes it first
            self.runtime.close()
        return self.status()


def worker_actor_options(config: ServeConfig, store_id: str, env: dict[str, str]) -> dict:
    return {
        "name": worker_name(store_id),
        "namespace": NAMESPACE,
        "lifetime": "detached",
        "get_if_exists": True,  # a restarted manager adopts the worker it finds by name
        "max_restarts": -1,
        "max_task_retries": 3,
        "num_cpus": config.worker_cpus,
        "runtime_env": {"env_vars": env},
    }


def start_worker(config: ServeConfig, store_id: str, env: dict[str, str], detector_app: str | None):  # type: ignore[no-untyped-def]
    """The store's worker actor, started if it is not running (adopted if it is)."""
    import ray

    actor = ray.remote(StoreWorkerLoop)
    return actor.options(**worker_actor_options(config, store_id, env)).remote(
        store_id, config.model_dump_json(), detector_app
    )


def running_workers() -> dict[str, Any]:
    """Store id → handle of every store worker alive in the cluster."""
    import ray

    out = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == NAMESPACE and entry["name"].startswith(WORKER_PREFIX):
            store = entry["name"][len(WORKER_PREFIX) :]
            try:
                out[store] = ray.get_actor(entry["name"], namespace=NAMESPACE)
            except ValueError:  # gone between the listing and the lookup
                continue
    return out


def stop_worker(handle, timeout_s: float = 60.0) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """Stop with a flush, then end the actor for good (no restart)."""
    import ray

    final = None
    try:
        final = ray.get(handle.stop.remote(), timeout=timeout_s)
    except Exception:  # a worker that cannot flush is still ended; its checkpoint remains
        log.exception("stopping a store worker")
    ray.kill(handle, no_restart=True)
    return final


def stop_workers(timeout_s: float = 60.0) -> dict[str, dict[str, Any] | None]:
    """Stop every store worker (each flushes first)."""
    return {store: stop_worker(h, timeout_s) for store, h in running_workers().items()}
