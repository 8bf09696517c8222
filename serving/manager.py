"""`StoreManager`: the one-replica Serve deployment that keeps a worker running for every store
that has cameras, and none for a store that has none.

Every `reconcile_every_s` it compares the stores of the serve config whose cameras are
registered in the database (`PUT /v1/stores/{id}/cameras/{camera}`) with the workers alive in
the cluster: it starts a missing worker, tells a running one to pick up changed cameras, and
stops (with a flush) the worker of a store whose cameras were all removed. A manager that
restarts adopts the workers it finds by name. Actor handles are cached: `ray.get_actor` is a
blocking lookup that never runs per request.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from storelens.serving.config import ServeConfig
from storelens.storage.cameras import redact_text

log = logging.getLogger(__name__)


class StoreManager:
    """Serve deployment class (see the module docstring)."""

    def __init__(self, config_json: str, detector_app: str | None, env: dict[str, str]) -> None:
        from storelens.storage import Database

        self.config = ServeConfig.model_validate_json(config_json)
        self.detector_app = detector_app
        self.env = env
        self.db = Database(self.config.database_url, schema=self.config.database_schema)
        self.workers: dict[str, Any] = {}
        self.cameras: dict[str, tuple[str, ...]] = {}  # store -> camera@registered_t
        self.last_error = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="store-manager", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception as err:  # the next round tries again
                self.last_error = redact_text(f"{type(err).__name__}: {err}")[:500]
                log.exception("reconcile")
            self._stop.wait(self.config.reconcile_every_s)

    def reconcile(self) -> dict[str, list[str]]:
        """One round; returns what it did (started, synced, stopped store ids)."""
        from storelens.serving.worker import running_workers, start_worker, stop_worker
        from storelens.storage.cameras import list_cameras

        with self._lock:
            if self._stop.is_set():  # stop_all ran: start nothing again
                return {"started": [], "synced": [], "stopped": []}
            wanted: dict[str, tuple[str, ...]] = {}
            with self.db.read() as conn:
                for store_id in self.config.stores:
                    # a re-registered camera (a new URI) has a new created_t: the worker syncs
                    cams = tuple(
                        f"{c.camera_id}@{c.created_t!r}" for c in list_cameras(conn, store_id)
                    )
                    if cams:
                        wanted[store_id] = cams
            if not self.workers:
                self.workers = running_workers()  # adopt what a previous manager started
            done: dict[str, list[str]] = {"started": [], "synced": [], "stopped": []}
            for store_id in sorted(set(self.workers) - set(wanted)):
                stop_worker(self.workers.pop(store_id))
                self.cameras.pop(store_id, None)
                done["stopped"].append(store_id)
            for store_id, cams in sorted(wanted.items()):
                if store_id not in self.workers:
                    self.workers[store_id] = start_worker(
                        self.config, store_id, self.env, self.detector_app
                    )
                    done["started"].append(store_id)
                elif self.cameras.get(store_id) != cams:
                    self.workers[store_id].sync_cameras.remote()
                    done["synced"].append(store_id)
                self.cameras[store_id] = cams
            return done

    async def status(self) -> dict[str, Any]:
        """Every worker's status (a worker that does not answer in 10 s is reported so)."""
        import asyncio

        out: dict[str, Any] = {}
        for store_id, handle in list(self.workers.items()):
            try:
                out[store_id] = await asyncio.wait_for(handle.status.remote(), timeout=10)
            except Exception as err:
                out[store_id] = {"error": redact_text(f"{type(err).__name__}: {err}")[:300]}
        return {"workers": out, "last_error": self.last_error}

    def stop_all(self) -> dict[str, Any]:
        """Stop every worker with a flush (before `serve.shutdown()`, which would not); the
        workers stop in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        from storelens.serving.worker import stop_worker

        self._stop.set()
        with self._lock:
            handles = dict(self.workers)
            self.workers = {}
        with ThreadPoolExecutor(max_workers=max(1, len(handles))) as pool:
            done = {s: pool.submit(stop_worker, h) for s, h in handles.items()}
        return {s: f.result() for s, f in done.items()}
