"""The API benchmark's load generator, run as its own process so it does not share the server's
interpreter: `python -m storelens.evaluation.bench.load_generator PLAN.json` prints one JSON
result per line of the plan.

Two kinds of load, both on one asyncio loop with one HTTP/1.1 connection pool (httpx):

- *closed loop* (`clients` = N): N clients each send a request as soon as their last answer
  came back, for `seconds`; the figure is answered requests per second;
- *open loop* (`rate` = R): requests leave on a fixed schedule, one every 1/R s, whether or not
  earlier ones were answered; each latency is measured from its scheduled send time, so a
  server that falls behind is charged for the queue it builds (no coordinated omission).

Every answer must be 2xx; any other is counted and reported, never timed as a success.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from pathlib import Path

import httpx
import numpy as np

T0 = 1_800_000_000.0


class Requests:
    """What each route's request is: the session list, one session (rotating ids), or one new
    POS transaction of three lines per request (unique ids, so each is a real insert)."""

    def __init__(self, store_id: str, session_ids: list[str], tag: str) -> None:
        self.store = store_id
        self.sessions = itertools.cycle(session_ids)
        self.tag = tag
        self.n = itertools.count()

    def make(self, route: str) -> tuple[str, str, dict | list | None]:
        base = f"/v1/stores/{self.store}"
        if route == "sessions":
            return "GET", f"{base}/sessions?limit=50", None
        if route == "session":
            return "GET", f"{base}/sessions/{next(self.sessions)}", None
        if route == "pos":
            i = next(self.n)
            txn = {
                "txn_id": f"{self.tag}-{i:07d}",
                "store_id": self.store,
                "terminal_id": f"pos-{1 + i % 4}",
                "t": T0 + i * 0.5,
                "lines": [
                    {"sku": f"SKU-{(i + k) % 90:03d}", "qty": 1, "unit_price": 2.5}
                    for k in range(3)
                ],
            }
            return "POST", f"{base}/pos", [txn]
        raise ValueError(f"route {route!r}: sessions, session or pos")


async def _one(client: httpx.AsyncClient, req: Requests, route: str) -> bool:
    method, url, body = req.make(route)
    try:
        answer = await client.request(method, url, json=body)
    except httpx.HTTPError:  # a timeout or a refused connection: a failed request
        return False
    return 200 <= answer.status_code < 300


async def closed_loop(client, req: Requests, route: str, clients: int, seconds: float) -> dict:
    stop_at = time.perf_counter() + seconds
    done = failed = 0

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < stop_at:
            if await _one(client, req, route):
                done += 1
            else:
                failed += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return {"per_s": done / elapsed, "failed": failed, "requests": done}


async def open_loop(client, req: Requests, route: str, rate: float, seconds: float) -> dict:
    n = int(rate * seconds)
    start = time.perf_counter() + 0.05
    latencies = np.full(n, np.nan)
    failed = 0

    async def send(i: int) -> None:
        nonlocal failed
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        ok = await _one(client, req, route)
        if ok:
            latencies[i] = time.perf_counter() - due
        else:
            failed += 1

    await asyncio.gather(*(send(i) for i in range(n)))
    done = latencies[np.isfinite(latencies)]
    elapsed = time.perf_counter() - start
    return {
        "p50_ms": float(np.percentile(done, 50) * 1e3) if len(done) else None,
        "p99_ms": float(np.percentile(done, 99) * 1e3) if len(done) else None,
        "achieved_per_s": len(done) / elapsed,
        "failed": failed,
        "requests": int(len(done)),
    }


async def run_plan(plan: dict) -> None:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {plan['key']}"}
    async with httpx.AsyncClient(
        base_url=plan["base"], headers=headers, limits=limits, timeout=10
    ) as client:
        for k, step in enumerate(plan["steps"]):
            req = Requests(plan["store_id"], plan["session_ids"], f"{plan['tag']}-{k}")
            if step.get("warmup_s"):
                await closed_loop(client, req, step["route"], 4, step["warmup_s"])
            if "clients" in step:
                out = await closed_loop(
                    client, req, step["route"], step["clients"], step["seconds"]
                )
            else:
                out = await open_loop(client, req, step["route"], step["rate"], step["seconds"])
            print(json.dumps({**step, **out}), flush=True)


def main(argv: list[str]) -> None:
    plan = json.loads(Path(argv[0]).read_text())
    asyncio.run(run_plan(plan))


if __name__ == "__main__":
    main(sys.argv[1:])
