"""Geometry against OpenCV's own functions, on the demo store's real cameras and random poses."""

import cv2
import numpy as np
import pytest

from storelens.boxes import foot_points
from storelens.geometry import (
    CameraGeometry,
    apply_homography,
    clip_polygon_to_rect,
    floor_to_image_homography,
    intrinsics_from_hfov,
    look_at_rotation,
    points_in_polygon,
    polygon_area,
    project_points,
)


def random_camera(seed: int):
    rng = np.random.default_rng(seed)
    position = rng.uniform([0, 0, 2.5], [12, 8, 3.5])
    target = np.append(rng.uniform([2, 2], [10, 6]), 0.0)
    R = look_at_rotation(position, target)
    t = -R @ position
    K = intrinsics_from_hfov(640, 480, rng.uniform(60, 110))
    dist = np.array(
        [
            rng.uniform(-0.2, 0.05),
            rng.uniform(-0.02, 0.05),
            rng.uniform(-1e-3, 1e-3),
            rng.uniform(-1e-3, 1e-3),
            rng.uniform(-0.01, 0.01),
        ]
    )
    return K, dist, R, t, position, target


@pytest.mark.parametrize("seed", range(6))
def test_project_points_matches_cv2(seed):
    K, dist, R, t, position, target = random_camera(seed)
    rng = np.random.default_rng(100 + seed)
    # points in front of the camera: around the target, up to 2 m high
    pts = target + rng.uniform([-3, -3, 0], [3, 3, 2], (500, 3))
    ours, depth = project_points(pts, K, R, t, dist)
    rvec, _ = cv2.Rodrigues(R)
    theirs, _ = cv2.projectPoints(pts, rvec, t, K, dist)
    assert (depth > 0).all()
    np.testing.assert_allclose(ours, theirs.reshape(-1, 2), atol=1e-6)


def test_look_at_centres_the_target_and_keeps_up_upward():
    position, target = np.array([1.0, 1.0, 3.0]), np.array([5.0, 4.0, 0.0])
    R = look_at_rotation(position, target)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    K = intrinsics_from_hfov(640, 480, 90)
    px, _ = project_points([target, target + [0, 0, 1]], K, R, -R @ position)
    np.testing.assert_allclose(px[0], [320, 240], atol=1e-9)
    assert px[1, 1] < px[0, 1]  # a point above the target appears higher in the image


def test_straight_down_camera_does_not_degenerate():
    R = look_at_rotation([5, 5, 3], [5, 5, 0])
    assert np.isfinite(R).all() and np.linalg.det(R) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(4))
def test_floor_homography_matches_cv2_find_homography(seed):
    K, _, R, t, _, target = random_camera(seed)
    rng = np.random.default_rng(seed)
    floor = target[:2] + rng.uniform(-2, 2, (40, 2))
    pixels, _ = project_points(np.column_stack([floor, np.zeros(len(floor))]), K, R, t)
    H_cv, _ = cv2.findHomography(floor, pixels)
    H = floor_to_image_homography(K, R, t)
    np.testing.assert_allclose(H, H_cv / H_cv[2, 2], rtol=1e-5, atol=1e-6)
    back = apply_homography(np.linalg.inv(H), pixels)
    np.testing.assert_allclose(back, floor, atol=1e-9)
    theirs = cv2.perspectiveTransform(pixels.reshape(-1, 1, 2), np.linalg.inv(H)).reshape(-1, 2)
    np.testing.assert_allclose(back, theirs, atol=1e-9)


def test_image_to_floor_inverts_projection_with_distortion(demo_layout):
    """A foot point seen by any demo camera maps back to where the person stands."""
    rng = np.random.default_rng(7)
    for cam in demo_layout.cameras:
        geom = cam.geometry()
        fp = geom.footprint(demo_layout.floor.rect)
        lo, hi = fp.min(axis=0), fp.max(axis=0)
        floor = np.column_stack([rng.uniform(lo, hi, (300, 2)), np.zeros(300)])
        px, depth = geom.project(floor)
        visible = (
            (depth > 0) & (px[:, 0] >= 0) & (px[:, 0] < 640) & (px[:, 1] >= 0) & (px[:, 1] < 480)
        )
        assert visible.sum() > 20, cam.camera_id
        back = geom.image_to_floor(px[visible])
        np.testing.assert_allclose(back, floor[visible, :2], atol=2e-3, err_msg=cam.camera_id)


def test_foot_point_of_a_projected_person_lands_at_their_feet(demo_layout):
    geom = demo_layout.camera("ceil-sw").geometry()
    feet = np.array([4.0, 3.0, 0.0])
    body = np.array(
        [feet + [dx, dy, dz] for dx in (-0.2, 0.2) for dy in (-0.15, 0.15) for dz in (0.0, 1.7)]
    )
    px, _ = geom.project(body)
    box = np.array([[px[:, 0].min(), px[:, 1].min(), px[:, 0].max(), px[:, 1].max()]])
    # the bottom-centre of a box is only roughly the feet (perspective), within ~half a body width
    est = geom.image_to_floor(foot_points(box))[0]
    assert np.linalg.norm(est - feet[:2]) < 0.35


def test_homography_only_camera(demo_layout):
    full = demo_layout.camera("ceil-ne").geometry()
    H = full.image_to_floor_homography()
    only_h = CameraGeometry(width=640, height=480, image_to_floor_H=H)
    pts = np.array([[100.0, 400.0], [320.0, 240.0]])
    np.testing.assert_allclose(only_h.image_to_floor(pts), apply_homography(H, pts))
    with pytest.raises(ValueError, match="homography only"):
        only_h.project([[1, 1, 0]])
    assert len(only_h.footprint(demo_layout.floor.rect)) >= 3


def polygon_cv(poly):
    return np.asarray(poly, np.float32).reshape(-1, 1, 2)


@pytest.mark.parametrize(
    "polygon",
    [
        [[0, 0], [4, 0], [4, 3], [0, 3]],
        [[1, 1], [6, 1.5], [7, 5], [3, 7], [0.5, 4]],
        [[0, 0], [6, 0], [6, 6], [3, 2], [0, 6]],  # concave
    ],
)
def test_points_in_polygon_matches_cv2(polygon):
    rng = np.random.default_rng(3)
    pts = rng.uniform(-1, 8, (2000, 2))
    ours = points_in_polygon(pts, polygon)
    dist = np.array(
        [cv2.pointPolygonTest(polygon_cv(polygon), tuple(map(float, p)), True) for p in pts]
    )
    clear = np.abs(dist) > 1e-6  # on-edge points may go either way
    np.testing.assert_array_equal(ours[clear], dist[clear] > 0)
    assert ours.any() and not ours.all()


def test_points_in_polygon_empty():
    assert points_in_polygon(np.zeros((0, 2)), [[0, 0], [1, 0], [1, 1]]).shape == (0,)


def test_clip_polygon_to_rect_against_cv2_intersection():
    poly = np.array([[-2, 1], [5, -1], [7, 4], [1, 6]], float)
    clipped = clip_polygon_to_rect(poly, 0, 0, 4, 3)
    area_cv, _ = cv2.intersectConvexConvex(
        polygon_cv(poly), polygon_cv([[0, 0], [4, 0], [4, 3], [0, 3]])
    )
    assert polygon_area(clipped) == pytest.approx(area_cv, rel=1e-5)
    assert len(clip_polygon_to_rect([[10, 10], [11, 10], [11, 11]], 0, 0, 4, 3)) == 0


def test_downward_camera_footprint_is_the_analytic_rectangle():
    height, hfov = 3.0, 90.0
    K = intrinsics_from_hfov(640, 480, hfov)
    R = look_at_rotation([6, 4, height], [6, 4, 0], up=[0, 1, 0])
    geom = CameraGeometry(640, 480, K=K, dist=np.zeros(5), R=R, t=-R @ np.array([6, 4, height]))
    fp = geom.footprint((0, 0, 12, 8))
    half_w = height * np.tan(np.radians(hfov / 2))
    half_h = half_w * 480 / 640
    assert polygon_area(fp) == pytest.approx(4 * half_w * half_h, rel=1e-3)
    np.testing.assert_allclose(fp.min(axis=0), [6 - half_w, 4 - half_h], atol=1e-6)


def test_tilted_camera_footprint_is_cut_at_range_and_floor(demo_layout):
    geom = demo_layout.camera("shelf-back").geometry()
    fp = geom.footprint(demo_layout.floor.rect, max_range=30)
    assert (fp >= -1e-9).all() and (fp[:, 0] <= 12 + 1e-9).all() and (fp[:, 1] <= 8 + 1e-9).all()
    # it looks towards +y, so it sees the floor in front of it, not behind
    assert fp[:, 1].min() > geom.position[1]
