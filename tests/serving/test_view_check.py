"""Camera tampering checks on real CCTV (CAVIAR shopping-centre clips, through
`storelens.settings.shared_data_dir()`): the real sequences read ok while people walk through
and under lighting drift, and the same frames shifted, blurred or blacked out read moved,
blurred and covered. A synthetic scene checks the same without the data."""

from __future__ import annotations

import functools

import av
import cv2
import numpy as np
import pytest

from storelens.serving.view_check import ViewCheck, ViewStatus
from storelens.settings import shared_data_dir

CLIPS = (
    "07_shopping_center_entry_corridor_cctv.mp4",
    "09_shopping_center_assistant_cctv.mp4",
    "14_onestopenter1front.mp4",
)
STEP = 25  # one frame a second of the 25 fps clips


@functools.cache
def read_frames(name: str) -> list[np.ndarray]:
    data = shared_data_dir()
    if data is None:
        pytest.skip("no shared data (STORELENS_SHARED_DATA or ../shared/data beside the checkout)")
    path = data / "caviar-shopping" / name
    if not path.is_file():
        pytest.skip(f"shared data lacks caviar-shopping/{name}")
    with av.open(str(path)) as c:
        return [
            f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i % STEP == 0
        ]


@pytest.fixture(scope="module", params=CLIPS)
def clip_name(request) -> str:  # type: ignore[no-untyped-def]
    return request.param


@pytest.fixture(scope="module")
def clip(clip_name: str) -> list[np.ndarray]:
    return read_frames(clip_name)


def shifted(img: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def states(check: ViewCheck, frames: list[np.ndarray]) -> list[ViewStatus]:
    return [check.check(f) for f in frames]


def test_real_footage_reads_ok_across_the_sequence(clip: list[np.ndarray]) -> None:
    check = ViewCheck()
    out = states(check, clip)
    assert len(out) >= 15
    assert [s.state for s in out] == ["ok"] * len(out), [s.detail for s in out if s.state != "ok"]
    assert max(s.shift_px for s in out) < 5
    assert min(s.sharpness_ratio for s in out) > 0.6


def test_lighting_drift_still_reads_ok(clip: list[np.ndarray]) -> None:
    check = ViewCheck(clip[0])
    for f in clip[1::5]:
        for alpha, beta in ((0.75, 10), (1.2, 15)):
            s = check.check(cv2.convertScaleAbs(f, alpha=alpha, beta=beta))
            assert s.state == "ok", s


def test_a_moved_camera_reads_moved(clip_name: str, clip: list[np.ndarray]) -> None:
    # 07 and 09 are the same corridor camera; 14 faces a shop front
    other_view = read_frames(CLIPS[2] if clip_name != CLIPS[2] else CLIPS[1])
    check = ViewCheck(clip[0])
    for f in clip[1::5]:
        s = check.check(shifted(f, 40))
        assert s.state == "moved" and s.shift_px == pytest.approx(40, abs=3), s
        assert check.check(shifted(f, 0, -25)).state == "moved"
    for f in other_view[::10]:  # turned to another scene altogether
        s = check.check(f)
        assert s.state == "moved", s
    # re-aimed on purpose: the new view becomes the reference
    check.set_reference(shifted(clip[0], 40))
    assert check.check(shifted(clip[3], 40)).state == "ok"


def test_a_blurred_camera_reads_blurred(clip: list[np.ndarray]) -> None:
    check = ViewCheck(clip[0])
    for f in clip[1::5]:
        for sigma in (2.0, 4.0):
            s = check.check(cv2.GaussianBlur(f, (0, 0), sigma))
            assert s.state == "blurred" and s.sharpness_ratio < 0.4, s


def test_a_covered_camera_reads_covered(clip: list[np.ndarray]) -> None:
    check = ViewCheck(clip[0])
    f = clip[10]
    assert check.check(np.zeros_like(f)).state == "covered"
    assert check.check(np.full_like(f, 150)).state == "covered"  # a cap over the lens
    dark = (f * 0.05).astype(np.uint8)
    s = check.check(dark)
    assert s.state == "covered" and s.brightness < 20, s


def test_synthetic_scene_without_shared_data() -> None:
    rng = np.random.default_rng(3)
    scene = np.full((480, 640, 3), 90, np.uint8)
    for _ in range(60):  # shelves and products: blocks of colour
        x, y = rng.integers(0, 600), rng.integers(0, 440)
        w, h = rng.integers(10, 80), rng.integers(10, 80)
        scene[y : y + h, x : x + w] = rng.integers(0, 255, 3)
    check = ViewCheck()
    assert check.check(scene).state == "ok"  # the first frame becomes the reference
    walker = scene.copy()
    walker[200:420, 300:360] = (30, 30, 200)  # a person in front of the background
    assert check.check(walker).state == "ok"
    assert check.check(shifted(scene, 40)).state == "moved"
    assert check.check(cv2.GaussianBlur(scene, (0, 0), 4)).state == "blurred"
    assert check.check(np.zeros_like(scene)).state == "covered"
    assert check.check(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)).state == "ok"  # grey input
