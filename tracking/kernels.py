"""Loading the tracker's CUDA C kernels (`tracking/cuda/*.cu`) and launching them.

The same source runs three ways, each behind one `Runner` that launches a kernel by name over
a one-dimensional grid of `threads`, with arguments given as scalars, `In(array)` (read) and
`Out(array)` (written back into the numpy array):

- `ShimRunner`: the source compiled as plain C++ under `cuda/cpu_shim.h` (g++ or `$CXX`,
  `-O2 -ffp-contract=off`, no fused multiply-add) into a shared library cached under
  `$XDG_CACHE_HOME/storelens/cuda-shim/`, called through ctypes; each kernel is a loop over its
  grid. Runs anywhere with a C++ compiler: the kernels' logic is tested on every CI run.
- `PyCudaRunner`: pycuda (the `storelens[cuda]` extra) compiling with nvcc, `--fmad=false`.
- `CupyRunner`: CuPy's `RawModule` (NVRTC), `--fmad=false`, where CuPy is what a GPU machine has.

Arrays cross to the device and back on every launch: the tracker keeps its tables on the host.
pycuda and cupy are imported only inside functions (neither is a dependency of storelens).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

KERNEL_DIR = Path(__file__).resolve().parent / "cuda"
NVCC_FLAGS = ("--fmad=false",)  # parity: fused multiply-add can flip near-ties
CXX_FLAGS = ("-O2", "-shared", "-fPIC", "-ffp-contract=off", "-std=c++17", "-x", "c++")
BLOCK = 256
GPU_LOADERS = ("pycuda", "cupy")


@dataclass(frozen=True)
class In:
    """A kernel argument read by the kernel (copied to the device first)."""

    array: np.ndarray


@dataclass(frozen=True)
class Out:
    """A kernel argument the kernel writes; its values land in `array`."""

    array: np.ndarray


Arg = np.int32 | np.float64 | In | Out


class Runner(Protocol):
    name: str

    def launch(self, kernel: str, threads: int, args: Sequence[Arg]) -> None: ...


def kernel_files() -> list[Path]:
    """The `.cu` sources, in a fixed order."""
    files = sorted(KERNEL_DIR.glob("*.cu"))
    if not files or not (KERNEL_DIR / "cpu_shim.h").is_file():
        raise FileNotFoundError(f"the tracker's CUDA kernels are missing from {KERNEL_DIR}")
    return files


def kernel_source() -> str:
    """All kernels as one CUDA C translation unit (the header is included once)."""
    return "\n".join(f.read_text() for f in kernel_files())


def _grid(threads: int) -> int:
    if threads >= 2**31:
        raise ValueError(f"kernel launch of {threads} threads: more than a 32-bit grid holds")
    return max(1, -(-threads // BLOCK))


# ------------------------------------------------------------------------------ CPU shim
def find_compiler() -> str | None:
    """`$CXX`, else g++, else c++ (None when there is none)."""
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def _cache_dir() -> Path:
    from storelens.settings import settings

    return (settings().xdg_cache_home or Path.home() / ".cache") / "storelens" / "cuda-shim"


def build_shim(out_dir: Path | None = None) -> Path:
    """Compile the kernels as C++ into a shared library (cached by source, compiler and flags).

    Raises:
        RuntimeError: no C++ compiler, or the compiler rejected the source (its message).
    """
    cxx = find_compiler()
    if cxx is None:
        raise RuntimeError("the cuda-shim backend needs a C++ compiler: set $CXX or install g++")
    files = kernel_files()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    digest = hashlib.sha256("\0".join([cxx, version, *CXX_FLAGS]).encode())
    for f in [*files, KERNEL_DIR / "cpu_shim.h"]:
        digest.update(f.read_bytes())
    folder = out_dir or _cache_dir()
    lib = folder / f"tracker-kernels-{digest.hexdigest()[:16]}.so"
    if lib.is_file():
        return lib
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
    os.close(fd)
    try:
        cmd = [cxx, *CXX_FLAGS, "-I", str(KERNEL_DIR), *map(str, files), "-o", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the cuda-shim kernels failed:\n{done.stderr}")
        os.replace(tmp, lib)  # atomic: a concurrent build finds a whole library or none
    finally:
        Path(tmp).unlink(missing_ok=True)
    return lib


_CTYPES = {np.int32: ctypes.c_int, np.float64: ctypes.c_double}


class ShimRunner:
    """The kernels compiled as C++ and run on the CPU, one simulated thread after another."""

    name = "cuda-shim"

    def __init__(self, library: Path | None = None) -> None:
        self.library = library or build_shim()
        self._lib = ctypes.CDLL(str(self.library))

    def launch(self, kernel: str, threads: int, args: Sequence[Arg]) -> None:
        fn = getattr(self._lib, f"shim_{kernel}")
        values: list[Any] = [ctypes.c_uint(_grid(threads)), ctypes.c_uint(BLOCK)]
        for arg in args:
            if isinstance(arg, In | Out):
                arr = arg.array
                if arr.dtype != np.float64 or not arr.flags.c_contiguous:
                    raise ValueError(f"{kernel}: arrays must be C-contiguous float64")
                values.append(ctypes.c_void_p(arr.ctypes.data))
            else:
                values.append(_CTYPES[type(arg)](arg))
        fn.restype = None
        fn(*values)


@cache
def shim_runner() -> ShimRunner:
    """One loaded shim library per process."""
    return ShimRunner()


# ------------------------------------------------------------------------------- the GPU
def gpu_loader() -> tuple[str | None, list[str]]:
    """The first of pycuda, cupy that is importable and sees a CUDA device, else None with the
    reason each one is not usable."""
    reasons = []
    try:
        import pycuda.driver as drv  # type: ignore[import-not-found]

        drv.init()
        if drv.Device.count() > 0:
            return "pycuda", []
        reasons.append("pycuda sees no CUDA device")
    except ImportError:
        reasons.append("pycuda is not installed (pip install 'storelens[cuda]')")
    except Exception as err:  # the driver's own errors: no driver, no device
        reasons.append(f"pycuda found no usable CUDA driver ({err})")
    try:
        import cupy  # type: ignore[import-not-found]

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return "cupy", reasons
        reasons.append("cupy sees no CUDA device")
    except ImportError:
        reasons.append("cupy is not installed")
    except Exception as err:
        reasons.append(f"cupy found no usable CUDA device ({err})")
    return None, reasons


class PyCudaRunner:
    """The kernels compiled by nvcc through pycuda, on the current device's primary context."""

    name = "pycuda"

    def __init__(self) -> None:
        import pycuda.autoprimaryctx  # type: ignore[import-not-found]  # noqa: F401
        import pycuda.driver as drv
        from pycuda.compiler import SourceModule  # type: ignore[import-not-found]

        self._drv = drv
        self._module = SourceModule(
            kernel_source(),
            options=list(NVCC_FLAGS),
            include_dirs=[str(KERNEL_DIR)],
            no_extern_c=True,
        )

    def launch(self, kernel: str, threads: int, args: Sequence[Arg]) -> None:
        drv = self._drv
        fn = self._module.get_function(kernel)
        values = [
            drv.In(a.array) if isinstance(a, In) else drv.Out(a.array) if isinstance(a, Out) else a
            for a in args
        ]
        fn(*values, block=(BLOCK, 1, 1), grid=(_grid(threads), 1))


class CupyRunner:
    """The kernels compiled by NVRTC through CuPy's `RawModule`."""

    name = "cupy"

    def __init__(self) -> None:
        import cupy

        self._cp = cupy
        self._module = cupy.RawModule(
            code=kernel_source(), options=(*NVCC_FLAGS, f"-I{KERNEL_DIR}")
        )

    def launch(self, kernel: str, threads: int, args: Sequence[Arg]) -> None:
        cp = self._cp
        device: list[Any] = []
        outs = []
        for a in args:
            if isinstance(a, In):
                device.append(cp.asarray(a.array))
            elif isinstance(a, Out):
                buf = cp.empty(a.array.shape, a.array.dtype)
                outs.append((a.array, buf))
                device.append(buf)
            else:
                device.append(a)
        self._module.get_function(kernel)((_grid(threads),), (BLOCK,), tuple(device))
        for host, buf in outs:
            host[...] = cp.asnumpy(buf)


@cache
def gpu_runner(loader: str) -> Runner:
    """The GPU runner of `loader` (pycuda or cupy), compiled once per process."""
    if loader == "pycuda":
        return PyCudaRunner()
    if loader == "cupy":
        return CupyRunner()
    raise ValueError(f"GPU loader {loader!r}: expected one of {', '.join(GPU_LOADERS)}")
