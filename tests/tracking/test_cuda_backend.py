"""The CUDA kernels of tracking/cuda/: every `.cu` compiles to PTX (nvcc, `--fmad=false`), the
CPU-shim build's Kalman ops and cost blocks equal the numpy backend's on random inputs, the
backends are chosen by name and config with clear errors, and — on a machine with a GPU — the
same checks run on the device."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from storelens.tracking.backend import BACKENDS, NumpyBackend, get_backend
from storelens.tracking.config import TrackerConfig
from storelens.tracking.cuda_backend import CpuShimBackend, CudaBackend
from storelens.tracking.kernels import (
    KERNEL_DIR,
    NVCC_FLAGS,
    find_compiler,
    gpu_loader,
    kernel_files,
)
from storelens.tracking.tracker import StoreTracker

RTOL = 1e-9
NOISE = (0.05, 0.4, 0.07)
NVCC = shutil.which("nvcc")
LOADER, NO_GPU_REASONS = gpu_loader()


def close(got: np.ndarray, want: np.ndarray) -> None:
    """Equal within 1e-9 relative to the array's own magnitude (entries near zero included)."""
    assert got.shape == want.shape and got.dtype == np.float64
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale)


def random_boxes(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """xyxy boxes, with some empty (zero-size) and some inverted ones among them."""
    xy = rng.uniform(0, 200, (*shape, 2))
    wh = rng.uniform(1, 80, (*shape, 2))
    wh[rng.random(shape) < 0.1] = 0.0  # empty
    wh[rng.random(shape) < 0.05] *= -1  # inverted: area 0
    return np.concatenate([xy, xy + wh], axis=-1)


def random_tracks(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of walking boxes and random symmetric positive-definite covariances."""
    mean = np.concatenate(
        [rng.uniform(0, 500, (n, 2)), rng.uniform(5, 120, (n, 2)), rng.normal(0, 30, (n, 4))],
        axis=1,
    )
    a = rng.normal(0, 3, (n, 8, 8))
    cov = a @ a.transpose(0, 2, 1) + 2 * np.eye(8)
    return mean, cov


@pytest.fixture(scope="module")
def shim() -> CpuShimBackend:
    if find_compiler() is None:
        pytest.skip("no C++ compiler ($CXX or g++): the cuda-shim cannot be built")
    return CpuShimBackend()


def device_backends() -> list:
    """The GPU backends to check: one per loader that sees a device, else one skipped param."""
    if LOADER is None:
        reason = "no CUDA GPU: " + "; ".join(NO_GPU_REASONS)
        return [pytest.param(None, marks=[pytest.mark.gpu, pytest.mark.skip(reason=reason)])]
    return [pytest.param(LOADER, marks=pytest.mark.gpu)]


# ----------------------------------------------------------------------------- compiling
@pytest.mark.skipif(
    NVCC is None, reason="nvcc is not on PATH: the PTX check needs the CUDA toolkit"
)
@pytest.mark.parametrize("source", kernel_files(), ids=lambda p: p.name)
def test_every_kernel_compiles_to_ptx(source, tmp_path):
    out = tmp_path / source.with_suffix(".ptx").name
    done = subprocess.run(
        [NVCC, "--ptx", *NVCC_FLAGS, "-I", str(KERNEL_DIR), "-o", str(out), str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    ptx = out.read_text()
    kernels = [line for line in ptx.splitlines() if line.startswith(".visible .entry")]
    assert kernels, f"{source.name} compiled to PTX with no kernel entry"


def test_kernels_use_nothing_the_cpu_shim_cannot_run():
    for source in kernel_files():
        text = source.read_text()
        for banned in ("__syncthreads", "__shared__", "atomic"):
            assert banned not in text, f"{source.name} uses {banned}"


# ----------------------------------------------------------------- CPU shim vs numpy
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shim_kalman_equals_numpy_on_random_tracks(shim, seed):
    rng = np.random.default_rng(seed)
    ref, got = NumpyBackend().kalman(*NOISE), shim.kalman(*NOISE)
    n = 37
    z = np.concatenate([rng.uniform(0, 500, (n, 2)), rng.uniform(0, 120, (n, 2))], axis=1)
    z[:3, 2:] = 0.0  # degenerate boxes: sizes clamp at 1e-3
    for a, b in zip(got.initiate(z), ref.initiate(z), strict=True):
        np.testing.assert_array_equal(a, b)  # same operations: bit for bit
    mean, cov = random_tracks(rng, n)
    dt = rng.uniform(0, 1.5, n)
    dt[:4] = 0.0
    for a, b in zip(got.predict(mean, cov, dt), ref.predict(mean, cov, dt), strict=True):
        close(a, b)
    for a, b in zip(got.update(mean, cov, z), ref.update(mean, cov, z), strict=True):
        close(a, b)
    for a, b in zip(got.project(mean, cov), ref.project(mean, cov), strict=True):
        np.testing.assert_array_equal(a, b)
    candidates = z[rng.integers(0, n, (n, 5))] + rng.normal(0, 5, (n, 5, 4))
    close(got.mahalanobis(mean, cov, candidates), ref.mahalanobis(mean, cov, candidates))


def test_shim_kalman_chain_follows_numpy_over_many_steps(shim):
    """predict / update repeatedly, as the tracker does: no drift between the two."""
    rng = np.random.default_rng(5)
    ref, got = NumpyBackend().kalman(*NOISE), shim.kalman(*NOISE)
    truth = np.array([[100.0, 200, 40, 100]]) + rng.normal(0, 2, (50, 4))
    m_ref, c_ref = ref.initiate(truth[:1])
    m_got, c_got = got.initiate(truth[:1])
    for k in range(1, 50):
        dt = np.array([0.1 if k % 7 else 0.5])
        m_ref, c_ref = ref.update(*ref.predict(m_ref, c_ref, dt), truth[k : k + 1])
        m_got, c_got = got.update(*got.predict(m_got, c_got, dt), truth[k : k + 1])
        close(m_got, m_ref)
        close(c_got, c_ref)


def test_shim_kalman_keeps_numpy_shapes_for_no_tracks(shim):
    ref, got = NumpyBackend().kalman(*NOISE), shim.kalman(*NOISE)
    m, c = got.initiate(np.zeros((0, 4)))
    assert m.shape == (0, 8) and c.shape == (0, 8, 8)
    assert got.predict(m, c, np.zeros(0))[0].shape == (0, 8)
    assert got.update(m, c, np.zeros((0, 4)))[1].shape == (0, 8, 8)
    d2 = got.mahalanobis(m, c, np.zeros((0, 3, 4)))
    assert d2.shape == ref.mahalanobis(m, c, np.zeros((0, 3, 4))).shape == (0, 3)


@pytest.mark.parametrize(("cams", "tracks", "dets"), [(1, 1, 1), (5, 7, 9), (16, 30, 30)])
def test_shim_iou_blocks_equal_numpy_bit_for_bit(shim, cams, tracks, dets):
    rng = np.random.default_rng(cams)
    a = random_boxes(rng, cams, tracks)
    b = random_boxes(rng, cams, dets)
    a[0, 0] = b[0, 0] = [10, 10, 50, 90]  # one exact match: IoU 1
    a[-1, -1] = b[-1, -1] = [20, 20, 20, 60]  # two empty boxes: union 0, IoU 0
    got, want = shim.box_iou_blocks(a, b), NumpyBackend().box_iou_blocks(a, b)
    np.testing.assert_array_equal(got, want)
    assert got[-1, -1, -1] == 0.0 and not np.isnan(got).any()
    if cams > 1:
        assert got[0, 0, 0] == 1.0


def test_shim_iou_blocks_of_empty_blocks(shim):
    assert shim.box_iou_blocks(np.zeros((3, 0, 4)), np.zeros((3, 5, 4))).shape == (3, 0, 5)
    assert shim.box_iou_blocks(np.zeros((0, 2, 4)), np.zeros((0, 5, 4))).shape == (0, 2, 5)


def test_shim_cosine_distance_equals_numpy(shim):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 6, 32)), rng.normal(size=(4, 9, 32))
    a /= np.linalg.norm(a, axis=-1, keepdims=True)
    b /= np.linalg.norm(b, axis=-1, keepdims=True)
    b[1, 2] = a[1, 3]
    a[2, 0] = 0.0  # a resumed track without an embedding
    got, want = shim.cosine_distance_blocks(a, b), NumpyBackend().cosine_distance_blocks(a, b)
    close(got, want)
    assert got[1, 3, 2] == pytest.approx(0.0, abs=1e-15)
    assert (got[2, 0] == 1.0).all()


def test_shim_refuses_mismatched_shapes_by_name(shim):
    with pytest.raises(ValueError, match=r"a: expected shape \(C, K, 4\), got \(3, 4\)"):
        shim.box_iou_blocks(np.zeros((3, 4)), np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match=r"iou_blocks: blocks a \(2, 1, 4\) and b \(3, 1, 4\)"):
        shim.box_iou_blocks(np.zeros((2, 1, 4)), np.zeros((3, 1, 4)))
    kalman = shim.kalman(*NOISE)
    mean, cov = random_tracks(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match=r"dt: expected shape \(3\), got \(2,\)"):
        kalman.predict(mean, cov, np.zeros(2))
    with pytest.raises(ValueError, match=r"z: expected shape \(3, 4\), got \(3, 2\)"):
        kalman.update(mean, cov, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"z: expected shape \(3, N, 4\), got \(2, 5, 4\)"):
        kalman.mahalanobis(mean, cov, np.zeros((2, 5, 4)))


# ------------------------------------------------------------------ choosing a backend
NEEDS_CXX = pytest.mark.skipif(
    find_compiler() is None, reason="no C++ compiler ($CXX or g++): the cuda-shim cannot be built"
)


@NEEDS_CXX
def test_backends_by_name_and_their_errors():
    assert BACKENDS == ("numpy", "cuda", "cuda-shim", "auto")
    assert isinstance(get_backend("numpy"), NumpyBackend)
    assert get_backend("cuda-shim").name == "cuda-shim"
    backend = NumpyBackend()
    assert get_backend(backend) is backend
    with pytest.raises(ValueError, match="tracker backend 'tpu' is not available; available: "):
        get_backend("tpu")


@pytest.mark.skipif(LOADER is not None, reason="a GPU is present: 'cuda' does not fail here")
def test_cuda_without_a_gpu_fails_naming_what_is_missing_and_auto_is_numpy():
    with pytest.raises(ValueError, match="tracker backend 'cuda' needs a CUDA GPU") as err:
        get_backend("cuda")
    assert "pycuda" in str(err.value) and "cupy" in str(err.value)
    assert "'cuda-shim'" in str(err.value)  # says what to use instead
    assert isinstance(get_backend("auto"), NumpyBackend)
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        StoreTracker(TrackerConfig(backend="cuda"))


def test_unknown_gpu_loader_is_refused():
    with pytest.raises(ValueError, match="GPU loader 'opencl': expected one of pycuda, cupy"):
        CudaBackend(loader="opencl")


@NEEDS_CXX
def test_backend_comes_from_the_config_and_the_argument_wins():
    assert TrackerConfig().backend == "numpy"
    assert StoreTracker(TrackerConfig(backend="cuda-shim")).backend.name == "cuda-shim"
    assert StoreTracker(TrackerConfig(backend="cuda-shim"), backend="numpy").backend.name == (
        "numpy"
    )
    with pytest.raises(ValueError, match="backend") as err:
        TrackerConfig(backend="gpu")  # type: ignore[arg-type]
    assert "'gpu'" in str(err.value) and "cuda-shim" in str(err.value)


# ---------------------------------------------------------------------- on the device
@pytest.mark.parametrize("loader", device_backends())
def test_device_kernels_equal_numpy(loader):
    cuda = CudaBackend(loader=loader)
    rng = np.random.default_rng(11)
    ref, got = NumpyBackend().kalman(*NOISE), cuda.kalman(*NOISE)
    mean, cov = random_tracks(rng, 300)
    z = mean[:, :4] + rng.normal(0, 3, (300, 4))
    dt = rng.uniform(0, 1, 300)
    for a, b in zip(got.initiate(z), ref.initiate(z), strict=True):
        close(a, b)
    for a, b in zip(got.predict(mean, cov, dt), ref.predict(mean, cov, dt), strict=True):
        close(a, b)
    for a, b in zip(got.update(mean, cov, z), ref.update(mean, cov, z), strict=True):
        close(a, b)
    cand = z[rng.integers(0, 300, (300, 7))]
    close(got.mahalanobis(mean, cov, cand), ref.mahalanobis(mean, cov, cand))
    a, b = random_boxes(rng, 64, 30), random_boxes(rng, 64, 30)
    np.testing.assert_array_equal(cuda.box_iou_blocks(a, b), NumpyBackend().box_iou_blocks(a, b))
