"""Shelf stock as arrays: every facing of the planogram and every product unit in the store.

A facing is one planogram slot (shelf, level, slot, SKU) with a grid of spots for units; a
unit is one physical item with its own id and, when its SKU is RFID-tagged, an EPC. Units
move between states (on a shelf, in a hand, carried in a basket, gone through the exit, still
in the stock room) and the whole state is copied once per frame for the renderer.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from storelens.facings import facing_volumes
from storelens.layout import StoreLayout

ON_SHELF, IN_HAND, CARRIED, LEFT_STORE, STOCKROOM = 0, 1, 2, 3, 4
FRONT_GAP_M = 0.03  # first row of units sits this far behind the shelf's front edge
UNIT_SPACING = 1.08  # spots are a little wider than the unit so neighbours do not touch


def epc_for(sku: str, serial: int) -> str:
    """A 24-hex-digit SGTIN-96-shaped EPC, stable for (sku, serial)."""
    return f"30{zlib.crc32(sku.encode()) & 0xFFFFFFFFFF:010X}{serial:012X}"


@dataclass
class Facings:
    """F facings. Positions in the store frame, metres."""

    shelf_index: np.ndarray  # (F,) int
    shelf_id: np.ndarray  # (F,) str
    level: np.ndarray  # (F,) int
    slot: np.ndarray  # (F,) int
    sku: np.ndarray  # (F,) str
    front_start: np.ndarray  # (F,2) floor point where this facing's front begins
    front_dir: np.ndarray  # (F,2) unit vector along the front edge
    inward: np.ndarray  # (F,2) unit vector from the aisle into the shelf
    width: np.ndarray  # (F,) front length of the facing
    board_z: np.ndarray  # (F,) height of the board the units stand on
    unit_size: np.ndarray  # (F,3) width, height, depth of one unit of the SKU
    cols: np.ndarray  # (F,) spots side by side
    rows: np.ndarray  # (F,) spots front to back

    def __len__(self) -> int:
        return len(self.sku)

    @property
    def spots(self) -> np.ndarray:
        return self.cols * self.rows

    def front_centre(self, facing: int, height_above_board: float = 0.1) -> np.ndarray:
        """Store-frame point (3,) at the front middle of a facing, where a hand reaches."""
        xy = self.front_start[facing] + self.front_dir[facing] * self.width[facing] / 2
        return np.array([xy[0], xy[1], self.board_z[facing] + height_above_board])

    def stand_point(self, facing: int, distance: float = 0.45) -> np.ndarray:
        """Floor point (2,) in the aisle in front of a facing."""
        xy = self.front_start[facing] + self.front_dir[facing] * self.width[facing] / 2
        return xy - self.inward[facing] * distance

    def spot_centres(self, facing: np.ndarray, spot: np.ndarray) -> np.ndarray:
        """(N,3) centres of units at `spot` indices of `facing` indices (vectorised)."""
        cols = self.cols[facing]
        col, row = spot % cols, spot // cols
        size = self.unit_size[facing]
        along = (col + 0.5) / cols * self.width[facing]
        depth = FRONT_GAP_M + (row + 0.5) * size[:, 2] * UNIT_SPACING
        xy = (
            self.front_start[facing]
            + self.front_dir[facing] * along[:, None]
            + self.inward[facing] * depth[:, None]
        )
        return np.column_stack([xy, self.board_z[facing] + size[:, 1] / 2])


def build_facings(layout: StoreLayout) -> Facings:
    """The planogram's facings: their volumes from the core (`storelens.facings`), plus how the
    simulator packs units of each SKU into them."""
    volumes = facing_volumes(layout)
    shelf_index = {s.shelf_id: i for i, s in enumerate(layout.shelves)}
    unit = np.array([layout.product(sku).size_m for sku in volumes.sku], float).reshape(-1, 3)
    capacity = np.array([f.capacity for s in layout.shelves for f in s.planogram], int)
    cols = np.maximum(1, (volumes.width // (unit[:, 0] * UNIT_SPACING)).astype(int))
    max_rows = np.maximum(
        1, ((volumes.depth - FRONT_GAP_M) // (unit[:, 2] * UNIT_SPACING)).astype(int)
    )
    return Facings(
        shelf_index=np.array([shelf_index[s] for s in volumes.shelf_id], int),
        shelf_id=volumes.shelf_id.astype(str),
        level=volumes.level,
        slot=volumes.slot,
        sku=volumes.sku.astype(str),
        front_start=volumes.start,
        front_dir=volumes.along,
        inward=volumes.inward,
        width=volumes.width,
        board_z=volumes.z_low,
        unit_size=unit,
        cols=cols,
        rows=np.minimum(max_rows, -(-capacity // cols)),
    )


class Stock:
    """Every unit: its SKU, EPC, where it is and who holds it. Mutated by the behaviour model."""

    def __init__(
        self,
        layout: StoreLayout,
        facings: Facings,
        rng: np.random.Generator,
        fill: tuple[float, float] = (0.6, 1.0),
        stockroom_per_facing: int = 2,
    ) -> None:
        tagged = {p.sku: p.rfid_tagged for p in layout.catalogue}
        self.facings = facings
        skus, home, status, spot = [], [], [], []
        for f in range(len(facings)):
            n_spots = int(facings.spots[f])
            n_fill = int(round(n_spots * rng.uniform(*fill)))
            for k in range(n_spots + stockroom_per_facing):
                skus.append(facings.sku[f])
                home.append(f)
                status.append(ON_SHELF if k < n_fill else STOCKROOM)
                spot.append(k if k < n_fill else -1)
        self.sku = np.asarray(skus)
        self.home = np.asarray(home)
        self.status = np.asarray(status)
        self.facing = np.where(self.status == ON_SHELF, self.home, -1)
        self.spot = np.asarray(spot)
        self.holder = np.full(len(skus), -1)
        self.hand = np.full(len(skus), -1)
        serial = np.arange(len(skus))
        self.epc = np.array(
            [epc_for(s, int(i)) if tagged[s] else "" for s, i in zip(self.sku, serial, strict=True)]
        )
        self.unit_id = np.array([f"u{i:05d}" for i in serial])

    def __len__(self) -> int:
        return len(self.sku)

    def free_spots(self, facing: int) -> np.ndarray:
        used = self.spot[(self.facing == facing) & (self.status == ON_SHELF)]
        return np.setdiff1d(np.arange(self.facings.spots[facing]), used)

    def take_front(self, facing: int) -> int:
        """The front-most unit on a facing, or -1 when it is empty."""
        here = np.flatnonzero((self.facing == facing) & (self.status == ON_SHELF))
        if len(here) == 0:
            return -1
        return int(here[np.argmin(self.spot[here])])

    def to_hand(self, unit: int, person: int, hand: int) -> None:
        self.status[unit], self.facing[unit], self.spot[unit] = IN_HAND, -1, -1
        self.holder[unit], self.hand[unit] = person, hand

    def place(self, unit: int, facing: int) -> bool:
        """Put a unit on the front-most free spot of a facing; False when it is full."""
        free = self.free_spots(facing)
        if len(free) == 0:
            return False
        self.status[unit], self.facing[unit], self.spot[unit] = ON_SHELF, facing, int(free.min())
        self.holder[unit], self.hand[unit] = -1, -1
        return True

    def carry(self, unit: int) -> None:
        self.status[unit], self.hand[unit] = CARRIED, -1

    def leave(self, units: np.ndarray) -> None:
        self.status[units] = LEFT_STORE

    def stockroom_unit(self, facing: int) -> int:
        here = np.flatnonzero((self.home == facing) & (self.status == STOCKROOM))
        return int(here[0]) if len(here) else -1

    def snapshot(self) -> dict[str, np.ndarray]:
        return {
            "status": self.status.copy(),
            "facing": self.facing.copy(),
            "spot": self.spot.copy(),
            "holder": self.holder.copy(),
            "hand": self.hand.copy(),
        }
