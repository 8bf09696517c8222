"""`keep_freed_memory`: after it, a large freed block is reused instead of page-faulted afresh.

Each case runs in a fresh interpreter, since the setting is process-wide. Page faults are
counted by the kernel (`ru_minflt`), so the test does not depend on how fast the machine is."""

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
from storelens.inference.allocator import keep_freed_memory
applied = (keep_freed_memory() and keep_freed_memory()) if sys.argv[1] == "keep" else False
def churn():
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, twice glibc's largest default mmap threshold
    del block
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    churn()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_freed_large_blocks_are_reused_instead_of_faulted_in_again():
    applied, kept = _faults("keep")
    _, default = _faults("default")
    assert applied
    # glibc's default faults every round's block in again (fewer faults per block where the
    # kernel hands out huge pages, but at least one a round); kept, the block is reused
    assert default >= 10
    assert kept * 10 < default
