"""The live store worker on real components: a simulated store's camera videos read through the
real ingest, the real ONNX detector, the tracker, attribution with POS records posted while the
streams run, a real database — in-process, then as the Ray actor that `kill -9` cannot make lose
or double anything."""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from storelens.datasets.recording import StoreRecording
from storelens.datasets.sim.truth import read_truth
from storelens.serving.config import (
    ClockSettings,
    DetectorSettings,
    ServeConfig,
    StoreSettings,
)
from storelens.storage import Database, ingest_pos
from storelens.storage.cameras import camera_health, register_camera
from storelens.storage.replay import current_records
from storelens.storage.tables import SessionRow, ShelfEventRow

pytestmark = pytest.mark.slow
SECRET = "w" * 40


def _store_settings(
    sim: Path, offset: float, bundle: Path, scale: float = 1.0
) -> tuple[str, StoreSettings]:
    """The store of `sim` replayed at `scale` x real time, its clock shifted by `offset`."""
    from storelens.cli.live import truth_bundle

    truth_bundle(sim, bundle)
    recording = StoreRecording(sim)
    times = [recording.frame_times(c)[0] for c in recording.camera_ids]
    origin = min(float(t[0]) for t in times)
    end = max(float(t[-1]) for t in times)
    store_id = read_truth(sim)["sessions.jsonl"][0].store_id
    return store_id, StoreSettings(
        layout=sim / "store.yaml",
        sample_fps=5.0,
        clock=ClockSettings(kind="stream", origin_t=origin + offset, scale=scale),
        truth=bundle,
        truth_offset_s=offset,
        end_t=end + offset,
    )


def _register_files(db: Database, store_id: str, sim: Path) -> None:
    recording = StoreRecording(sim)
    for camera in recording.camera_ids:
        register_camera(
            db,
            SECRET,
            store_id=store_id,
            camera_id=camera,
            stream_uri=recording.video(camera).resolve().as_uri(),
        )


def _live_store(sim: Path, tmp_path: Path) -> tuple[str, Database, float, str, StoreSettings]:
    """A migrated SQLite store with `sim`'s cameras registered, its recording shifted to now:
    (url, db, offset, store id, settings)."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    db = Database(url)
    db.migrate()
    recording = StoreRecording(sim)
    origin = min(float(recording.frame_times(c)[0][0]) for c in recording.camera_ids)
    offset = float(np.floor(time.time() - origin))
    store_id, settings = _store_settings(sim, offset, tmp_path / "truth")
    _register_files(db, store_id, sim)
    return url, db, offset, store_id, settings


def _runtime(db: Database, store_id: str, settings: StoreSettings, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An in-process store runtime over `db`, with the shipped detector in this process."""
    from storelens.serving.store_runtime import StoreRuntime
    from storelens.serving.worker import local_detect

    return StoreRuntime(
        store_id,
        settings,
        db=db,
        secret=SECRET,
        detect=local_detect("shipped", 320, 0.05),
        state_dir=tmp_path / "state",
    )


def _expected(sim: Path) -> dict[str, list[tuple[str, int, str]]]:
    return {
        s.session_id: sorted((ln.sku, ln.qty, ln.status.value) for ln in s.expected_lines)
        for s in read_truth(sim)["sessions.jsonl"]
        if s.complete
    }


def _post_due(db: Database, store_id: str, pos: list, clock_t: float) -> list:
    due = [p for p in pos if p.t <= clock_t]
    if due:
        report = ingest_pos(db, due, store_id=store_id)
        assert not report.errors, report.errors
    return [p for p in pos if p.t > clock_t]


def _check_store(db: Database, store_id: str, sim: Path) -> None:
    """Every true event and session stored once, every complete session's basket right."""
    truth = read_truth(sim)
    with db.read() as conn:
        held = current_records(conn, store_id, -math.inf)
        event_rows = conn.execute(select(func.count()).select_from(ShelfEventRow)).scalar_one()
        session_rows = conn.execute(
            select(SessionRow.session_id, func.count()).group_by(SessionRow.session_id)
        ).all()
    assert sorted(e.event_id for e in held.events) == sorted(
        e.event_id for e in truth["events.jsonl"]
    )
    assert event_rows == len(truth["events.jsonl"])  # no event written twice
    closed = {s.session_id for s in truth["sessions.jsonl"] if s.exit_t is not None}
    assert {sid: n for sid, n in session_rows} == {
        s.session_id: 2 if s.session_id in closed else 1 for s in truth["sessions.jsonl"]
    }  # the open revision and the closed one, never more
    baskets = {
        b.session_id: sorted((ln.sku, ln.qty, ln.status.value) for ln in b.lines)
        for b in held.baskets
    }
    expected = _expected(sim)
    assert expected, "the fixture should have complete sessions"
    assert {sid: baskets.get(sid) for sid in expected} == expected


def test_runtime_streams_a_store_into_storage(live_sim, tmp_path):
    """In-process: two camera files through the real ingest, detector and tracker; POS posted
    as the clock passes them; baskets right, health reported, tracks written."""
    _, db, offset, store_id, settings = _live_store(live_sim, tmp_path)
    # a camera the API accepts but no reader can open: said in its health, the others go on
    register_camera(db, SECRET, store_id=store_id, camera_id="ghost", stream_uri="sim://demo/g")
    pos = [p.model_copy(update={"t": p.t + offset}) for p in read_truth(live_sim)["pos.jsonl"]]
    runtime = _runtime(db, store_id, settings, tmp_path)
    try:
        deadline = time.monotonic() + 150
        while not runtime.finished and time.monotonic() < deadline:
            pos = _post_due(db, store_id, pos, runtime.clock_t)
            if not runtime.tick():
                time.sleep(0.02)
        assert runtime.finished, runtime.status()
        for _ in range(3):  # what the registers ring up after the last frame
            pos = _post_due(db, store_id, pos, math.inf)
            runtime.tick()
            time.sleep(0.5)
        runtime._attribute()
        runtime.flush()
    finally:
        runtime.close()
    status = runtime.status()
    assert status["steps"] > 50, status
    _check_store(db, store_id, live_sim)
    with db.read() as conn:
        for camera in StoreRecording(live_sim).camera_ids:
            health = camera_health(conn, store_id, camera)
            assert health is not None and health.fps > 0, health
            assert "view ok" in health.detail, health.detail
        ghost = camera_health(conn, store_id, "ghost")
        assert ghost is not None and ghost.state == "stopped", ghost
        assert "cannot read this stream" in ghost.detail and "sim://" in ghost.detail, ghost
    tracks = sorted((tmp_path / "state" / "tracks").glob("*.csv"))
    assert len(tracks) == 2 and all(p.stat().st_size > 0 for p in tracks)


@pytest.fixture
def ray_local():
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # the workers inherit the secret from Ray's environment (never from runtime_env)
    os.environ["STORELENS_API_SECRET"] = SECRET
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield ray
    finally:
        from storelens.serving.worker import stop_workers

        stop_workers()
        ray.shutdown()


def test_worker_killed_resumes_from_its_checkpoint(live_sim, tmp_path, ray_local):
    """The detached Ray actor is killed with SIGKILL mid-recording; Ray restarts it, it resumes
    from its checkpoint, and storage ends with every event once and every basket right."""
    from storelens.serving.worker import running_workers, start_worker, stop_worker
    from storelens.settings import worker_env

    ray = ray_local
    url, db, offset, store_id, settings = _live_store(live_sim, tmp_path)
    config = ServeConfig(
        database_url=url,
        detector=DetectorSettings(),
        stores={store_id: settings},
        state_dir=tmp_path / "state",
    )
    pos = [p.model_copy(update={"t": p.t + offset}) for p in read_truth(live_sim)["pos.jsonl"]]
    worker = start_worker(config, store_id, dict(worker_env()), None)
    first_pid = ray.get(worker.pid.remote(), timeout=120)
    checkpoint = tmp_path / "state" / store_id / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = ray.get(worker.status.remote(), timeout=30)
        pos = _post_due(db, store_id, pos, status["clock_t"])
        if status["saved"].get("ShelfEvent", 0) >= 2 and checkpoint.is_file():
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the worker never saved events: {status}")
    os.kill(first_pid, signal.SIGKILL)
    deadline = time.monotonic() + 150
    resumed = None
    while time.monotonic() < deadline:
        try:
            status = ray.get(worker.status.remote(), timeout=30)
        except Exception:  # the actor is restarting
            time.sleep(0.5)
            continue
        assert status["pid"] != first_pid or not status["resumed"]
        if status["resumed"] and resumed is None:
            resumed = status
        pos = _post_due(db, store_id, pos, status["clock_t"])
        if status["finished"]:
            break
        time.sleep(0.5)
    assert resumed is not None, "the worker did not come back from its checkpoint"
    assert status["finished"], status
    # it tracked on after the restart (the replay skipped to its checkpoint, not to the end)
    assert status["steps"] > resumed["steps"] + 20, (resumed["steps"], status["steps"])
    _post_due(db, store_id, pos, math.inf)
    time.sleep(3.0)  # one attribution round after the last input
    assert store_id in running_workers()
    stop_worker(worker)
    assert store_id not in running_workers()
    _check_store(db, store_id, live_sim)


def test_a_camera_re_registered_with_another_uri_is_reopened(live_sim, tmp_path):
    """Rotated credentials or a new host: `sync_cameras` closes the old stream and opens the
    new one; a removed camera's reader is closed."""
    from storelens.storage.cameras import remove_camera

    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    db.migrate()
    store_id, settings = _store_settings(live_sim, 0.0, tmp_path / "truth")
    _register_files(db, store_id, live_sim)
    runtime = _runtime(db, store_id, settings, tmp_path)
    try:
        first, second = StoreRecording(live_sim).camera_ids
        old = runtime.readers[first]
        moved = tmp_path / "moved.mp4"
        moved.write_bytes(StoreRecording(live_sim).video(first).read_bytes())
        register_camera(db, SECRET, store_id=store_id, camera_id=first, stream_uri=moved.as_uri())
        remove_camera(db, store_id, second)
        kept = runtime.readers[second]
        runtime.sync_cameras()
        assert runtime.readers[first] is not old and runtime.reader_uri[first] == moved.as_uri()
        assert old.health().state == "stopped"
        assert second not in runtime.readers and kept.health().state == "stopped"
    finally:
        runtime.close()
