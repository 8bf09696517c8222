"""The thresholds of attribution, each a named field with its trade-off."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class AttributionConfig(BaseModel):
    """How POS transactions and RFID reads are joined to sessions, and when an alert is raised."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lane_margin_m: NonNegative = Field(
        0.6,
        description="a lane's zone is its polygon grown by this: wider catches a party paying "
        "from beside the lane, but lets the next lane's queue in",
    )
    max_terminal_offset_s: NonNegative = Field(
        8.0,
        description="largest terminal clock error searched for: wider tolerates worse clocks, "
        "but leaves more room for a wrong alignment on a quiet terminal",
    )
    offset_step_s: Positive = Field(0.25, description="grid step of the clock-offset search")
    pay_to_leave_s: NonNegative = Field(
        1.4,
        description="expected seconds from a payment to its party leaving the lane zone; it "
        "fixes what a terminal's clock offset is measured against (chosen on other seeds than "
        "the reported ones: the median on `crowded` seed 7)",
    )
    leave_after_pay_s: Positive = Field(
        2.0,
        description="scale of the wait between a payment and its party leaving the lane zone: "
        "smaller trusts the departure cue more, larger tolerates dawdling payers",
    )
    gate_pay_window_s: Positive = Field(
        30.0,
        description="a payer must still be in the lane zone within this of the (aligned) "
        "transaction time: the gate that keeps the assignment local in time",
    )
    basket_weight: NonNegative = Field(
        3.0,
        description="cost of a transaction whose lines share nothing with the session's seen "
        "picks (0: time and place alone decide)",
    )
    extra_transaction_cost: NonNegative = Field(
        2.0,
        description="added cost of a party's second, third ... transaction: lower lets split "
        "payments through, higher keeps one transaction per party",
    )
    max_transactions_per_session: Annotated[int, Field(ge=1)] = 3
    unmatched_transaction_cost: Positive = Field(
        12.0,
        description="cost of leaving a sale unattributed: lower refuses doubtful matches, "
        "higher forces every sale onto someone",
    )
    no_path_exit_window_s: Positive = Field(
        90.0,
        description="without floor paths, a payer must leave the store within this after paying",
    )
    rfid_time_sigma_s: Positive = Field(
        0.6, description="spread of a gate read around the carrier's walk through the gate"
    )
    rfid_max_gap_s: Positive = Field(
        4.0, description="a read further than this from every session's exit stays unmatched"
    )
    rfid_duplicate_window_s: Positive = Field(
        10.0, description="reads of one EPC closer than this are one pass through the gate"
    )
    rfid_unseen_cost: NonNegative = Field(
        2.0,
        description="cost of giving a read to a session that was never seen taking its SKU",
    )
    alert_threshold: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5,
        description="an unpaid line of at least this confidence raises an alert: lower catches "
        "more losses, higher asks people to review fewer sessions",
    )
    late_horizon_s: Positive = Field(
        86400.0,
        description="data arriving later than this after its own time is stored and flagged, "
        "not re-attributed",
    )
    reattribute_within_s: Positive = Field(
        60.0,
        description="declared delay: a session closed, or late data arrived, this long ago has "
        "its (re-)attributed basket",
    )
