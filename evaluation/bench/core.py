"""Benchmarks of the core array maths against the libraries that do the same job
(torchvision, OpenCV)."""

from __future__ import annotations

import numpy as np

from storelens.evaluation.bench.rows import BenchRow, time_call


def core_suite(seed: int = 0) -> list[BenchRow]:
    import cv2
    import shapely
    import torch
    import torchvision
    from matplotlib.path import Path as MplPath

    from storelens.boxes import box_iou_batch
    from storelens.geometry import look_at_rotation, points_in_polygon, project_points

    rng = np.random.default_rng(seed)
    rows: list[BenchRow] = []

    def row(operation: str, implementation: str, size: str, fn) -> None:  # type: ignore[no-untyped-def]
        rows.append(
            BenchRow.timed("core", operation, implementation, size, time_call(fn), "ms / call")
        )

    # IoU between the tracks and detections of 64 cameras x 20 people, as one batch.
    n = 1280
    xy = rng.uniform(0, 600, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(20, 120, (n, 2))], axis=1).astype(np.float32)
    boxes_t = torch.from_numpy(boxes)
    size = f"{n}x{n} boxes"
    row(
        "pairwise IoU", "storelens box_iou_batch (numpy)", size, lambda: box_iou_batch(boxes, boxes)
    )
    row(
        "pairwise IoU",
        "torchvision.ops.box_iou (CPU)",
        size,
        lambda: torchvision.ops.box_iou(boxes_t, boxes_t),
    )

    # Projecting 3-D points (e.g. corners of every simulated object) into one camera.
    pts = rng.uniform([0, 0, 0], [12, 8, 2], (20_000, 3))
    R = look_at_rotation([0.4, 0.4, 3.2], [4, 3.6, 0])
    t = -R @ np.array([0.4, 0.4, 3.2])
    K = np.array([[270.0, 0, 320], [0, 270.0, 240], [0, 0, 1]])
    dist = np.array([-0.05, 0.01, 0, 0, 0])
    rvec, _ = cv2.Rodrigues(R)
    row(
        "project points",
        "storelens project_points",
        "20k points",
        lambda: project_points(pts, K, R, t, dist),
    )
    row(
        "project points",
        "cv2.projectPoints",
        "20k points",
        lambda: cv2.projectPoints(pts, rvec, t, K, dist),
    )

    # Which of 2,000 foot points stand in a shelf zone: against vectorised peers.
    foot = rng.uniform(0, 10, (2000, 2))
    poly = np.array([[1, 1], [6, 1.5], [7, 5], [3, 7], [0.5, 4]], float)
    shapely_poly = shapely.Polygon(poly)
    shapely.prepare(shapely_poly)
    mpl_path = MplPath(poly)
    row(
        "point in polygon",
        "storelens points_in_polygon",
        "2k points",
        lambda: points_in_polygon(foot, poly),
    )
    row(
        "point in polygon",
        "shapely.contains_xy (prepared, vectorised)",
        "2k points",
        lambda: shapely.contains_xy(shapely_poly, foot[:, 0], foot[:, 1]),
    )
    row(
        "point in polygon",
        "matplotlib Path.contains_points",
        "2k points",
        lambda: mpl_path.contains_points(foot),
    )
    return rows
