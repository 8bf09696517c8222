"""Ground-truth boxes are the projection of each object's 3-D extent, clipped by occluders.

Built with the real renderer and a real demo camera (ceil-sw has lens distortion), on scenes
whose answer is known from geometry alone.
"""

import numpy as np
import pytest

from storelens.datasets.sim.groundtruth import frame_boxes
from storelens.datasets.sim.render import CameraRenderer
from storelens.datasets.sim.scene import Primitives, axis_aligned, flat
from storelens.datasets.sim.views import PRODUCT, ObjectTable, View


def render_boxes(geometry, prims):
    renderer = CameraRenderer(geometry)
    layers = renderer.blank()
    solo: dict = {}
    renderer.draw(layers, prims, solo)
    n = 3
    visible = np.bincount(layers.oid[renderer.in_view].ravel(), minlength=n)[:n]
    area = np.zeros(n, np.int64)
    for oid, a in renderer.solo_areas(solo).items():
        area[oid] = a
    image, oid_out = renderer.to_output(layers)
    objects = ObjectTable(np.array([0, PRODUCT, PRODUCT]), np.array([0, 1, 2]))
    return frame_boxes(View(image, oid_out, visible, area, layers.oid, layers.depth), objects)


def projected_box(geometry, lo, hi):
    corners = axis_aligned(np.array(lo, float), np.array(hi, float))[0]
    px, depth = geometry.project(corners)
    assert (depth > 0).all()
    return px.min(axis=0), px.max(axis=0)


@pytest.mark.parametrize("camera", ["ceil-sw", "ceil-ne", "shelf-fruit"])
def test_unoccluded_box_is_the_projected_extent(demo_layout, camera):
    geom = demo_layout.camera(camera).geometry()
    target = geom.footprint(demo_layout.floor.rect).mean(axis=0)
    lo, hi = [target[0] - 0.3, target[1] - 0.2, 0.0], [target[0] + 0.3, target[1] + 0.2, 1.2]
    boxes = render_boxes(
        geom, flat(axis_aligned(np.array(lo), np.array(hi)), np.array([200, 50, 50]), 1)
    )
    assert boxes.oid.tolist() == [1]
    (x0, y0), (x1, y1) = projected_box(geom, lo, hi)
    left, top, w, h = boxes.tlwh[0]
    # pixel centres vs continuous corners, and curved edges under distortion: within 2 px
    np.testing.assert_allclose([left, top, left + w, top + h], [x0, y0, x1, y1], atol=2.0)
    assert boxes.visibility[0] == pytest.approx(1.0, abs=0.02)


def test_occluded_box_is_clipped_by_the_occluder(demo_layout):
    """A tall box hidden on its left by a nearer wall: the box starts where the wall ends."""
    geom = demo_layout.camera("shelf-fruit").geometry()  # looks along +y from (3.5, 2.0)
    obj_lo, obj_hi = [3.0, 4.0, 0.0], [4.0, 4.3, 1.0]
    wall_lo, wall_hi = [2.5, 3.0, 0.0], [3.5, 3.05, 2.0]  # nearer, covers x < 3.5
    prims = Primitives.concat(
        [
            flat(axis_aligned(np.array(obj_lo), np.array(obj_hi)), np.array([200, 60, 60]), 1),
            flat(axis_aligned(np.array(wall_lo), np.array(wall_hi)), np.array([90, 90, 90]), 0),
        ]
    )
    boxes = render_boxes(geom, prims)
    (x0, y0), (x1, y1) = projected_box(geom, obj_lo, obj_hi)
    # the wall's right edge (x = 3.5) seen at the object's depth bounds the visible part
    (_, _), (wall_x1, _) = projected_box(geom, wall_lo, wall_hi)
    left, top, w, h = boxes.tlwh[0]
    assert left == pytest.approx(wall_x1, abs=2.0)
    assert left + w == pytest.approx(x1, abs=2.0)
    assert top == pytest.approx(y0, abs=2.0) and top + h == pytest.approx(y1, abs=2.0)
    expected_visible = (x1 - wall_x1) / (x1 - x0)
    assert boxes.visibility[0] == pytest.approx(expected_visible, abs=0.05)


def test_fully_hidden_object_has_no_box(demo_layout):
    geom = demo_layout.camera("shelf-fruit").geometry()
    prims = Primitives.concat(
        [
            flat(
                axis_aligned(np.array([3.3, 4.0, 0.2]), np.array([3.7, 4.2, 0.6])),
                np.array([200, 60, 60]),
                1,
            ),
            flat(
                axis_aligned(np.array([2.0, 3.0, 0.0]), np.array([5.0, 3.05, 2.5])),
                np.array([90, 90, 90]),
                0,
            ),
        ]
    )
    assert len(render_boxes(geom, prims).oid) == 0


def test_nearer_object_wins_regardless_of_draw_order(demo_layout):
    geom = demo_layout.camera("shelf-fruit").geometry()
    # seen from (3.5, 2.0, 2.2) the far box spans z 1.28..1.78 at y = 3.05; the near box sits there
    near = flat(
        axis_aligned(np.array([3.4, 3.0, 1.2]), np.array([3.6, 3.1, 1.9])), np.array([0, 0, 255]), 1
    )
    far = flat(
        axis_aligned(np.array([3.0, 4.5, 0.0]), np.array([4.0, 4.6, 1.2])), np.array([0, 255, 0]), 2
    )
    for prims in (Primitives.concat([near, far]), Primitives.concat([far, near])):
        boxes = render_boxes(geom, prims)
        vis = dict(zip(boxes.oid.tolist(), boxes.visibility.tolist(), strict=True))
        assert vis[1] == pytest.approx(1.0, abs=0.02) and 0.2 < vis[2] < 0.8
