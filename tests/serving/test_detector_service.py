"""The detector service on a real local Ray Serve (2 CPUs): requests of many callers batched,
a model swapped under load through `user_config`, and backpressure when it is flooded.

Two genuinely different models: the shipped detector and a copy whose weights are perturbed
(seeded noise on every parameter), both exported once into a test-local ONNX cache that the
replicas share through their runtime_env."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from storelens.inference.onnx_detector import ModelLoadError, OnnxDetector
from storelens.serving.letterbox import letterbox
from storelens.serving.rtsp_server import free_port

SIZE = 320
BATCH = 8
RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "0",
}


def perturbed_copy(path) -> str:
    """The shipped weights with seeded multiplicative noise on every parameter."""
    import torch

    from storelens.inference.loading import load_detector

    yolo = load_detector("shipped")
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in yolo.model.parameters():
            p.mul_(1 + 0.08 * torch.randn(p.shape, generator=gen).to(p.dtype))
    yolo.save(str(path))
    return str(path)


def sim_frames(small_sim, n: int) -> list[np.ndarray]:
    """`n` rendered frames, half from each of two cameras, five frames apart."""
    frames = []
    for camera in ("ceil-sw", "shelf-fruit"):
        cap = cv2.VideoCapture(str(small_sim / "cameras" / camera / "video.mp4"))
        for k in range(n // 2):
            cap.set(cv2.CAP_PROP_POS_FRAMES, 20 + 5 * k)
            ok, frame = cap.read()
            if ok:
                frames.append(frame)
        cap.release()
    return frames


@pytest.fixture(scope="module")
def service(small_sim, tmp_path_factory):
    """Ray (2 CPUs) + Serve on loopback, the detector app deployed; both models exported."""
    import ray
    from ray import serve

    from storelens.serving.detector_service import detector_application

    tmp = tmp_path_factory.mktemp("detector-service")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**RAY_ENV, "STORELENS_RUNS_DIR": str(tmp / "runs")}.items():
            mp.setenv(key, value)
        other = perturbed_copy(tmp / "perturbed.pt")
        local = {
            "shipped": OnnxDetector("shipped", imgsz=SIZE, conf=0.05, threads=1),
            "other": OnnxDetector(other, imgsz=SIZE, conf=0.05, threads=1),
        }
        frames = [letterbox(f, SIZE) for f in sim_frames(small_sim, 16)]
        assert len(frames) == 16
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
        try:
            serve.start(
                http_options={"host": "127.0.0.1", "port": free_port()},
                logging_config={"enable_access_log": False},
            )
            name = f"detector-test-{uuid.uuid4().hex[:8]}"
            kwargs = dict(
                model="shipped", max_batch_size=BATCH, batch_wait_timeout_s=0.02, name=name
            )
            handle = serve.run(detector_application(**kwargs), name=name, route_prefix=None)
            yield {
                "handle": handle,
                "name": name,
                "kwargs": kwargs,
                "local": local,
                "other": other,
                "frames": frames,
            }
        finally:
            serve.shutdown()
            ray.shutdown()


def expected(detector: OnnxDetector, frame) -> tuple[np.ndarray, np.ndarray]:
    ((xyxy, conf, _),) = detector.detect_letterboxed(frame.tensor[None])
    return frame.unletterbox(xyxy), conf


def assert_same(answer, detector: OnnxDetector, frame) -> None:
    xyxy, conf = expected(detector, frame)
    assert answer.model_version == detector.model_version
    assert answer.xyxy.shape == xyxy.shape
    np.testing.assert_allclose(answer.xyxy, xyxy, atol=0.05)
    np.testing.assert_allclose(answer.confidence, conf, atol=1e-4)


def test_concurrent_callers_are_batched_and_answered_as_locally(service):
    handle, frames, local = service["handle"], service["frames"], service["local"]["shipped"]
    before = handle.stats.remote().result(timeout_s=30)
    responses = [handle.remote(f) for f in frames]  # 16 callers at once
    answers = [r.result(timeout_s=60) for r in responses]
    stats = handle.stats.remote().result(timeout_s=30)
    for frame, answer in zip(frames, answers, strict=True):
        assert_same(answer, local, frame)
        h, w = frame.height, frame.width  # boxes come back in the frame's own pixels
        assert (answer.xyxy[:, [0, 2]] <= w).all() and (answer.xyxy[:, [1, 3]] <= h).all()
    assert sum(len(a.xyxy) for a in answers) > 0
    new = {
        k: v - before["batch_sizes"].get(k, 0)
        for k, v in stats["batch_sizes"].items()
        if v - before["batch_sizes"].get(k, 0)
    }
    assert sum(k * v for k, v in new.items()) == 16
    assert max(new) > 1, new
    assert max(a.batch_size for a in answers) > 1
    assert max(new) <= BATCH and stats["max_batch_size"] == BATCH


def test_model_swap_under_load_fails_no_request(service):
    from ray import serve

    from storelens.serving.detector_service import detector_application

    handle, frames, local = service["handle"], service["frames"], service["local"]
    old, new = local["shipped"].model_version, local["other"].model_version
    replica_id = handle.stats.remote().result(timeout_s=30)["replica_id"]
    assert old != new
    log: list[tuple[float, int, object]] = []  # (sent at, frame index, answer or error)
    stop = threading.Event()

    def caller(offset: int) -> None:
        i = offset
        while not stop.is_set():
            sent = time.monotonic()
            try:
                log.append((sent, i, handle.remote(frames[i]).result(timeout_s=60)))
            except Exception as err:  # recorded: the test asserts there are none
                log.append((sent, i, err))
            i = (i + 1) % len(frames)

    with ThreadPoolExecutor(4) as pool:
        for k in range(4):
            pool.submit(caller, 4 * k)
        time.sleep(0.5)
        app = detector_application(**service["kwargs"], user_config={"model": service["other"]})
        serve.run(app, name=service["name"], route_prefix=None)
        swapped = time.monotonic()
        time.sleep(1.0)
        stop.set()
    errors = [a for _, _, a in log if isinstance(a, Exception)]
    assert not errors, errors[:3]
    versions = [a.model_version for _, _, a in sorted(log, key=lambda x: x[0])]
    assert versions[0] == old and versions[-1] == new
    after = [(i, a) for sent, i, a in log if sent > swapped]
    assert after and all(a.model_version == new for _, a in after)
    for i, answer in after[:8]:
        assert_same(answer, local["other"], frames[i])
    # the two models really answer differently on the same frames
    assert any(
        expected(local["shipped"], f)[0].shape != expected(local["other"], f)[0].shape
        or not np.allclose(expected(local["shipped"], f)[0], expected(local["other"], f)[0])
        for f in frames
    )
    # thresholds alone: same model, same version, the new conf visible at once
    app = detector_application(
        **service["kwargs"], user_config={"model": service["other"], "conf": 0.3}
    )
    serve.run(app, name=service["name"], route_prefix=None)
    answers = [r.result(timeout_s=60) for r in [handle.remote(f) for f in frames]]
    assert all(a.model_version == new for a in answers)
    assert sum(len(a.confidence) for a in answers) > 0
    assert all((a.confidence > 0.3).all() for a in answers)
    stats = handle.stats.remote().result(timeout_s=30)
    assert stats["model_version"] == new and stats["conf"] == 0.3
    # one replica served both models: swapped in place, never restarted
    assert set(stats["frames_by_version"]) == {old, new}
    assert stats["replica_id"] == replica_id


def test_a_bad_model_reference_keeps_the_old_model(service):
    from storelens.serving.detector_service import Detector

    replica = Detector.func_or_class(model="shipped", imgsz=SIZE)
    version = replica.stats()["model_version"]
    with pytest.raises(ModelLoadError, match="no-such-model.pt") as err:
        asyncio.run(replica.reconfigure({"model": "/nowhere/no-such-model.pt"}))
    assert "still serving 'shipped'" in str(err.value)
    assert replica.stats()["model_version"] == version
    with pytest.raises(ValueError, match="unknown keys"):
        asyncio.run(replica.reconfigure({"modle": "shipped"}))
    frame = service["frames"][0]  # the kept model still answers as the shipped one does
    np.testing.assert_allclose(
        expected(replica._detector, frame)[0], expected(service["local"]["shipped"], frame)[0]
    )
    with pytest.raises(ValueError, match="letterboxed"):
        asyncio.run(replica(letterbox(np.zeros((50, 50, 3), np.uint8), 160)))


def test_a_flooded_detector_answers_with_backpressure_not_a_queue(service):
    from ray import serve
    from ray.serve.exceptions import BackPressureError

    from storelens.serving.detector_service import detector_application

    name = f"detector-bp-{uuid.uuid4().hex[:8]}"
    app = detector_application(
        model="shipped",
        max_batch_size=1,
        max_ongoing_requests=1,
        max_queued_requests=2,
        replica_cpus=0.25,
        name=name,
    )
    handle = serve.run(app, name=name, route_prefix=None)
    try:
        frame = service["frames"][0]
        start = time.monotonic()
        responses = [handle.remote(frame) for _ in range(40)]
        outcomes = []
        for r in responses:
            try:
                outcomes.append(r.result(timeout_s=60))
            except BackPressureError as err:
                outcomes.append(err)
        elapsed = time.monotonic() - start
        refused = [o for o in outcomes if isinstance(o, BackPressureError)]
        served = [o for o in outcomes if not isinstance(o, BackPressureError)]
        assert refused and served, (len(refused), len(served))
        assert len(served) <= 20  # one running + two queued at a time, not 40 in a queue
        assert elapsed < 45
    finally:
        serve.delete(name)


def test_application_options_are_checked():
    from storelens.serving.detector_service import detector_application

    with pytest.raises(ValueError, match="batches could never fill"):
        detector_application(max_batch_size=8, max_ongoing_requests=4)
    app = detector_application(max_batch_size=4, replica_cpus=0.5)
    deployment = app._bound_deployment
    assert deployment._deployment_config.max_ongoing_requests == 8
    assert deployment._deployment_config.max_queued_requests == 64
    assert deployment.ray_actor_options["num_cpus"] == 0.5
    env = deployment.ray_actor_options["runtime_env"]["env_vars"]
    assert env["YOLO_OFFLINE"] == "1" and os.path.isabs(env["STORELENS_RUNS_DIR"])
