"""The whole live service as `make demo` runs it: a simulated store's cameras served by a real
GStreamer RTSP server, the service on a local Ray (API, batched detector deployment, store
manager, one store worker), cameras registered and POS posted over the HTTP API while the
streams run, the detector's model swapped through `user_config` mid-stream, and nothing left
running afterwards."""

from __future__ import annotations

import shutil

import psutil
import pytest

from storelens.serving.rtsp_server import rtsp_server_problem

pytestmark = pytest.mark.slow


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(rtsp_server_problem() is not None, reason=str(rtsp_server_problem()))
def test_live_service_over_rtsp(live_sim, tmp_path):
    import httpx
    from ray import serve

    from storelens.cli.live import run_live_demo
    from storelens.inference.loading import model_file
    from storelens.serving.deployment import DETECTOR_APP, detector_app

    swapped_model = tmp_path / "detector-copy.pt"  # same weights under another name
    shutil.copyfile(model_file("shipped"), swapped_model)
    seen: dict = {"health": None}

    def progress(status: dict, config) -> None:  # type: ignore[no-untyped-def]
        if status.get("steps", 0) > 30 and "swapped" not in seen:
            seen["swapped"] = status["steps"]
            serve.run(
                detector_app(config, user_config={"model": str(swapped_model), "conf": 0.1}),
                name=DETECTOR_APP,
                route_prefix=None,
            )
            handle = serve.get_deployment_handle("detector", app_name=DETECTOR_APP)
            seen["at_swap"] = handle.stats.remote().result(timeout_s=30)

    def while_up(base: str, key: str) -> None:
        client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10)
        api = f"{base}/v1/stores/demo-store/cameras"
        listed = client.get(api)
        listed.raise_for_status()
        seen["health"] = {
            c["camera_id"]: client.get(f"{api}/{c['camera_id']}").json() for c in listed.json()
        }
        detector = serve.get_deployment_handle("detector", app_name=DETECTOR_APP)
        seen["detector"] = detector.stats.remote().result(timeout_s=30)

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = run_live_demo(
        live_sim,
        tmp_path / "live",
        rate=2.0,
        sample_fps=5.0,
        progress=progress,
        keep_serving=while_up,
        timeout_s=240,
    )
    assert result.transport == "rtsp"
    status = result.status
    assert status["finished"] and status["steps"] > 60, status
    assert status["errors"] == 0, status["last_error"]
    for camera, health in status["cameras"].items():
        assert health["frames_in"] > 100, (camera, health)
        assert health["reconnects"] == 0, (camera, health)
    m = result.metrics
    assert m.sessions >= 2 and m.receipt_accuracy.value == 1.0, m.as_dict()
    assert "swapped" in seen, "the model swap never ran"
    assert status["steps"] > seen["swapped"] + 30, "the streams stalled after the swap"
    # the same replica now runs the swapped-in model, with its conf, and answered frames with it
    stats, at_swap = seen["detector"], seen["at_swap"]
    assert stats["model"].endswith("detector-copy.pt") and stats["conf"] == 0.1, stats
    assert stats["replica_id"] == at_swap["replica_id"], (stats, at_swap)
    assert stats["frames"] > at_swap["frames"], (stats, at_swap)
    cameras = seen["health"]  # what the API says of each camera, from the worker's reports
    assert set(cameras) == set(status["cameras"])
    for camera in cameras.values():
        health = camera["health"]
        assert health["state"] == "stopped" and health["fps"] >= 0, camera
        assert "view ok" in health["detail"] and "pid" in health["worker"], camera
        assert camera["stream_uri"].startswith("rtsp://127.0.0.1:"), camera
    assert result.outputs["video"].stat().st_size > 10_000
    assert result.outputs["floor_plan"].stat().st_size > 10_000
    # nothing left behind: the RTSP server, Ray's processes and the store worker are gone
    assert not _alive(result.rtsp_pid)
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and _alive(p.pid)
    ]
    assert not left, [(p.pid, p.name()) for p in left]
