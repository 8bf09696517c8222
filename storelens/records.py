"""Domain records that flow between stages: shelf events, sessions, POS, RFID and baskets.

These are per-event records (tens per second per store), not per-box arrays, so they are
validated pydantic models. Times are float seconds since the Unix epoch (UTC); ids are stable
strings; POS and RFID records carry the id that makes their ingestion idempotent.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from storelens.layout import StableId

Quantity = Annotated[int, Field(ge=1)]


def _finite_time(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"must be finite seconds since the epoch, got {value!r}")
    return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventKind(StrEnum):
    PICK = "pick"
    PUT_BACK = "put_back"


class FrameRange(_Record):
    """Evidence of an event in one camera: its frames `first..last` (inclusive)."""

    camera_id: StableId
    first_frame: Annotated[int, Field(ge=0)]
    last_frame: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> FrameRange:
        if self.last_frame < self.first_frame:
            raise ValueError(
                f"last_frame {self.last_frame} is before first_frame {self.first_frame}"
            )
        return self


class ShelfEvent(_Record):
    """A hand took an item from a facing (`pick`) or put one there (`put_back`)."""

    event_id: StableId
    store_id: StableId
    kind: EventKind
    t: float
    sku: StableId
    shelf_id: StableId
    shopper_id: StableId
    confidence: Annotated[float, Field(ge=0, le=1)] = 1.0
    quantity: Quantity = 1
    evidence: list[FrameRange] = []

    _t = field_validator("t")(_finite_time)

    @property
    def camera_ids(self) -> list[str]:
        return [e.camera_id for e in self.evidence]


class Session(_Record):
    """One shopper's (or one party's) visit, from entering to leaving."""

    session_id: StableId
    store_id: StableId
    shopper_ids: Annotated[list[StableId], Field(min_length=1)]
    enter_t: float
    exit_t: float | None = None
    entrance_id: StableId | None = None
    exit_id: StableId | None = None

    _enter = field_validator("enter_t")(_finite_time)

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.exit_t is not None and self.exit_t < self.enter_t:
            raise ValueError(f"exit_t {self.exit_t} is before enter_t {self.enter_t}")
        return self


class PosKind(StrEnum):
    SALE = "sale"
    VOID = "void"
    REFUND = "refund"


class PosLine(_Record):
    sku: StableId
    qty: Quantity
    unit_price: Annotated[float, Field(ge=0)]


class PosTransaction(_Record):
    """What a cash register recorded; `txn_id` is unique per store (ingestion is idempotent)."""

    txn_id: StableId
    store_id: StableId
    terminal_id: StableId
    t: float
    kind: PosKind = PosKind.SALE
    lines: list[PosLine] = []
    refers_to: StableId | None = Field(None, description="the sale a void or refund undoes")

    _t = field_validator("t")(_finite_time)

    @model_validator(mode="after")
    def _refers(self) -> PosTransaction:
        if self.kind != PosKind.SALE and self.refers_to is None:
            raise ValueError(f"a {self.kind.value} needs refers_to: the txn_id it undoes")
        return self

    @property
    def total(self) -> float:
        return sum(line.qty * line.unit_price for line in self.lines)


class RfidRead(_Record):
    """A tag read by an exit-gate reader; `read_id` makes re-delivery idempotent."""

    read_id: StableId
    store_id: StableId
    reader_id: StableId
    epc: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8,64}$")]
    sku: StableId | None = None
    t: float
    rssi_dbm: float | None = None

    _t = field_validator("t")(_finite_time)


class LineStatus(StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"
    PAID_UNSEEN = "paid_unseen"
    RFID_EXIT_UNPAID = "rfid_exit_unpaid"


class BasketLine(_Record):
    sku: StableId
    qty: Quantity
    status: LineStatus
    txn_ids: list[StableId] = []
    epcs: list[str] = []


class Basket(_Record):
    """Attribution's answer for one session: what was taken, and whether it was paid."""

    session_id: StableId
    store_id: StableId
    lines: list[BasketLine] = []

    def quantities(self, status: LineStatus | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            if status is None or line.status == status:
                out[line.sku] = out.get(line.sku, 0) + line.qty
        return out
