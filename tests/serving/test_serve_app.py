"""The attribution API as users run it: `storelens serve --config FILE` in its own process
(local Ray Serve), a real database (SQLite and PostgreSQL), HTTP on loopback. A backend walks
the attributed sessions page by page, a key of one store is refused on another for every
store-scoped route, webhooks reach a receiver that was down, and a restart of the service loses
nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from storelens.serving.webhooks import endpoint_secret
from storelens.storage import Database, save_records
from storelens.storage.keys import create_key
from storelens.storage.tables import PosTransactionRow

pytestmark = pytest.mark.slow
SECRET = "r" * 40
STORE = "demo-store"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`storelens serve --config` in a child process; `start()` returns once it printed READY."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.env = {**os.environ, "STORELENS_API_SECRET": SECRET}
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("storelens")),
                "serve",
                "--config",
                str(self.config),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        seen = []
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            seen.append(line)
            if line.startswith("READY "):
                self.base = line.split()[1]
                threading.Thread(  # keep reading, so a chatty child never blocks on the pipe
                    target=self.proc.stderr.read, daemon=True
                ).start()
                return self.base
        self.stop()
        raise AssertionError("storelens serve did not come up:\n" + "".join(seen[-30:]))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def lite(tmp_path):
    """SQLite for the end-to-end walk (the restart test runs on both back ends)."""
    database = Database(f"sqlite:///{tmp_path / 'serve.db'}")
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def service(lite, store_run, tmp_path):
    return _service(lite, store_run, tmp_path)


def _service(db, store_run, tmp_path, **extra):
    save_records(
        db, [*store_run.sessions, *store_run.events, *store_run.baskets, *store_run.alerts]
    )
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "database_url": db.url.render_as_string(hide_password=False),
                "database_schema": db.schema,
                "port": _free_port(),
                "ray_cpus": 2,
                "replicas": 1,
                "webhooks": {"allow_private": True, "interval_s": 0.2, "backoff_base_s": 0.2},
                **extra,
            }
        )
    )
    return Service(cfg)


def _valid_body(method: str, path: str):
    """A body the route would take, so only the key's scope can refuse it."""
    if method not in ("post", "put"):
        return None
    if path.endswith("/reviews"):
        return {"verdict": "reviewed", "reason": "checked the footage"}
    if path.endswith("/webhooks"):
        return {"url": "https://93.184.216.34/hook"}
    if "/cameras/" in path:
        return {"camera_id": "cam-1", "stream_uri": "rtsp://10.0.0.5/live"}
    return []


def _keys(db):
    return {
        "reviewer": create_key(db, secret=SECRET, store_id=STORE)[1],
        "other": create_key(db, secret=SECRET, store_id="other-store")[1],
        "admin": create_key(db, secret=SECRET, store_id=None)[1],
    }


def _h(key):
    return {"Authorization": f"Bearer {key}"}


def test_a_backend_walks_sessions_and_no_key_reaches_another_store(service, lite, store_run):
    keys = _keys(lite)
    base = service.start()
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/readyz").json()["status"] == "ready"
            seen, cursor = [], None
            while True:
                params = {"limit": 25, **({"cursor": cursor} if cursor else {})}
                page = c.get(
                    f"/v1/stores/{STORE}/sessions", headers=_h(keys["reviewer"]), params=params
                ).json()
                seen += [s["session_id"] for s in page["items"]]
                if not (cursor := page["next_cursor"]):
                    break
            assert sorted(seen) == sorted(s.session_id for s in store_run.sessions)
            one = c.get(f"/v1/stores/{STORE}/sessions/{seen[0]}", headers=_h(keys["reviewer"]))
            assert one.status_code == 200 and one.json()["session"]["session_id"] == seen[0]
            ids = {
                "store_id": STORE,
                "session_id": seen[0],
                "event_id": store_run.events[0].event_id,
                "endpoint_id": "whe_0",
                "evidence_no": "1",
                "camera_id": "cam-1",
            }
            schema = c.get("/openapi.json").json()
            checked = 0
            for path, ops in schema["paths"].items():
                if "{store_id}" not in path:
                    continue
                url = path
                for name, value in ids.items():
                    url = url.replace(f"{{{name}}}", value)
                for method in ops:
                    answer = c.request(
                        method.upper(),
                        url,
                        headers=_h(keys["other"]),
                        json=_valid_body(method, path),
                    )
                    assert answer.status_code == 404, (method, path, answer.text)
                    checked += 1
            assert checked >= 15
            assert "storelens_api_request" in c.get("/metrics").text
    finally:
        service.stop()


def test_a_restart_loses_nothing_acknowledged_and_webhooks_arrive_after_it(
    db, store_run, tmp_path, make_receiver
):
    _restart_case(db, store_run, tmp_path, make_receiver)


def _restart_case(db, store_run, tmp_path, make_receiver):
    from storelens.records import Session
    from storelens.storage.derived import count_rows

    keys = _keys(db)
    svc = _service(db, store_run, tmp_path)
    receiver = make_receiver()
    port = receiver.server.server_port
    receiver.close()  # the receiver is down from the start
    batch = [r.model_dump(mode="json") for r in store_run.pos[:40]]
    base = svc.start()
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            made = c.post(
                f"/v1/stores/{STORE}/webhooks",
                headers=_h(keys["admin"]),
                json={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["session.closed"]},
            )
            assert made.status_code == 201, made.text
            endpoint = made.json()["endpoint_id"]
            ack = c.post(f"/v1/stores/{STORE}/pos", headers=_h(keys["reviewer"]), json=batch)
            unique = len({r["txn_id"] for r in batch})  # the registers resend some
            assert ack.status_code == 200 and len(ack.json()["stored"]) == unique
            t0 = max(s.exit_t or s.enter_t for s in store_run.sessions)
            fresh = [
                Session(
                    store_id=STORE, shopper_ids=[f"late-{i}"], enter_t=t0 + i, exit_t=t0 + i + 60
                )
                for i in range(3)
            ]
            save_records(db, fresh)  # announced while the receiver is down
            time.sleep(1.0)  # the dispatcher tries, fails and backs off
    finally:
        svc.stop()
    up = make_receiver(endpoint_secret(SECRET, endpoint), port=port)
    base = svc.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(up.events) < len(fresh):
            time.sleep(0.2)
        assert sorted(e["session_id"] for e in up.events) == sorted(s.session_id for s in fresh)
        assert up.bad_signatures == 0
        with httpx.Client(base_url=base, timeout=10) as c:
            again = c.post(f"/v1/stores/{STORE}/pos", headers=_h(keys["reviewer"]), json=batch)
            assert again.status_code == 200, again.text
            assert again.json()["stored"] == [] and len(again.json()["already_stored"]) == unique
        assert count_rows(db, PosTransactionRow.__table__) == unique
    finally:
        svc.stop()
