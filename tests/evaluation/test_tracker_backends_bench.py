"""The tracker-backends benchmark suite on a tiny store: one row per backend, and its page."""

from storelens.evaluation.bench.suites import suites
from storelens.evaluation.bench.tracker_backends import backends_suite


def test_tiny_run_writes_rows_and_the_page(tmp_path):
    assert "tracker-backends" in suites()
    page = tmp_path / "tracker-backends.md"
    rows = backends_suite(cameras=(2,), people=4, frames={2: 6}, repeats=1, page=page)
    assert [r.implementation for r in rows][:2] == ["numpy", "cuda-shim"]
    assert all(r.value > 0 and r.unit == "camera-frames / s" for r in rows)
    assert all(r.size == "2 cams x 4 people x 6 frames" for r in rows)
    text = page.read_text()
    assert "# Benchmark: tracker-backends" in text and "| camera-frames / s | cuda-shim |" in text
    assert "cuda" in text and ("wait for a machine with one" in text or "ran on the GPU" in text)
    assert page.with_suffix(".csv").read_text().count("\n") == len(rows) + 1
