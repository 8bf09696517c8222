"""The 3-D contents of one instant as arrays of primitives, ready to rasterise.

Two primitive kinds cover the store: cuboids (shelves, walls, product units, body parts, baskets)
given by their 8 corners, and spheres (heads, hair, hands). Each primitive carries an object id
— which ground-truth object its pixels belong to (0: scenery, never labelled) — and a colour or
a texture per face. Static scenery (floor, walls, shelf structure, stocked units) is separated
from the dynamic part (people, what they hold) so each camera re-draws only what moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from storelens.datasets.sim.body import (
    HAND_RADIUS_M,
    HEAD_RADIUS_PER_HEIGHT,
    TORSO_PER_HEIGHT,
    BodyFrame,
)
from storelens.datasets.sim.stock import ON_SHELF, Facings
from storelens.layout import StoreLayout

# Corner order: bit 0 → +x half-axis, bit 1 → +y, bit 2 → +z.
_SIGNS = np.array(
    [[(i & 1) * 2 - 1, ((i >> 1) & 1) * 2 - 1, ((i >> 2) & 1) * 2 - 1] for i in range(8)], float
)
# Faces as corner indices, counter-clockwise seen from outside; order: -x +x -y +y -z +z.
CUBOID_FACES = np.array(
    [[0, 4, 6, 2], [1, 3, 7, 5], [0, 1, 5, 4], [2, 6, 7, 3], [0, 2, 3, 1], [4, 5, 7, 6]]
)
FACE_SHADE = np.array([0.78, 0.86, 0.92, 0.72, 0.55, 1.0])  # light from above and slightly front
WOOD = np.array([90, 140, 185], float)  # BGR
METAL = np.array([170, 170, 165], float)
BASKET = np.array([170, 90, 30], float)


@dataclass
class Primitives:
    """Cuboids (M,8,3) and spheres (S,) with their object ids and looks.

    `face_texture[m, f]` is an index into `textures` or -1 for the flat `face_colour[m, f]`.
    """

    corners: np.ndarray = field(default_factory=lambda: np.zeros((0, 8, 3)))
    cuboid_oid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    face_colour: np.ndarray = field(default_factory=lambda: np.zeros((0, 6, 3)))
    face_texture: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.int32))
    sphere_centre: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    sphere_radius: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sphere_colour: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    sphere_oid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    textures: list[np.ndarray] = field(default_factory=list)

    @staticmethod
    def concat(parts: list[Primitives]) -> Primitives:
        out = Primitives()
        offset = 0
        tex_idx = []
        for p in parts:
            tex_idx.append(np.where(p.face_texture >= 0, p.face_texture + offset, -1))
            out.textures.extend(p.textures)
            offset += len(p.textures)
        out.corners = np.concatenate([p.corners for p in parts]) if parts else out.corners
        out.cuboid_oid = np.concatenate([p.cuboid_oid for p in parts]).astype(np.int32)
        out.face_colour = np.concatenate([p.face_colour for p in parts])
        out.face_texture = np.concatenate(tex_idx).astype(np.int32)
        out.sphere_centre = np.concatenate([p.sphere_centre for p in parts])
        out.sphere_radius = np.concatenate([p.sphere_radius for p in parts])
        out.sphere_colour = np.concatenate([p.sphere_colour for p in parts])
        out.sphere_oid = np.concatenate([p.sphere_oid for p in parts]).astype(np.int32)
        return out


def cuboid_corners(centre: np.ndarray, half_axes: np.ndarray) -> np.ndarray:
    """(M,3) centres and (M,3,3) half-axis vectors (rows: x, y, z axes) → (M,8,3) corners."""
    return centre[:, None, :] + np.einsum("ki,mij->mkj", _SIGNS, half_axes)


def axis_aligned(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(M,3) min and max corners → (M,8,3) corners."""
    lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
    half = (hi - lo) / 2
    return cuboid_corners((lo + hi) / 2, half[:, :, None] * np.eye(3)[None])


def flat(corners: np.ndarray, colour: np.ndarray, oid: np.ndarray | int = 0) -> Primitives:
    m = len(corners)
    colours = np.broadcast_to(np.asarray(colour, float).reshape(-1, 1, 3), (m, 1, 3))
    return Primitives(
        corners=corners,
        cuboid_oid=np.broadcast_to(np.asarray(oid, np.int32), (m,)).copy(),
        face_colour=colours * FACE_SHADE[None, :, None],
        face_texture=np.full((m, 6), -1, np.int32),
    )


# ------------------------------------------------------------------ static scenery
def store_scenery(layout: StoreLayout) -> Primitives:
    """Walls, shelf units (back, sides, boards), lane kiosks and RFID gate pillars."""
    w, d, h = layout.floor.width_m, layout.floor.depth_m, layout.floor.ceiling_m
    t = 0.1
    walls_lo = np.array([[-t, -t, 0], [w, -t, 0], [-t, -t, 0], [-t, d, 0]])
    walls_hi = np.array([[0, d + t, h], [w + t, d + t, h], [w + t, 0, h], [w + t, d + t, h]])
    parts = [flat(axis_aligned(walls_lo, walls_hi), np.array([205, 215, 220]))]
    for shelf in layout.shelves:
        poly = np.asarray(shelf.polygon, float)
        lo, hi = poly.min(axis=0), poly.max(axis=0)
        a, b = shelf.front_segment()
        inward_axis = 1 if abs(b[1] - a[1]) < abs(b[0] - a[0]) else 0
        along_axis = 1 - inward_axis
        boards_lo, boards_hi = [], []
        for z in shelf.levels:
            boards_lo.append([lo[0], lo[1], z - 0.03])
            boards_hi.append([hi[0], hi[1], z])
        # back panel on the side away from the front edge, side panels at both ends
        back_lo, back_hi = np.append(lo, 0.0), np.append(hi, shelf.height_m)
        centre = (lo + hi) / 2
        if a[inward_axis] < centre[inward_axis]:  # front at the low side: back at the high side
            back_lo[inward_axis] = hi[inward_axis] - 0.04
        else:
            back_hi[inward_axis] = lo[inward_axis] + 0.04
        sides_lo = [np.append(lo, 0.0), np.append(lo, 0.0)]
        sides_hi = [np.append(hi, shelf.height_m), np.append(hi, shelf.height_m)]
        sides_hi[0][along_axis] = lo[along_axis] + 0.03
        sides_lo[1][along_axis] = hi[along_axis] - 0.03
        base_lo, base_hi = np.append(lo, 0.0), np.append(hi, min(shelf.levels[0], 0.12))
        parts.append(flat(axis_aligned(np.array(boards_lo), np.array(boards_hi)), METAL))
        parts.append(
            flat(
                axis_aligned(
                    np.array([back_lo, *sides_lo, base_lo]), np.array([back_hi, *sides_hi, base_hi])
                ),
                WOOD,
            )
        )
    for lane in layout.checkout_lanes:
        poly = np.asarray(lane.polygon, float)
        lo, hi = poly.min(axis=0), poly.max(axis=0)
        kiosk_lo = np.array([lo[0] + 0.05, lo[1] + 0.2, 0.0])
        kiosk_hi = np.array([lo[0] + 0.35, lo[1] + 0.5, 1.1])
        parts.append(flat(axis_aligned(kiosk_lo, kiosk_hi), np.array([60, 60, 70])))
    for gate in layout.rfid_gates:
        poly = np.asarray(gate.polygon, float)
        lo, hi = poly.min(axis=0), poly.max(axis=0)
        y0 = (lo[1] + hi[1]) / 2 - 0.1
        pillars_lo = np.array([[lo[0], y0, 0], [hi[0] - 0.12, y0, 0]])
        pillars_hi = np.array([[lo[0] + 0.12, y0 + 0.2, 1.5], [hi[0], y0 + 0.2, 1.5]])
        parts.append(flat(axis_aligned(pillars_lo, pillars_hi), np.array([200, 200, 210])))
    return Primitives.concat(parts)


def shelf_units(
    facings: Facings,
    unit_status: np.ndarray,
    unit_facing: np.ndarray,
    unit_spot: np.ndarray,
    unit_oid: np.ndarray,
    unit_texture: np.ndarray,
    textures: list[np.ndarray],
) -> Primitives:
    """Every unit standing on a shelf as a textured cuboid (front face: its photo)."""
    on = np.flatnonzero(unit_status == ON_SHELF)
    f = unit_facing[on]
    centres = facings.spot_centres(f, unit_spot[on])
    size = facings.unit_size[f]
    half_axes = np.stack(
        [facings.front_dir[f] * size[:, 0:1] / 2, facings.inward[f] * size[:, 2:3] / 2], axis=1
    )
    half_axes = np.concatenate(
        [np.pad(half_axes, ((0, 0), (0, 0), (0, 1))), np.zeros((len(on), 1, 3))], axis=1
    )
    half_axes[:, 2, 2] = size[:, 1] / 2
    corners = cuboid_corners(centres, half_axes)
    prims = _textured_units(corners, unit_oid[on], unit_texture[on], textures, front_face=2)
    return prims


def _textured_units(
    corners: np.ndarray,
    oid: np.ndarray,
    texture: np.ndarray,
    textures: list[np.ndarray],
    front_face: int,
) -> Primitives:
    """Units whose `front_face` (the -y face in their own axes) shows their texture."""
    mean_colour = (
        np.array([t.reshape(-1, 3).mean(axis=0) for t in textures])
        if textures
        else np.zeros((1, 3))
    )
    colours = mean_colour[texture][:, None, :] * FACE_SHADE[None, :, None]
    face_texture = np.full((len(corners), 6), -1, np.int32)
    face_texture[:, front_face] = texture
    face_texture[:, front_face + 1] = texture  # the back shows the same pack
    return Primitives(
        corners=corners,
        cuboid_oid=oid.astype(np.int32),
        face_colour=colours,
        face_texture=face_texture,
        textures=list(textures),
    )


# ------------------------------------------------------------------ people
def _limb(start: np.ndarray, end: np.ndarray, thickness: float) -> np.ndarray:
    """(N,3),(N,3) → (N,3,3) half-axes of a cuboid running from start to end."""
    axis = end - start
    length = np.linalg.norm(axis, axis=1, keepdims=True)
    u = axis / np.maximum(length, 1e-9)
    helper = np.where(np.abs(u[:, 2:3]) > 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 0, 1.0]]))
    v = np.cross(u, helper)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    w = np.cross(u, v)
    return np.stack([u * length / 2, v * thickness / 2, w * thickness / 2], axis=1)


def people(
    heading: np.ndarray,
    looks: list,
    person_oid: np.ndarray,
    hand_oid: np.ndarray,
    body: BodyFrame,
    basket: np.ndarray,
) -> Primitives:
    """Thighs, shins, torso, upper arms and forearms (cuboids), head, hair and hands (spheres),
    baskets for P people posed as `body` says."""
    P = len(heading)
    if P == 0:
        return Primitives()
    height = np.array([lk.height_m for lk in looks])
    width = np.array([lk.shoulder_m for lk in looks])
    depth = np.array([lk.depth_m for lk in looks])
    fwd = np.stack([np.cos(heading), np.sin(heading), np.zeros(P)], axis=1)
    left = np.stack([-np.sin(heading), np.cos(heading), np.zeros(P)], axis=1)
    up = np.array([0, 0, 1.0])

    def limbs(segments: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
        return np.concatenate(
            [cuboid_corners((a + b) / 2, _limb(a, b, thick)) for a, b, thick in segments]
        )

    thigh_top = body.hip + (body.pelvis - body.hip.mean(axis=1))[:, None]  # at the pelvis
    legs = limbs(
        [(thigh_top[:, s], body.knee[:, s], 0.15) for s in (0, 1)]
        + [(body.knee[:, s], body.foot[:, s], 0.14) for s in (0, 1)]
    )
    torso_h = TORSO_PER_HEIGHT * height
    axis, forward = body.torso_axis, body.torso_forward
    torso = cuboid_corners(
        body.pelvis + axis * (torso_h / 2)[:, None],
        np.stack(
            [
                forward * (depth / 2)[:, None],
                left * (width / 2)[:, None],
                axis * (torso_h / 2)[:, None],
            ],
            axis=1,
        ),
    )
    arms = limbs(
        [(body.shoulder[:, s], body.elbow[:, s], 0.09) for s in (0, 1)]
        + [(body.elbow[:, s], body.hand[:, s], 0.075) for s in (0, 1)]
    )
    trousers = np.array([lk.trousers for lk in looks], float)
    shirt = np.array([lk.shirt for lk in looks], float)
    textures = [lk.shirt_texture() for lk in looks]
    torso_tex = np.full((P, 6), -1, np.int32)
    torso_tex[:, :4] = np.arange(P)[:, None]  # the four vertical faces wear the shirt pattern
    parts = [
        flat(legs, np.concatenate([trousers] * 4), np.tile(person_oid, 4)),
        Primitives(
            corners=torso,
            cuboid_oid=person_oid.astype(np.int32),
            face_colour=shirt[:, None, :] * FACE_SHADE[None, :, None],
            face_texture=torso_tex,
            textures=textures,
        ),
        flat(arms, np.concatenate([shirt] * 4), np.tile(person_oid, 4)),
    ]
    if basket.any():
        b = np.flatnonzero(basket)
        hang = body.hand[b, 0] - up * 0.14
        axes = np.stack(
            [fwd[b] * 0.14, left[b] * 0.2, np.broadcast_to(up * 0.1, (len(b), 3))], axis=1
        )
        parts.append(flat(cuboid_corners(hang, axes), BASKET, 0))
    head_r = HEAD_RADIUS_PER_HEIGHT * height
    head_c = body.head
    hair_c = head_c + axis * (0.25 * head_r)[:, None] - forward * (0.2 * head_r)[:, None]
    skin = np.array([lk.skin for lk in looks], float)
    hair = np.array([lk.hair for lk in looks], float)
    spheres = Primitives(
        sphere_centre=np.concatenate([head_c, hair_c, body.hand[:, 0], body.hand[:, 1]]),
        sphere_radius=np.concatenate([head_r, head_r * 0.97, np.full(2 * P, HAND_RADIUS_M)]),
        sphere_colour=np.concatenate([skin, hair, skin, skin]),
        sphere_oid=np.concatenate([person_oid, person_oid, hand_oid[:, 0], hand_oid[:, 1]]),
    )
    return Primitives.concat(parts + [spheres])


def held_units(
    hand_pos: np.ndarray,
    heading: np.ndarray,
    unit_size: np.ndarray,
    oid: np.ndarray,
    texture: np.ndarray,
    textures: list[np.ndarray],
) -> Primitives:
    """Units held in hands: (N,3) hand positions, (N,) headings, (N,3) unit sizes."""
    if len(hand_pos) == 0:
        return Primitives()
    fwd = np.stack([np.cos(heading), np.sin(heading), np.zeros(len(heading))], axis=1)
    left = np.stack([-np.sin(heading), np.cos(heading), np.zeros(len(heading))], axis=1)
    centre = hand_pos + fwd * (unit_size[:, 2:3] / 2 + 0.03)
    half_axes = np.stack(
        [
            left * unit_size[:, 0:1] / 2,
            -fwd * unit_size[:, 2:3] / 2,
            np.broadcast_to(np.array([0, 0, 1.0]), (len(hand_pos), 3)) * unit_size[:, 1:2] / 2,
        ],
        axis=1,
    )
    return _textured_units(cuboid_corners(centre, half_axes), oid, texture, textures, front_face=2)


def floor_texture(layout: StoreLayout, px_per_m: float = 40.0) -> np.ndarray:
    """The floor as an image in floor coordinates (x right, y down the image = store y)."""
    w, d = layout.floor.width_m, layout.floor.depth_m
    W, H = int(round(w * px_per_m)), int(round(d * px_per_m))
    img = np.empty((H, W, 3), np.uint8)
    img[:] = (178, 186, 190)
    tile = int(0.5 * px_per_m)
    img[::tile, :] = (150, 158, 162)
    img[:, ::tile] = (150, 158, 162)

    def fill(polygon: list, colour: tuple[int, int, int]) -> None:
        pts = np.round(np.asarray(polygon, float) * px_per_m).astype(np.int32)
        cv2.fillPoly(img, [pts], colour)

    for lane in layout.checkout_lanes:
        fill(lane.polygon, (205, 190, 160))
    for door in layout.entrances:
        fill(door.polygon, (70, 90, 70))
    for gate in layout.rfid_gates:
        pts = np.round(np.asarray(gate.polygon, float) * px_per_m).astype(np.int32)
        cv2.polylines(img, [pts], True, (40, 120, 230), 2)
    return img
