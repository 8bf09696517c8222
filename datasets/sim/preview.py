"""A contact sheet of a simulated store: frames of every camera at a few instants with the
ground truth drawn on them (people with their ids and skeletons, hands, products), to look at."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from storelens.datasets.formats.keypoints import KEYPOINTS_FILE, KeypointTable, read_keypoints
from storelens.datasets.formats.mot import read_mot
from storelens.datasets.sim.views import HAND, PERSON, PRODUCT
from storelens.datasets.sim.writer import CAMERAS_DIR
from storelens.drawing import draw_skeleton, put_label

COLOURS = {PERSON: (60, 220, 60), HAND: (0, 220, 255), PRODUCT: (255, 140, 40)}
SKELETON_COLOUR = (255, 80, 220)


def _frames(video: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out: dict[int, np.ndarray] = {}
    index = 0
    while len(out) < len(wanted):
        ok, frame = cap.read()
        if not ok:
            break
        index += 1
        if index in wanted:
            out[index] = frame
    cap.release()
    return out


def draw_ground_truth(
    frame: np.ndarray,
    gt,
    frame_no: int,
    products: bool = True,
    keypoints: KeypointTable | None = None,
) -> np.ndarray:
    img = frame.copy()
    rows = gt.select(gt.frame == frame_no)
    order = np.argsort(-rows.class_id)  # products first, people on top
    for i in order:
        cls = int(rows.class_id[i])
        if cls == PRODUCT and not products:
            continue
        x, y, w, h = rows.tlwh[i]
        p0, p1 = (int(x), int(y)), (int(x + w - 1), int(y + h - 1))
        cv2.rectangle(img, p0, p1, COLOURS.get(cls, (255, 255, 255)), 1 if cls == PRODUCT else 2)
        if cls == PERSON:
            label = f"{int(rows.track_id[i])} v{rows.visibility[i]:.2f}"
            put_label(img, label, (p0[0], max(10, p0[1] - 3)), COLOURS[PERSON], 0.4)
    if keypoints is not None:
        draw_skeleton(img, keypoints.keypoints[keypoints.frame == frame_no], SKELETON_COLOUR)
    return img


def contact_sheet(
    sim_dir: str | Path,
    out_path: str | Path | None = None,
    instants: int = 3,
    tile_width: int = 400,
) -> Path:
    """Write `preview.png` in `sim_dir` (or `out_path`): rows = instants, columns = cameras."""
    sim = Path(sim_dir)
    cams = sorted(p for p in (sim / CAMERAS_DIR).iterdir() if (p / "video.mp4").is_file())
    if not cams:
        raise FileNotFoundError(f"{sim}: no rendered cameras (simulate without --no-render)")
    rows = []
    for cam in cams:
        gt = read_mot(cam / "gt" / "gt.txt")
        kp_file = cam / "gt" / KEYPOINTS_FILE
        keypoints = read_keypoints(kp_file) if kp_file.is_file() else None
        n = int(gt.frame.max()) if len(gt) else 1
        wanted = [max(1, int(round(n * f))) for f in np.linspace(0.25, 0.85, instants)]
        frames = _frames(cam / "video.mp4", wanted)
        tiles = []
        for f in wanted:
            img = (
                draw_ground_truth(frames[f], gt, f, keypoints=keypoints)
                if f in frames
                else np.zeros((480, 640, 3), np.uint8)
            )
            scale = tile_width / img.shape[1]
            img = cv2.resize(
                img, (tile_width, int(img.shape[0] * scale)), interpolation=cv2.INTER_AREA
            )
            put_label(img, f"{cam.name}  frame {f}", (6, 18), (255, 255, 255), 0.55, banner=True)
            tiles.append(img)
        rows.append(np.hstack(tiles))
    sheet = np.vstack(rows)
    path = Path(out_path) if out_path else sim / "preview.png"
    cv2.imwrite(str(path), sheet)
    return path
