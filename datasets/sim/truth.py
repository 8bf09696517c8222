"""The simulator's ground truth as typed records, and the files it is written to.

The core records (`storelens.records`) hold what any stage of the system can know; the
simulator knows more — which physical unit was picked, from which level and slot, in which
session, whether a put-back left it away from home, why a unit went out unpaid. Each class
here is a subclass of its core record that adds those fields, so ground truth *is* a
`ShelfEvent` or a `Session` and evaluation compares like with like:

| file                  | record                                   |
|-----------------------|------------------------------------------|
| `events.jsonl`        | `TruthShelfEvent` (a `ShelfEvent`)       |
| `sessions.jsonl`      | `TruthSession` (a `Session`)             |
| `pos.jsonl`           | `PosTransaction` (nothing to add)        |
| `rfid.jsonl`          | `RfidRead` (nothing to add)              |
| `staff_events.jsonl`  | `StaffEvent` (restocks: no core record)  |
| `units.jsonl`         | `TruthUnit`                              |
| `identities.jsonl`    | `TruthIdentity`                          |

Events and sessions are derived records (`storelens.revision`): ground truth is revision 1,
with the simulator's own ids (`<store>-e00001`, `<store>-s001`: the same on every run of the same
store + scenario + seed), and its provenance is `simulator_provenance`: model versions
`{"simulator": <storelens version>}` and the config hash of the store layout, the scenario,
the seed and the frame rate — everything the records depend on (the camera subset only matters
through the frame rate; rendering does not change the records).

`write_truth` validates every record on write (a malformed one is a `RecordError` naming the
file, record, field and value) and `read_truth` reads an output folder back into these types.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storelens import __version__
from storelens.datasets.sim.event_frames import with_intervals
from storelens.datasets.sim.writer import read_records, validate_records, write_records
from storelens.layout import StableId, StoreLayout
from storelens.records import (
    Basket,
    BasketLine,
    Epc,
    EventKind,
    LineStatus,
    PosTransaction,
    Quantity,
    RfidRead,
    Session,
    ShelfEvent,
)
from storelens.revision import DerivedRecord, Provenance, config_hash

if TYPE_CHECKING:
    from storelens.datasets.sim.behaviour import Timeline
    from storelens.datasets.sim.scenario import Scenario

Index = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Truth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TruthShelfEvent(ShelfEvent):
    """A pick or put-back as it happened: the unit, the facing's level and slot, the session,
    whether a put-back left the unit on another facing than its home (`misplaced`), the hand,
    and the interval its hand was in the shelf volume around the touch at `t`
    (`t_start` <= `t` <= `t_end`; `event_frames`). `evidence` holds, per rendered camera, the
    frames of the interval in which that hand is visible."""

    unit_id: StableId
    level: Index
    slot: Index
    session_id: StableId | None = Field(description="None for someone outside every session")
    misplaced: bool
    hand: Literal["left", "right"]
    t_start: float = Field(allow_inf_nan=False)
    t_end: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> TruthShelfEvent:
        if self.misplaced and self.kind != EventKind.PUT_BACK:
            raise ValueError(f"misplaced: only a put_back can misplace a unit, not a {self.kind}")
        if not self.t_start <= self.t <= self.t_end:
            raise ValueError(
                f"t_start {self.t_start} <= t {self.t} <= t_end {self.t_end} does not hold: "
                "the touch lies inside the hand's interval in the shelf volume"
            )
        return self


class StaffEvent(_Truth):
    """A member of staff filled a facing with a unit from the stock room."""

    kind: Literal["restock"]
    t: Seconds
    staff_id: StableId
    sku: StableId
    unit_id: StableId
    shelf_id: StableId
    level: Index
    slot: Index


class CarriedUnit(_Truth):
    """One unit a party carried out: paid by a sale (`txn_id`), or unpaid and why."""

    unit_id: StableId
    sku: StableId
    epc: Epc | None
    status: Literal["paid", "unpaid"]
    txn_id: StableId | None
    reason: Literal["unscanned", "voided", "walkout"] | None
    rfid_read: bool = Field(description="the exit gate read its tag at least once")

    @model_validator(mode="after")
    def _consistent(self) -> CarriedUnit:
        paid = self.status == "paid"
        if paid != (self.txn_id is not None) or paid == (self.reason is not None):
            raise ValueError(
                f"status {self.status!r} with txn_id={self.txn_id!r}, reason={self.reason!r}: "
                "a paid unit has a sale and no reason, an unpaid one a reason and no sale"
            )
        if self.rfid_read and self.epc is None:
            raise ValueError("rfid_read: a unit without an EPC cannot be read")
        return self


class ExpectedLine(_Truth):
    """A basket line attribution should find: this many units of a SKU with this status."""

    sku: StableId
    qty: Quantity
    status: LineStatus


class TruthSession(Session):
    """A party's visit as it happened: what it meant to do, what it paid, what it took out."""

    paid: bool = Field(description="the party meant to pay (False: it walks out past the lanes)")
    complete: bool = Field(description="everyone has left (else exit_t and exit_id are None)")
    txn_ids: list[StableId]
    epcs_read: list[Epc]
    units: list[CarriedUnit]
    expected_lines: list[ExpectedLine]

    @model_validator(mode="after")
    def _exit_when_complete(self) -> TruthSession:
        if self.complete != (self.exit_t is not None):
            raise ValueError(
                f"complete={self.complete} but exit_t={self.exit_t!r}: a session has an exit "
                "time exactly when its whole party has left"
            )
        return self

    def expected_basket(self) -> Basket:
        """The `Basket` attribution should produce: `expected_lines`, with the sales and RFID
        reads that decide each line (its id is the derived id of the store and session)."""
        txns: dict[tuple[str, str], set[str]] = defaultdict(set)
        epcs: dict[tuple[str, str], set[str]] = defaultdict(set)
        for u in self.units:
            status = "rfid_exit_unpaid" if u.status == "unpaid" and u.rfid_read else u.status
            if u.txn_id is not None:
                txns[(u.sku, status)].add(u.txn_id)
            if u.rfid_read and u.epc is not None:
                epcs[(u.sku, status)].add(u.epc)
        lines = [
            BasketLine(
                sku=line.sku,
                qty=line.qty,
                status=line.status,
                txn_ids=sorted(txns[(line.sku, line.status.value)]),
                epcs=sorted(epcs[(line.sku, line.status.value)]),
            )
            for line in self.expected_lines
        ]
        return Basket(
            session_id=self.session_id,
            store_id=self.store_id,
            lines=lines,
            provenance=self.provenance,
        )


class TruthUnit(_Truth):
    """A physical unit: its index in the arrays (product box id = 100000 + index), id, SKU, EPC."""

    index: Index
    unit_id: StableId
    sku: StableId
    epc: Epc | None


class TruthIdentity(_Truth):
    """Who a person is: id, MOT global id, role, party (-1 for staff) and how they look."""

    person_id: StableId
    gid: Annotated[int, Field(ge=1)]
    role: Literal["shopper", "staff"]
    party: Annotated[int, Field(ge=-1)]
    height_m: Annotated[float, Field(gt=0)]
    pattern: Literal["solid", "stripes", "checks"]
    shirt_bgr: tuple[
        Annotated[int, Field(ge=0, le=255)],
        Annotated[int, Field(ge=0, le=255)],
        Annotated[int, Field(ge=0, le=255)],
    ]


TRUTH_FILES: dict[str, type[BaseModel]] = {
    "events.jsonl": TruthShelfEvent,
    "staff_events.jsonl": StaffEvent,
    "pos.jsonl": PosTransaction,
    "rfid.jsonl": RfidRead,
    "sessions.jsonl": TruthSession,
    "units.jsonl": TruthUnit,
    "identities.jsonl": TruthIdentity,
}


def simulator_provenance(
    layout: StoreLayout, scenario: Scenario, seed: int, fps: float
) -> Provenance:
    """The provenance of a simulation's derived records (see the module docstring)."""
    config = {"store": layout, "scenario": scenario, "seed": seed, "fps": fps}
    return Provenance(model_versions={"simulator": __version__}, config_hash=config_hash(config))


def truth_rows(tl: Timeline) -> dict[str, list[dict[str, Any]]]:
    """Each file's rows, in the order they are written (POS and RFID by time, then id)."""
    return {
        "events.jsonl": with_intervals(tl),
        "staff_events.jsonl": tl.staff_events,
        "pos.jsonl": sorted(tl.pos, key=lambda r: (r["t"], r["txn_id"])),
        "rfid.jsonl": sorted(tl.rfid, key=lambda r: (r["t"], r["read_id"])),
        "sessions.jsonl": tl.sessions,
        "units.jsonl": [
            {"index": i, "unit_id": str(uid), "sku": str(sku), "epc": str(epc) or None}
            for i, (uid, sku, epc) in enumerate(
                zip(tl.unit_ids, tl.unit_sku, tl.unit_epc, strict=True)
            )
        ],
        "identities.jsonl": [
            {
                "person_id": f"p{p.gid:03d}",
                "gid": p.gid,
                "role": "staff" if p.role else "shopper",
                "party": p.party,
                "height_m": round(p.look.height_m, 3),
                "pattern": p.look.pattern,
                "shirt_bgr": [int(c) for c in p.look.shirt],
            }
            for p in tl.persons
        ],
    }


def write_truth(out: Path, tl: Timeline, provenance: Provenance) -> dict[str, list[BaseModel]]:
    """Validate and write every ground-truth file of `TRUTH_FILES` into `out`; derived records
    get `provenance`. Every file is validated before the first is written, so a `RecordError`
    leaves no half-written set. Returns the typed records by file name."""
    rows = truth_rows(tl)
    records: dict[str, list[BaseModel]] = {}
    for name, model in TRUTH_FILES.items():
        extra = {"provenance": provenance} if issubclass(model, DerivedRecord) else {}
        records[name] = validate_records(out / name, model, rows[name], **extra)
    for name, typed in records.items():
        write_records(out / name, typed)
    return records


def read_truth(out: str | Path) -> dict[str, list[BaseModel]]:
    """Every ground-truth file of a simulation folder, read back as its typed records."""
    return {name: read_records(Path(out) / name, model) for name, model in TRUTH_FILES.items()}
