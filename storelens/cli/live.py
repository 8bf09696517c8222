"""`storelens demo`'s live path: a simulated store streamed into the running service as a
real store would stream it.

`run_live_demo(sim_dir, out_dir)`:

1. serves every camera's video as an RTSP stream from a local GStreamer RTSP server, replayed
   at `rate` x real time (two cores cannot detect six 10 fps cameras in real time; the frames
   are stamped with the simulation's clock, shifted to now, so what is printed means the same
   as offline) — or, where no RTSP server can run, reads the files through the same ingest;
2. starts the service (`start_service`: the API, the detector deployment, the store manager)
   on a SQLite database of its own, and registers the cameras over the API, as an integrator
   would; the manager starts the store's worker;
3. posts the simulation's POS transactions and RFID reads over the API when the store's clock
   passes their times, as the registers and the gate would;
4. waits for the recording to end and the sessions to close, reads the baskets back from the
   API and scores them against the ground truth;
5. draws the tracks on one camera's video and the shoppers' paths on the floor plan.

Shelf events and sessions come from the simulation's ground truth (`TruthFeed`) until the
events and shoppers stages exist: the accuracy printed measures attribution through the live
service (joins with POS and RFID posted live, storage, the API), not perception.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def truth_bundle(sim_dir: str | Path, out_dir: str | Path) -> Path:
    """The simulated run's true sessions, events, floor paths and tag registry as the truth
    bundle a store worker replays (`storelens.serving.truth_feed`)."""
    from storelens.attribution.paths import FloorPaths
    from storelens.datasets.sim.paths import FLOOR_PATHS_FILE
    from storelens.datasets.sim.truth import read_truth
    from storelens.serving.truth_feed import write_truth_bundle

    sim = Path(sim_dir)
    truth = read_truth(sim)
    paths = FloorPaths.load(sim / FLOOR_PATHS_FILE) if (sim / FLOOR_PATHS_FILE).is_file() else None
    tags = {u.epc: u.sku for u in truth["units.jsonl"] if u.epc}  # type: ignore[attr-defined]
    return write_truth_bundle(
        out_dir,
        truth["sessions.jsonl"],  # type: ignore[arg-type]
        truth["events.jsonl"],  # type: ignore[arg-type]
        paths,
        tags,
    )


@dataclass
class LiveDemoResult:
    base: str
    key: str
    transport: str  # "rtsp" or "file"
    sessions: list[dict[str, Any]]
    truth: dict[str, Any]  # session id -> expected lines
    metrics: Any  # AttributionMetrics
    status: dict[str, Any]
    wall_s: float
    config: Any = None  # the ServeConfig it ran
    rtsp_pid: int | None = None
    outputs: dict[str, Path] = field(default_factory=dict)


class _Poster(threading.Thread):
    """Posts POS and RFID records over the API as the store's clock passes their times."""

    def __init__(self, client, base: str, pos: list, rfid: list, clock) -> None:  # type: ignore[no-untyped-def]
        super().__init__(name="demo-poster", daemon=True)
        self.client, self.base, self.clock = client, base, clock
        self.queue = sorted(
            [("pos", p.t, p) for p in pos] + [("rfid", r.t, r) for r in rfid], key=lambda x: x[1]
        )
        self.posted = {"pos": 0, "rfid": 0}
        self.errors: list[str] = []
        self.stop = threading.Event()

    def post_until(self, t: float) -> None:
        """Post what is due; a record leaves the queue only once the API stored it (a retry
        of a batch stored before stores nothing twice)."""
        import httpx

        for kind in ("pos", "rfid"):
            due = [x for x in self.queue if x[0] == kind and x[1] <= t]
            if not due:
                continue
            try:
                answer = self.client.post(
                    f"{self.base}/{kind}", json=[r.model_dump(mode="json") for _, _, r in due]
                )
            except httpx.HTTPError as err:  # tried again on the next round
                self.errors.append(f"{kind}: {type(err).__name__}: {err}")
                continue
            if answer.status_code != 200:
                self.errors.append(f"{kind}: HTTP {answer.status_code} {answer.text[:300]}")
                continue
            sent = {id(x) for x in due}
            self.queue = [x for x in self.queue if id(x) not in sent]
            self.posted[kind] += len(due)

    def run(self) -> None:
        while not self.stop.is_set() and self.queue:
            try:
                t = self.clock()
            except Exception as err:  # the manager busy or restarting: ask again
                self.errors.append(f"clock: {type(err).__name__}: {err}")
                t = None
            if t is not None:
                self.post_until(t)
            self.stop.wait(0.5)


def run_live_demo(
    sim_dir: str | Path,
    out_dir: str | Path,
    *,
    rate: float = 0.5,
    sample_fps: float = 5.0,
    detector_model: str = "shipped",
    force_files: bool = False,
    keep_serving: Callable[[str, str], None] | None = None,
    progress: Callable[[dict[str, Any], Any], None] | None = None,
    timeout_s: float = 1800.0,
    quiet: bool = False,
) -> LiveDemoResult:
    """See the module docstring. `keep_serving(base, key)` is called with the service still up
    (it returns when the user is done); `progress(status, config)` about once a second."""
    import httpx
    import numpy as np

    from storelens.datasets.recording import StoreRecording
    from storelens.datasets.sim.truth import read_truth
    from storelens.layout import StoreLayout
    from storelens.serving.config import (
        ClockSettings,
        DetectorSettings,
        ServeConfig,
        StoreSettings,
    )
    from storelens.serving.deployment import manager_handle, start_service, stop_service
    from storelens.serving.rtsp_server import RtspServer, free_port, rtsp_server_problem
    from storelens.storage import Database
    from storelens.storage.keys import create_key

    started = time.monotonic()
    sim, out = Path(sim_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recording = StoreRecording(sim)
    layout = StoreLayout.from_yaml(sim / "store.yaml")
    cameras = recording.camera_ids
    times = {c: recording.frame_times(c)[0] for c in cameras}
    origin = float(min(t[0] for t in times.values()))
    last = float(max(t[-1] for t in times.values()))
    offset = float(np.floor(time.time() - origin))  # replay the recording as if it were now
    problem = None if not force_files else "files asked for"
    if problem is None:
        problem = rtsp_server_problem()
    scale = rate if problem is None else 1.0  # a file is paced by its own timestamps
    db_path = out / "live.db"
    for stale in (db_path, out / "state", out / "truth"):
        _remove(stale)
    bundle = truth_bundle(sim, out / "truth")
    from storelens.config import load_config
    from storelens.configs import builtin_config

    shipped = load_config(builtin_config("serve", "local.yaml"), ServeConfig, allow_empty=True)
    config = shipped.model_copy(
        update={
            "database_url": f"sqlite:///{db_path}",
            "port": free_port(),
            "detector": (shipped.detector or DetectorSettings()).model_copy(
                update={"model": detector_model}
            ),
            "stores": {
                layout.store_id: StoreSettings(
                    layout=sim / "store.yaml",
                    sample_fps=sample_fps,
                    clock=ClockSettings(kind="stream", origin_t=origin + offset, scale=scale),
                    truth=bundle,
                    truth_offset_s=offset,
                    end_t=last + offset,
                )
            },
            "state_dir": out / "state",
            "reconcile_every_s": 1.0,
        }
    )
    secret = secrets.token_hex(32)
    server = None
    service_up = False
    try:
        if problem is None:
            server = RtspServer({c: recording.video(c) for c in cameras}, rate=rate).start()
            uris = {c: server.url(c) for c in cameras}
        else:
            uris = {c: recording.video(c).resolve().as_uri() for c in cameras}
        service_up = True  # from here on Ray may be up, even if start_service fails half-way
        base = start_service(config, secret, quiet=quiet)
        db = Database(config.database_url)
        _, key = create_key(db, secret=secret, store_id=None, label="demo")
        db.close()
        api = f"{base}/v1/stores/{layout.store_id}"
        client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30)
        for camera in cameras:
            answer = client.put(
                f"{api}/cameras/{camera}",
                json={"camera_id": camera, "stream_uri": uris[camera], "fps": 10.0},
            )
            answer.raise_for_status()
        manager = manager_handle()
        latest: dict[str, Any] = {}

        def clock() -> float | None:
            status = manager.status.remote().result(timeout_s=15)
            worker = status["workers"].get(layout.store_id) or {}
            latest.clear()
            latest.update(worker)
            t = worker.get("clock_t")
            return None if t is None or not np.isfinite(t) else float(t)

        truth = read_truth(sim)
        shifted_pos = [p.model_copy(update={"t": p.t + offset}) for p in truth["pos.jsonl"]]
        shifted_rfid = [r.model_copy(update={"t": r.t + offset}) for r in truth["rfid.jsonl"]]
        poster = _Poster(client, api, shifted_pos, shifted_rfid, clock)
        poster.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if progress and latest:
                progress(dict(latest), config)
            if latest.get("finished"):
                break
            if not poster.is_alive():
                clock()
        else:
            raise TimeoutError(f"the store worker did not finish within {timeout_s:.0f} s")
        poster.stop.set()
        poster.join(timeout=10)
        poster.post_until(np.inf)  # what the registers ring up after the last frame
        time.sleep(3.0)  # one attribution round after the last input
        sessions = _sessions(client, api)
        status = manager.status.remote().result(timeout_s=15)["workers"][layout.store_id]
        result = LiveDemoResult(
            base=base,
            key=key,
            transport="file" if server is None else "rtsp",
            sessions=sessions,
            truth={s.session_id: s for s in truth["sessions.jsonl"]},
            metrics=_score(truth["sessions.jsonl"], sessions),
            status=status,
            wall_s=time.monotonic() - started,
            config=config,
            rtsp_pid=None if server is None else server.pid,
        )
        result.outputs = _pictures(layout, recording, out, config, sessions, offset)
        result.outputs["result"] = out / "result.json"
        result.outputs["result"].write_text(
            json.dumps(
                {
                    "transport": result.transport,
                    "rate": rate,
                    "sample_fps": sample_fps,
                    "cameras": len(cameras),
                    "wall_s": round(result.wall_s, 1),
                    "metrics": result.metrics.as_dict(),
                    "status": status,
                },
                indent=1,
                default=str,
            )
        )
        if poster.queue:
            raise RuntimeError(
                f"{len(poster.queue)} of the store's records could not be posted: "
                f"{poster.errors[-3:]}"
            )
        if keep_serving is not None:
            keep_serving(base, key)
        return result
    finally:
        try:
            if service_up:
                stop_service()
        finally:
            if server is not None:
                server.stop()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _sessions(client, api: str) -> list[dict[str, Any]]:
    """Every session of the store with its basket, through the API (cursor pages)."""
    out, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{api}/sessions", params=params)
        page.raise_for_status()
        body = page.json()
        for item in body["items"]:
            detail = client.get(f"{api}/sessions/{item['session_id']}")
            detail.raise_for_status()
            out.append(detail.json())
        cursor = body.get("next_cursor")
        if not cursor:
            return out


def _score(truth_sessions: list, sessions: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """The offline scorer (`score_attribution`) over the basket lines and alerts the API
    returned (the POS and RFID join figures need the worker's internals: not scored here)."""
    from types import SimpleNamespace

    from storelens.attribution.attribute import AttributionResult
    from storelens.evaluation.attribution_metrics import score_attribution
    from storelens.records import LineStatus

    baskets, alerts = {}, {}
    for s in sessions:
        sid = s["session"]["session_id"]
        if s.get("basket_id"):
            lines = [
                SimpleNamespace(sku=ln["sku"], qty=ln["qty"], status=LineStatus(ln["status"]))
                for ln in s["lines"]
            ]
            baskets[sid] = SimpleNamespace(lines=lines)
        alerts[sid] = [SimpleNamespace(withdrawn=a["withdrawn"]) for a in s["alerts"]]
    result = AttributionResult(baskets, alerts, {}, [], {}, 0)  # type: ignore[arg-type]
    return score_attribution(truth_sessions, result)


def _pictures(layout, recording, out, config, sessions, offset):  # type: ignore[no-untyped-def]
    """The annotated video of the busiest camera and the floor plan with the shoppers' paths."""
    import numpy as np

    from storelens.evaluation.annotate_video import annotate_video
    from storelens.floorplan import draw_floor_plan

    outputs = {}
    tracks_dir = config.state_dir / layout.store_id / "tracks"
    busiest = max(sorted(tracks_dir.glob("*.csv")), key=lambda p: p.stat().st_size, default=None)
    if busiest is not None:
        camera = busiest.stem
        outputs["video"] = annotate_video(
            recording.video(camera),
            recording.frame_times(camera)[0] + offset,
            busiest,
            out / f"live_{camera}.mp4",
        )
    paths = {}
    for s in sessions:
        for shopper in s["path"]:
            xy = [(p["x_m"], p["y_m"]) for p in shopper["points"]]
            if xy:
                paths[shopper["shopper_id"]] = np.asarray(xy, float)
    outputs["floor_plan"] = draw_floor_plan(layout, out / "live_paths.png", paths=paths)
    return outputs
