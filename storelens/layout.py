"""The store layout: floor, cameras, shelves with their planogram, lanes, gates, catalogue.

One YAML file per store under `configs/stores/` is validated into `StoreLayout` (pydantic,
unknown keys refused). Everything is in the store frame in metres (see `storelens.geometry`).
Cross-references (planogram SKUs, polygons inside the floor, unique ids) are checked here, so
later stages can trust a loaded layout.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from storelens.config import load_config
from storelens.geometry import CameraGeometry, intrinsics_from_hfov, look_at_rotation

StableId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", min_length=1, max_length=64)
]
Point2 = tuple[float, float]
Point3 = tuple[float, float, float]
Polygon = Annotated[list[Point2], Field(min_length=3)]
PositiveFloat = Annotated[float, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Floor(_Model):
    width_m: PositiveFloat = Field(description="extent along the store x axis")
    depth_m: PositiveFloat = Field(description="extent along the store y axis")
    ceiling_m: PositiveFloat = 3.0

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (0.0, 0.0, self.width_m, self.depth_m)


class Intrinsics(_Model):
    """Either the pinhole parameters in pixels or a horizontal field of view."""

    fx: PositiveFloat | None = None
    fy: PositiveFloat | None = None
    cx: float | None = None
    cy: float | None = None
    hfov_deg: Annotated[float, Field(gt=1, lt=179)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Intrinsics:
        explicit = [self.fx, self.fy, self.cx, self.cy]
        if self.hfov_deg is None and any(v is None for v in explicit):
            raise ValueError("give fx, fy, cx, cy or hfov_deg")
        if self.hfov_deg is not None and any(v is not None for v in explicit):
            raise ValueError("give either fx, fy, cx, cy or hfov_deg, not both")
        return self

    def matrix(self, width: int, height: int) -> np.ndarray:
        if self.hfov_deg is not None:
            return intrinsics_from_hfov(width, height, self.hfov_deg)
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=float)


class Pose(_Model):
    """Camera pose: `position` + `look_at` (+ optional `up`), or OpenCV's `rvec` + `tvec`."""

    position: Point3 | None = None
    look_at: Point3 | None = None
    up: Point3 = (0.0, 0.0, 1.0)
    rvec: Point3 | None = None
    tvec: Point3 | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Pose:
        look = self.position is not None and self.look_at is not None
        opencv = self.rvec is not None and self.tvec is not None
        if look == opencv:
            raise ValueError("give position + look_at, or rvec + tvec (exactly one form)")
        if look and np.allclose(self.position, self.look_at):  # type: ignore[arg-type]
            raise ValueError(f"look_at {self.look_at} equals position")
        return self

    def rotation_translation(self) -> tuple[np.ndarray, np.ndarray]:
        """World→camera (R (3,3), t (3,))."""
        if self.rvec is not None and self.tvec is not None:
            import cv2

            R, _ = cv2.Rodrigues(np.asarray(self.rvec, float))
            return R, np.asarray(self.tvec, float)
        R = look_at_rotation(self.position, self.look_at, self.up)  # type: ignore[arg-type]
        return R, -R @ np.asarray(self.position, float)


class Camera(_Model):
    camera_id: StableId
    kind: Literal["ceiling", "shelf"]
    stream_uri: str = Field(min_length=1, description="rtsp://..., a video file, or sim://")
    resolution: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] = (640, 480)
    fps: Annotated[float, Field(gt=0, le=240)] = 10.0
    intrinsics: Intrinsics | None = None
    distortion: Annotated[list[float], Field(min_length=4, max_length=5)] = [0.0] * 5
    pose: Pose | None = None
    homography: (
        Annotated[
            list[Annotated[list[float], Field(min_length=3, max_length=3)]],
            Field(min_length=3, max_length=3),
        ]
        | None
    ) = Field(default=None, description="image→floor 3x3 homography, when no calibration exists")

    @model_validator(mode="after")
    def _geometry_given(self) -> Camera:
        if (self.intrinsics is None) != (self.pose is None):
            raise ValueError("intrinsics and pose go together: give both or neither")
        if self.pose is None and self.homography is None:
            raise ValueError("give intrinsics + pose, or an image→floor homography")
        if self.homography is not None and abs(np.linalg.det(np.asarray(self.homography))) < 1e-12:
            raise ValueError(f"homography {self.homography} is singular")
        return self

    def geometry(self) -> CameraGeometry:
        width, height = self.resolution
        H = None if self.homography is None else np.asarray(self.homography, float)
        if self.pose is None or self.intrinsics is None:
            return CameraGeometry(width=width, height=height, image_to_floor_H=H)
        R, t = self.pose.rotation_translation()
        return CameraGeometry(
            width=width,
            height=height,
            K=self.intrinsics.matrix(width, height),
            dist=np.asarray(self.distortion, float),
            R=R,
            t=t,
            image_to_floor_H=H,
        )


class Facing(_Model):
    """One planogram slot: which SKU sits at which shelf level and slot."""

    sku: StableId
    level: Annotated[int, Field(ge=0)]
    slot: Annotated[int, Field(ge=0)]
    capacity: Annotated[int, Field(ge=1)] = 6


class ShelfUnit(_Model):
    shelf_id: StableId
    polygon: Polygon
    front_edge: Annotated[int, Field(ge=0)] = Field(
        0, description="index i of the polygon edge (i → i+1) that faces the aisle"
    )
    height_m: PositiveFloat
    levels: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)] = Field(
        description="height of each shelf board above the floor, bottom first"
    )
    slots_per_level: Annotated[int, Field(ge=1)]
    planogram: list[Facing] = []

    @model_validator(mode="after")
    def _consistent(self) -> ShelfUnit:
        if self.front_edge >= len(self.polygon):
            raise ValueError(
                f"front_edge {self.front_edge} does not exist: the polygon has "
                f"{len(self.polygon)} edges"
            )
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ValueError(f"levels {self.levels} must increase from the bottom board up")
        if self.levels[-1] >= self.height_m:
            raise ValueError(f"top level {self.levels[-1]} m is not below height_m {self.height_m}")
        seen: set[tuple[int, int]] = set()
        for i, f in enumerate(self.planogram):
            if f.level >= len(self.levels):
                raise ValueError(
                    f"planogram[{i}].level: {f.level} but the unit has {len(self.levels)} levels"
                )
            if f.slot >= self.slots_per_level:
                raise ValueError(
                    f"planogram[{i}].slot: {f.slot} but slots_per_level is {self.slots_per_level}"
                )
            if (f.level, f.slot) in seen:
                raise ValueError(f"planogram[{i}]: level {f.level} slot {f.slot} is used twice")
            seen.add((f.level, f.slot))
        return self

    def front_segment(self) -> tuple[np.ndarray, np.ndarray]:
        """The aisle-facing edge as two floor points (2,), (2,)."""
        a = np.asarray(self.polygon[self.front_edge], float)
        b = np.asarray(self.polygon[(self.front_edge + 1) % len(self.polygon)], float)
        return a, b

    def facing_centre(self, level: int, slot: int) -> np.ndarray:
        """Store-frame point (3,) at the front of a facing, a little above its board."""
        a, b = self.front_segment()
        frac = (slot + 0.5) / self.slots_per_level
        xy = a + frac * (b - a)
        top = self.levels[level + 1] if level + 1 < len(self.levels) else self.height_m
        return np.array([xy[0], xy[1], (self.levels[level] + top) / 2])


class CheckoutLane(_Model):
    lane_id: StableId
    polygon: Polygon
    pos_terminal_id: StableId


class RfidGate(_Model):
    gate_id: StableId
    polygon: Polygon
    reader_ids: Annotated[list[StableId], Field(min_length=1)]


class Entrance(_Model):
    entrance_id: StableId
    polygon: Polygon
    direction: Literal["in", "out", "both"] = "both"


class Product(_Model):
    sku: StableId
    name: str = Field(min_length=1)
    size_m: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = Field(
        description="width, height, depth of one unit"
    )
    price: Annotated[float, Field(ge=0)]
    rfid_tagged: bool = False
    grocery_class: str | None = Field(
        default=None, description="GroceryStoreDataset fine class whose photos show this SKU"
    )


class StoreLayout(_Model):
    """A whole store; load one with `StoreLayout.from_yaml(path)`."""

    store_id: StableId
    name: str = ""
    timezone: str = "UTC"
    floor: Floor
    cameras: Annotated[list[Camera], Field(min_length=1)]
    shelves: list[ShelfUnit] = []
    checkout_lanes: list[CheckoutLane] = []
    rfid_gates: list[RfidGate] = []
    entrances: Annotated[list[Entrance], Field(min_length=1)]
    catalogue: list[Product] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> StoreLayout:
        groups = {
            "cameras": [c.camera_id for c in self.cameras],
            "shelves": [s.shelf_id for s in self.shelves],
            "checkout_lanes": [lane.lane_id for lane in self.checkout_lanes],
            "rfid_gates": [g.gate_id for g in self.rfid_gates],
            "entrances": [e.entrance_id for e in self.entrances],
            "catalogue": [p.sku for p in self.catalogue],
            "checkout_lanes[*].pos_terminal_id": [ln.pos_terminal_id for ln in self.checkout_lanes],
            "rfid_gates[*].reader_ids": [r for g in self.rfid_gates for r in g.reader_ids],
        }
        for field, ids in groups.items():
            dupes = sorted(k for k, n in Counter(ids).items() if n > 1)
            if dupes:
                raise ValueError(f"{field}: duplicate id(s) {dupes}")
        skus = set(groups["catalogue"])
        for i, shelf in enumerate(self.shelves):
            for j, facing in enumerate(shelf.planogram):
                if facing.sku not in skus:
                    raise ValueError(
                        f"shelves[{i}].planogram[{j}].sku: {facing.sku!r} is not in the catalogue"
                    )
        w, d = self.floor.width_m, self.floor.depth_m
        polygons = [(f"shelves[{i}]", s.polygon) for i, s in enumerate(self.shelves)]
        polygons += [
            (f"checkout_lanes[{i}]", ln.polygon) for i, ln in enumerate(self.checkout_lanes)
        ]
        polygons += [(f"rfid_gates[{i}]", g.polygon) for i, g in enumerate(self.rfid_gates)]
        polygons += [(f"entrances[{i}]", e.polygon) for i, e in enumerate(self.entrances)]
        for where, poly in polygons:
            pts = np.asarray(poly)
            outside = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > d)
            if outside.any():
                bad = pts[outside][0].tolist()
                raise ValueError(f"{where}.polygon: point {bad} lies outside the {w} x {d} m floor")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> StoreLayout:
        return load_config(path, cls)

    def camera(self, camera_id: str) -> Camera:
        for cam in self.cameras:
            if cam.camera_id == camera_id:
                return cam
        raise KeyError(f"store {self.store_id!r} has no camera {camera_id!r}")

    def product(self, sku: str) -> Product:
        for product in self.catalogue:
            if product.sku == sku:
                return product
        raise KeyError(f"store {self.store_id!r} has no SKU {sku!r}")

    @property
    def planogram_skus(self) -> list[str]:
        """Distinct SKUs that sit on some shelf, in first-seen order."""
        return list(dict.fromkeys(f.sku for s in self.shelves for f in s.planogram))
