"""Every camera's view of the simulated store, frame by frame, with its object-id buffer.

Object ids are compact and shared by all cameras: units 1..U, people U+1..U+P, hands after
them (two per person). The static part of each view (floor, walls, shelves and the units on
them) is rendered once per stock change and reused; people and what they hold are drawn on a
copy every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storelens.datasets.sim.appearance import ProductTextures
from storelens.datasets.sim.behaviour import Timeline
from storelens.datasets.sim.body import BodyFrame, body_frames
from storelens.datasets.sim.render import CameraRenderer, Layers
from storelens.datasets.sim.scene import (
    Primitives,
    floor_texture,
    held_units,
    people,
    shelf_units,
    store_scenery,
)
from storelens.datasets.sim.stock import IN_HAND
from storelens.detections import HAND, PERSON, PRODUCT
from storelens.layout import StoreLayout

HAND_ID_BASE = 10_000  # MOT ids: person = gid, hand = 10000 + 2*gid + side, unit = 100000 + index
UNIT_ID_BASE = 100_000


@dataclass(frozen=True)
class ObjectTable:
    """For each compact object id: its class and its global (MOT) identity."""

    class_id: np.ndarray  # (n_objects + 1,), index 0 = scenery
    global_id: np.ndarray


@dataclass
class View:
    """One camera at one frame: output image, output id buffer, per-object visibility."""

    image: np.ndarray  # (H,W,3) uint8, before sensor effects
    oid: np.ndarray  # (H,W) int32
    visible_px: np.ndarray  # (n_objects + 1,) canvas pixels seen, inside the image
    area_px: np.ndarray  # (n_objects + 1,) unoccluded canvas area (0: not in this view)
    canvas_oid: np.ndarray  # (h,w) int32 object ids on the undistorted canvas
    canvas_depth: np.ndarray  # (h,w) float32 depth along the optical axis there


class StoreViews:
    def __init__(
        self,
        layout: StoreLayout,
        timeline: Timeline,
        textures: ProductTextures,
        camera_ids: list[str] | None = None,
    ) -> None:
        self.layout, self.timeline = layout, timeline
        wanted = camera_ids or [c.camera_id for c in layout.cameras]
        self.renderers = {cid: CameraRenderer(layout.camera(cid).geometry()) for cid in wanted}
        U, P = len(timeline.unit_sku), len(timeline.persons)
        self.n_units, self.n_people = U, P
        self.unit_oid = 1 + np.arange(U, dtype=np.int32)
        self.person_oid = 1 + U + np.arange(P, dtype=np.int32)
        self.hand_oid = (1 + U + P + np.arange(2 * P, dtype=np.int32)).reshape(P, 2)
        n = 1 + U + 3 * P
        cls = np.zeros(n, np.int32)
        gid = np.zeros(n, np.int64)
        cls[self.unit_oid], gid[self.unit_oid] = PRODUCT, UNIT_ID_BASE + np.arange(U)
        person_gid = np.array([p.gid for p in timeline.persons], np.int64)
        cls[self.person_oid], gid[self.person_oid] = PERSON, person_gid
        cls[self.hand_oid], gid[self.hand_oid] = (
            HAND,
            HAND_ID_BASE + 2 * person_gid[:, None] + np.arange(2),
        )
        self.objects = ObjectTable(cls, gid)
        # one texture per unit (real photos where available), shared by all cameras
        self.textures: list[np.ndarray] = []
        index: dict[int, int] = {}
        unit_texture = np.zeros(U, np.int32)
        for u, sku in enumerate(timeline.unit_sku):
            image = textures.for_unit(str(sku), u)
            key = id(image)
            if key not in index:
                index[key] = len(self.textures)
                self.textures.append(image)
            unit_texture[u] = index[key]
        self.unit_texture = unit_texture
        # a unit's size is its SKU's; any facing of that SKU tells it
        sku_to_facing = {str(s): i for i, s in enumerate(timeline.facings.sku)}
        self.unit_size = timeline.facings.unit_size[
            [sku_to_facing[str(s)] for s in timeline.unit_sku]
        ]
        self.scenery = store_scenery(layout)
        self.floor_px_per_m = 40.0
        self.floor_image = floor_texture(layout, self.floor_px_per_m)
        self._floor: dict[str, Layers] = {}
        self._static: dict[str, tuple[bytes, Layers, dict[int, int]]] = {}
        self._bodies: tuple[int, np.ndarray, BodyFrame] | None = None

    def _static_layers(self, cid: str, k: int) -> tuple[Layers, dict[int, int]]:
        tl = self.timeline
        key = tl.unit_status[k].tobytes() + tl.unit_facing[k].tobytes() + tl.unit_spot[k].tobytes()
        cached = self._static.get(cid)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        renderer = self.renderers[cid]
        if cid not in self._floor:
            floor = renderer.floor(self.floor_image, self.floor_px_per_m)
            renderer.draw(floor, self.scenery)
            self._floor[cid] = floor
        layers = self._floor[cid].copy()
        solo: dict[int, list] = {}
        units = shelf_units(
            tl.facings,
            tl.unit_status[k],
            tl.unit_facing[k],
            tl.unit_spot[k],
            self.unit_oid,
            self.unit_texture,
            self.textures,
        )
        renderer.draw(layers, units, solo)
        areas = renderer.solo_areas(solo)
        self._static[cid] = (key, layers, areas)
        return layers, areas

    def bodies(self, k: int) -> tuple[np.ndarray, BodyFrame]:
        """The people present at frame k (timeline person indices) and their joints."""
        if self._bodies is not None and self._bodies[0] == k:
            return self._bodies[1], self._bodies[2]
        tl = self.timeline
        active = np.flatnonzero(tl.active[k])
        looks = [tl.persons[i].look for i in active]
        body = body_frames(
            tl.position[k, active],
            tl.heading[k, active],
            np.array([lk.height_m for lk in looks]),
            np.array([lk.shoulder_m for lk in looks]),
            tl.hand_target[k, active],
            tl.hand_ext[k, active],
        )
        self._bodies = (k, active, body)
        return active, body

    def dynamic_primitives(self, k: int) -> Primitives:
        """People, their hands, what they hold and their baskets at frame k."""
        tl = self.timeline
        active, body = self.bodies(k)
        if len(active) == 0:
            return Primitives()
        looks = [tl.persons[i].look for i in active]
        parts = [
            people(
                tl.heading[k, active],
                looks,
                self.person_oid[active],
                self.hand_oid[active],
                body,
                tl.basket[k, active],
            )
        ]
        held = tl.held[k, active]  # (A,2) unit index or -1
        a_idx, hand = np.nonzero(held >= 0)
        if len(a_idx):
            units = held[a_idx, hand]
            in_hand = tl.unit_status[k, units] == IN_HAND
            a_idx, hand, units = a_idx[in_hand], hand[in_hand], units[in_hand]
            sizes = self.unit_size[units]
            parts.append(
                held_units(
                    body.hand[a_idx, hand],
                    tl.heading[k, active][a_idx],
                    sizes,
                    self.unit_oid[units],
                    self.unit_texture[units],
                    self.textures,
                )
            )
        return Primitives.concat(parts)

    def render(self, cid: str, k: int, dynamic: Primitives | None = None) -> View:
        renderer = self.renderers[cid]
        static, static_areas = self._static_layers(cid, k)
        layers = static.copy()
        solo: dict[int, list] = {}
        renderer.draw(layers, dynamic if dynamic is not None else self.dynamic_primitives(k), solo)
        n = len(self.objects.class_id)
        visible = np.bincount(layers.oid[renderer.in_view].ravel(), minlength=n)[:n]
        area = np.zeros(n, np.int64)
        for oid, a in static_areas.items():
            area[oid] = a
        for oid, a in renderer.solo_areas(solo).items():
            area[oid] = a
        image, oid_out = renderer.to_output(layers)
        return View(
            image=image,
            oid=oid_out,
            visible_px=visible,
            area_px=area,
            canvas_oid=layers.oid,
            canvas_depth=layers.depth,
        )
