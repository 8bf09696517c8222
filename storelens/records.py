"""Domain records that flow between stages: shelf events, sessions, POS, RFID, baskets, alerts.

These are per-event records (tens per second per store), not per-box arrays, so they are
validated pydantic models. Times are float seconds since the Unix epoch (UTC); ids are stable
strings.

Two kinds of record:
- *inputs* — `PosTransaction`, `RfidRead`: what a register or a gate reported, idempotent on
  their own ids (`txn_id`, `read_id`), never revised;
- *derived* — `ShelfEvent`, `Session`, `Basket`, `Alert`: answers the system computed. They
  inherit `storelens.revision.DerivedRecord` (stable id computed from what the record is about,
  `revision` / `supersedes`, `provenance`); that module's docstring is the contract. A derived
  record built without its id gets `derived_id` of its `id_about` fields.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from storelens.layout import StableId
from storelens.revision import DerivedRecord

Quantity = Annotated[int, Field(ge=1)]
Confidence = Annotated[float, Field(ge=0, le=1)]
Epc = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8,64}$")]  # an RFID tag's electronic code
EVENT_ID_RESOLUTION_S = 1.0  # an event id rounds its time to this: one shopper, SKU, kind a second
SESSION_ID_RESOLUTION_S = 1.0  # a session's id rounds its enter time to this


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


class ShelfEvent(DerivedRecord):
    """A hand took an item from a facing (`pick`) or put one there (`put_back`).

    Its id is about the store, shelf, SKU, shopper, kind and the time to the nearest second.
    """

    id_field: ClassVar[str] = "event_id"
    id_prefix: ClassVar[str] = "ev"
    id_about: ClassVar[tuple[str, ...]] = ("store_id", "shelf_id", "sku", "shopper_id", "kind", "t")
    id_times: ClassVar[dict[str, float]] = {"t": EVENT_ID_RESOLUTION_S}

    event_id: StableId
    store_id: StableId
    kind: EventKind
    t: float
    sku: StableId
    shelf_id: StableId
    shopper_id: StableId
    confidence: Confidence = 1.0
    quantity: Quantity = 1
    evidence: list[FrameRange] = []

    _t = field_validator("t")(_finite_time)

    @property
    def camera_ids(self) -> list[str]:
        return [e.camera_id for e in self.evidence]


class ObservedShelfEvent(ShelfEvent):
    """A shelf event the pipeline found (`storelens.tracking.events`): besides the event, the
    facing (`level`, `slot`), the hand, the interval the hand was in the facing
    (`t_start`..`t_end`, `t` is its end), the facing's change score (None where no camera saw
    it clear on both sides) and the stream time the answer was made (`decided_at`)."""

    level: Annotated[int, Field(ge=0)]
    slot: Annotated[int, Field(ge=0)]
    hand: Literal["left", "right"]
    t_start: float
    t_end: float
    change_score: float | None = None
    decided_at: float

    @model_validator(mode="after")
    def _ordered(self) -> ObservedShelfEvent:
        if not self.t_start <= self.t_end <= self.decided_at:
            raise ValueError(
                f"t_start {self.t_start} <= t_end {self.t_end} <= decided_at "
                f"{self.decided_at} does not hold"
            )
        return self


class Session(DerivedRecord):
    """One shopper's (or one party's) visit, from entering to leaving.

    Its id is about the store, the shoppers who entered and the enter time to the nearest second.
    """

    id_field: ClassVar[str] = "session_id"
    id_prefix: ClassVar[str] = "ses"
    id_about: ClassVar[tuple[str, ...]] = ("store_id", "shopper_ids", "enter_t")
    id_times: ClassVar[dict[str, float]] = {"enter_t": SESSION_ID_RESOLUTION_S}

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


class ObservedSession(Session):
    """A session the pipeline found (`storelens.tracking.sessions`): besides the session, the
    global shopper-tracker ids behind each of its shoppers (`shopper_tracks[i]` for
    `shopper_ids[i]`), the seconds its shoppers spent within reach of each shelf (`dwell_s`,
    by shelf id) and the stream time the record was made (`decided_at`). `exit_t` None: still
    inside when the run ended."""

    shopper_tracks: list[list[Annotated[int, Field(ge=0)]]]
    dwell_s: dict[StableId, Annotated[float, Field(ge=0)]] = {}
    decided_at: float

    @model_validator(mode="after")
    def _tracks_per_shopper(self) -> ObservedSession:
        if len(self.shopper_tracks) != len(self.shopper_ids):
            raise ValueError(
                f"shopper_tracks has {len(self.shopper_tracks)} entries for "
                f"{len(self.shopper_ids)} shopper_ids"
            )
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
    epc: Epc
    sku: StableId | None = None
    t: float
    rssi_dbm: float | None = None

    _t = field_validator("t")(_finite_time)


class LineStatus(StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"
    PAID_UNSEEN = "paid_unseen"
    RFID_EXIT_UNPAID = "rfid_exit_unpaid"


class SessionLifecycle(StrEnum):
    """Where a session is in its life, separate from what it paid: `open` (someone is inside),
    `closed` (everyone left; attribution pending), `attributed` (a basket exists), `reviewed` /
    `contested` (a person looked at it and agreed / disagreed). Reviews are recorded, never
    overwritten."""

    OPEN = "open"
    CLOSED = "closed"
    ATTRIBUTED = "attributed"
    REVIEWED = "reviewed"
    CONTESTED = "contested"


class BasketLine(_Record):
    """`qty` units of `sku` with one payment `status`, and what decided it: the shelf events
    (`event_ids`), POS transactions (`txn_ids`) and exit-gate tags (`epcs`, `read_ids`), with
    attribution's `confidence` that the status is right."""

    sku: StableId
    qty: Quantity
    status: LineStatus
    txn_ids: list[StableId] = []
    epcs: list[str] = []
    event_ids: list[StableId] = []
    read_ids: list[StableId] = []
    confidence: Confidence = 1.0


class Basket(DerivedRecord):
    """Attribution's answer for one session: what was taken, and whether it was paid.

    Its id is about the store and the session: one basket per session, revised as POS data,
    RFID reads or identities arrive late.
    """

    id_field: ClassVar[str] = "basket_id"
    id_prefix: ClassVar[str] = "bsk"
    id_about: ClassVar[tuple[str, ...]] = ("store_id", "session_id")

    basket_id: StableId
    session_id: StableId
    store_id: StableId
    lines: list[BasketLine] = []

    def quantities(self, status: LineStatus | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            if status is None or line.status == status:
                out[line.sku] = out.get(line.sku, 0) + line.qty
        return out


class AlertKind(StrEnum):
    """The basket line statuses a person is asked to review."""

    UNPAID = "unpaid"  # taken, never paid
    RFID_EXIT_UNPAID = "rfid_exit_unpaid"  # a tag left through the gate unpaid


class AlertLine(_Record):
    sku: StableId
    qty: Quantity


class Alert(DerivedRecord):
    """Unpaid items of one session raised for a person to review.

    Its id is about the store, the session and the kind: one alert of a kind per session. New
    evidence (a late POS sale, a corrected identity) is a revision — other lines, another
    confidence — never a second alert; a revision with no lines withdraws the alert.
    """

    id_field: ClassVar[str] = "alert_id"
    id_prefix: ClassVar[str] = "alr"
    id_about: ClassVar[tuple[str, ...]] = ("store_id", "session_id", "kind")

    alert_id: StableId
    store_id: StableId
    session_id: StableId
    kind: AlertKind
    t: float = Field(description="when the evidence was complete (e.g. the session's exit)")
    lines: list[AlertLine] = Field(description="the SKUs and quantities concerned")
    confidence: Confidence
    basket_id: StableId | None = Field(None, description="the basket whose lines raised it")
    event_ids: list[StableId] = Field([], description="shelf events that saw the items taken")
    txn_ids: list[StableId] = Field([], description="the session's POS transactions")
    read_ids: list[StableId] = Field([], description="exit-gate reads of the items")

    _t = field_validator("t")(_finite_time)

    @model_validator(mode="after")
    def _raised_with_lines(self) -> Alert:
        if self.revision == 1 and not self.lines:
            raise ValueError("an alert is raised with at least one line (no lines: withdrawn)")
        return self

    @property
    def withdrawn(self) -> bool:
        return not self.lines
