"""Real footage through the live ingest path: a CAVIAR shopping-centre clip served by a real
GStreamer RTSP server, read, detected and tracked by the code a store worker runs, and saved
as tracks and an annotated video (`storelens stream`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from storelens.serving.rtsp_server import rtsp_server_problem

pytestmark = pytest.mark.slow
CLIP = "caviar-shopping/07_shopping_center_entry_corridor_cctv.mp4"  # 15.3 s at 25 fps


@pytest.mark.skipif(rtsp_server_problem() is not None, reason=str(rtsp_server_problem()))
def test_a_real_clip_streams_over_rtsp_into_tracks_and_an_annotated_video(shared_data, tmp_path):
    clip = shared_data / CLIP
    answer = subprocess.run(
        [
            str(Path(sys.executable).with_name("storelens")),
            "stream",
            str(clip),
            "--out",
            str(tmp_path),
            "--rate",
            "2",
            "--sample-fps",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert "serving 1 RTSP streams" in answer.stdout
    rows = np.loadtxt(tmp_path / f"{clip.stem}.csv", delimiter=",", ndmin=2)
    # tracks span the clip (seconds into it) and were sampled at about 5 per second
    assert rows[:, 0].min() < 2.0 and rows[:, 0].max() > 13.0, rows[:, 0]
    assert 50 <= len(np.unique(rows[:, 0])) <= 80
    video = cv2.VideoCapture(str(tmp_path / f"{clip.stem}.mp4"))
    source = cv2.VideoCapture(str(clip))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == int(source.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, drawn = video.read()
    ok2, original = source.read()
    assert ok and ok2 and drawn.shape == original.shape
