"""Benchmark of the attribution API over HTTP: throughput with 1, 8 and 64 concurrent clients and
p50 / p99 latency at fixed request rates, for the session list, one session and POS ingestion,
on SQLite and PostgreSQL, under Ray Serve and beside a bare uvicorn run of the same app.

Protocol:
- the database holds one attributed simulated store (the `theft` scenario, `DURATION_S` of
  trading, seed 7): its sessions, shelf events, baskets and alerts;
- the servers: `storelens serve` (Ray Serve, one API replica, webhook dispatch off) and
  `storelens api` (uvicorn, one process), each started on its own, alone on the machine, with
  per-key rate limits lifted; both run the same `create_app`;
- the load generator is a second process (`load_generator.py`, one asyncio loop, keep-alive
  connections on loopback); closed loop: `clients` clients send as fast as answers return, for
  `CLOSED_S`; open loop: one request every 1/rate s for `OPEN_S`, latency measured from each
  request's scheduled time (a server that falls behind is charged for its queue);
- routes: `GET …/sessions?limit=50` (a page of sessions), `GET …/sessions/{id}` (one session
  with its basket, path and evidence list; rotating ids; each view also appends an audit row,
  as in production), `POST …/pos` (one new three-line transaction per request);
- every figure is the median of `REPEATS` passes after a warm-up, with the spread over passes;
  a request that does not answer 2xx is counted as failed and reported in the row's size;
- on 2 cores the load generator and the server share the CPU: the figures are a floor for a
  machine where they do not. PostgreSQL rows appear where PostgreSQL answers at
  `$STORELENS_BENCH_POSTGRES_URL` (default `postgresql+psycopg://postgres@127.0.0.1:5432/test`).

Goal (the issue's): p99 ≤ 25 ms at 100 requests/s for reads on both back ends.
The page `docs/benchmarks/api.md` and its CSV are written by this suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

from storelens.evaluation.bench.rows import BenchRow

DURATION_S = 1800
CLIENTS = (1, 8, 64)
RATES = (100, 300)
CLOSED_S = 4.0
OPEN_S = 5.0
REPEATS = 3
WARMUP_S = 2.0
ROUTES = ("sessions", "session", "pos")
SECRET = "bench-secret-" + "x" * 32
STORE = "demo-store"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(db, tmp: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Simulate and attribute a store, save it; the session ids."""
    from storelens.configs import builtin_store
    from storelens.datasets.sim.scenario import load_scenario
    from storelens.datasets.sim.truth import read_truth
    from storelens.datasets.sim_cache import cached_simulation
    from storelens.evaluation.attribution_runner import attribute_run
    from storelens.records import Session, ShelfEvent
    from storelens.storage import save_records

    run = tmp.parent / "store-run"
    scenario = load_scenario("theft").with_overrides(duration_s=DURATION_S)
    cached_simulation(builtin_store(), scenario, 7, run, render=False, show_progress=False)
    result = attribute_run(run, run / "attribution").result
    truth = read_truth(run)

    def core(model, recs):  # type: ignore[no-untyped-def]
        return [model.model_validate(r.model_dump(include=set(model.model_fields))) for r in recs]

    sessions = core(Session, truth["sessions.jsonl"])
    save_records(
        db,
        [
            *sessions,
            *core(ShelfEvent, truth["events.jsonl"]),
            *result.baskets.values(),
            *(a for alerts in result.alerts.values() for a in alerts),
        ],
    )
    return [s.session_id for s in sessions]


def _wait_ready(base: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{' '.join(map(str, proc.args))}: not ready at {base} in {timeout_s:.0f} s")


def _start(kind: str, url: str, schema: str | None, tmp: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    exe = str(Path(sys.executable).with_name("storelens"))
    env = {**os.environ, "STORELENS_API_SECRET": SECRET}
    if kind == "Ray Serve":
        import yaml

        cfg = tmp / f"serve-{port}.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "database_url": url,
                    "database_schema": schema,
                    "port": port,
                    "ray_cpus": 2,
                    "rate_per_s": 1e6,
                    "burst": 10**6,
                    "webhooks": {"dispatch": False},
                }
            )
        )
        cmd = [exe, "serve", "--config", str(cfg)]
    else:
        cmd = [exe, "api", "--url", url, "--port", str(port), "--rate-per-s", "1e6"]
        cmd += ["--burst", str(10**6)] + (["--schema", schema] if schema else [])
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
    except TimeoutError:
        _stop(proc)
        raise
    return proc, base


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _plan(base: str, key: str, session_ids: list[str], tag: str) -> dict:
    steps = []
    for route in ROUTES:
        for p in range(REPEATS):
            warm = WARMUP_S if p == 0 else 0
            for n in CLIENTS:
                steps.append({"route": route, "clients": n, "seconds": CLOSED_S, "warmup_s": warm})
                warm = 0
            for rate in RATES:
                steps.append({"route": route, "rate": rate, "seconds": OPEN_S})
    return {
        "base": base,
        "key": key,
        "store_id": STORE,
        "session_ids": session_ids,
        "tag": tag,
        "steps": steps,
    }


def _generate(plan: dict, tmp: Path, progress) -> list[dict]:  # type: ignore[no-untyped-def]
    path = tmp / f"plan-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(plan))
    cmd = [sys.executable, "-m", "storelens.evaluation.bench.load_generator", str(path)]
    out = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(json.loads(line))
            progress(f"api: step {len(out)}/{len(plan['steps'])}: {line.strip()}")
    if proc.returncode:
        raise RuntimeError(f"the load generator failed (exit {proc.returncode})")
    return out


def _rows(results: list[dict], backend: str, server: str) -> list[BenchRow]:
    rows = []
    label = {
        "sessions": "GET sessions (page of 50)",
        "session": "GET one session",
        "pos": "POST pos (1 txn)",
    }
    impl = f"{server}, {backend}"
    for route in ROUTES:
        mine = [r for r in results if r["route"] == route]
        for n in CLIENTS:
            got = [r for r in mine if r.get("clients") == n]
            rates = np.array([r["per_s"] for r in got])
            failed = sum(r["failed"] for r in got)
            rows.append(
                BenchRow(
                    "api",
                    f"{label[route]}: throughput, {n} client{'s' if n > 1 else ''}",
                    impl,
                    f"{CLOSED_S:g} s x {len(got)}" + (f", {failed} failed" if failed else ""),
                    float(np.median(rates)),
                    "requests / s",
                    float(rates.min()),
                    float(rates.max()),
                )
            )
        for rate in RATES:
            got = [r for r in mine if r.get("rate") == rate]
            failed = sum(r["failed"] for r in got)
            achieved = float(np.median([r["achieved_per_s"] for r in got]))
            size = f"{OPEN_S:g} s x {len(got)}, {achieved:.0f} answered / s"
            size += f", {failed} failed" if failed else ""
            for q in ("p50", "p99"):
                vals = np.array([r[f"{q}_ms"] for r in got if r[f"{q}_ms"] is not None])
                if not len(vals):
                    continue
                rows.append(
                    BenchRow(
                        "api",
                        f"{label[route]}: {q} at {rate} requests / s",
                        impl,
                        size,
                        float(np.median(vals)),
                        "ms",
                        float(vals.min()),
                        float(vals.max()),
                    )
                )
    return rows


def api_suite(page: Path | None = None, progress=None) -> list[BenchRow]:  # type: ignore[no-untyped-def]
    from storelens.evaluation.bench.pages import write_page
    from storelens.evaluation.bench.storage import _backends
    from storelens.settings import runs_dir
    from storelens.storage import Database
    from storelens.storage.keys import create_key

    progress = progress or (lambda *a: None)
    tmp = runs_dir() / "bench" / "api" / uuid.uuid4().hex[:8]
    tmp.mkdir(parents=True, exist_ok=True)
    rows: list[BenchRow] = []
    for backend, url, schema in _backends(tmp):
        db = Database(url, schema=schema)
        db.migrate()
        try:
            progress(f"api: filling {backend}")
            session_ids = _fill(db, tmp)
            key = create_key(db, secret=SECRET, store_id=STORE)[1]
            if db.dialect == "postgresql":
                from storelens.evaluation.bench.storage import _analyze

                _analyze(db)
            for server in ("Ray Serve", "uvicorn"):
                progress(f"api: {server} on {backend}")
                proc, base = _start(server, url, schema, tmp)
                try:
                    plan = _plan(base, key, session_ids, f"{server[:3]}{backend[:2]}")
                    rows += _rows(_generate(plan, tmp, progress), backend, server)
                finally:
                    _stop(proc)
        finally:
            if schema:
                db.drop_schema()
            db.close()
    write_page("api", rows, __doc__ or "", page)
    return rows
