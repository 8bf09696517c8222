"""What the API sends and receives: core records reshaped for the wire, times as ISO-8601 with
a zone (`datetime` in UTC) instead of epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from storelens.records import (
    Alert,
    AlertKind,
    Basket,
    EventKind,
    FrameRange,
    LineStatus,
    SessionLifecycle,
    ShelfEvent,
)
from storelens.storage.audit import AuditEntry
from storelens.storage.derived import Review
from storelens.storage.evidence import EvidenceFrame
from storelens.storage.ingest import IngestReport
from storelens.storage.queries import FunnelRow, HourRow, SessionDetail, SessionSummary

T = TypeVar("T")


def iso(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PageOut(_Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class SessionOut(_Out):
    session_id: str
    store_id: str
    shopper_ids: list[str]
    entered_at: datetime
    exited_at: datetime | None
    lifecycle: SessionLifecycle
    has_alert: bool
    revision: int

    @classmethod
    def of(cls, s: SessionSummary) -> SessionOut:
        x = s.session
        return cls(
            session_id=x.session_id,
            store_id=x.store_id,
            shopper_ids=x.shopper_ids,
            entered_at=iso(x.enter_t),
            exited_at=iso(x.exit_t),
            lifecycle=s.lifecycle,
            has_alert=s.has_alert,
            revision=x.revision,
        )


class BasketLineOut(_Out):
    sku: str
    qty: int
    status: LineStatus
    confidence: float
    event_ids: list[str] = Field(description="shelf events that saw the item taken or put back")
    txn_ids: list[str] = Field(description="POS transactions that paid it")
    read_ids: list[str] = Field(description="exit-gate reads of its tags")


class AlertLineOut(_Out):
    sku: str
    qty: int


class AlertOut(_Out):
    alert_id: str
    session_id: str
    kind: AlertKind
    raised_at: datetime
    lines: list[AlertLineOut]
    confidence: float
    withdrawn: bool
    event_ids: list[str]
    txn_ids: list[str]
    read_ids: list[str]
    revision: int

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(
            alert_id=a.alert_id,
            session_id=a.session_id,
            kind=a.kind,
            raised_at=iso(a.t),
            lines=[AlertLineOut(sku=ln.sku, qty=ln.qty) for ln in a.lines],
            confidence=a.confidence,
            withdrawn=a.withdrawn,
            event_ids=a.event_ids,
            txn_ids=a.txn_ids,
            read_ids=a.read_ids,
            revision=a.revision,
        )


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["reviewed", "contested"] = Field(
        description="`reviewed`: the person agrees with the basket; `contested`: they do not"
    )
    reason: str = Field("", max_length=2000)


class ReviewOut(_Out):
    review_no: int
    verdict: SessionLifecycle
    reviewer: str
    reason: str
    at: datetime

    @classmethod
    def of(cls, r: Review) -> ReviewOut:
        return cls(
            review_no=r.review_no,
            verdict=r.verdict,
            reviewer=r.reviewer,
            reason=r.reason,
            at=iso(r.t),
        )


class PathPointOut(_Out):
    at: datetime
    x_m: float = Field(description="floor-plan x, metres")
    y_m: float = Field(description="floor-plan y, metres")


class ShopperPathOut(_Out):
    shopper_id: str
    points: list[PathPointOut]


class EvidenceOut(_Out):
    evidence_no: int
    camera_id: str
    at: datetime
    event_id: str | None = Field(description="the shelf event it shows, if one")
    width: int
    height: int
    heads_blurred: int = Field(description="heads blurred before the frame was stored")
    url: str = Field(description="the JPEG (GET with the same key; each view is audited)")

    @classmethod
    def of(cls, e: EvidenceFrame, url: str) -> EvidenceOut:
        return cls(
            evidence_no=e.evidence_no,
            camera_id=e.camera_id,
            at=iso(e.t),
            event_id=e.event_id,
            width=e.width,
            height=e.height,
            heads_blurred=e.heads_blurred,
            url=url,
        )


class SessionDetailOut(_Out):
    session: SessionOut
    basket_id: str | None
    basket_revision: int | None
    lines: list[BasketLineOut]
    alerts: list[AlertOut]
    reviews: list[ReviewOut]
    path: list[ShopperPathOut] = Field(description="each shopper's floor path in the session")
    evidence: list[EvidenceOut] = Field(description="stills, heads blurred")

    @classmethod
    def of(
        cls,
        d: SessionDetail,
        *,
        path: dict[str, list[list[float]]],
        evidence: list[EvidenceOut],
    ) -> SessionDetailOut:
        b: Basket | None = d.basket
        live = any(not a.withdrawn for a in d.alerts)
        return cls(
            session=SessionOut.of(SessionSummary(d.session, d.lifecycle, live)),
            basket_id=b.basket_id if b else None,
            basket_revision=b.revision if b else None,
            lines=[
                BasketLineOut(
                    sku=ln.sku,
                    qty=ln.qty,
                    status=ln.status,
                    confidence=ln.confidence,
                    event_ids=ln.event_ids,
                    txn_ids=ln.txn_ids,
                    read_ids=ln.read_ids,
                )
                for ln in (b.lines if b else [])
            ],
            alerts=[AlertOut.of(a) for a in d.alerts],
            reviews=[ReviewOut.of(r) for r in d.reviews],
            path=[
                ShopperPathOut(
                    shopper_id=shopper,
                    points=[PathPointOut(at=iso(t), x_m=x, y_m=y) for t, x, y in points],
                )
                for shopper, points in path.items()
            ],
            evidence=evidence,
        )


class EventOut(_Out):
    event_id: str
    kind: EventKind
    at: datetime
    sku: str
    shelf_id: str
    shopper_id: str
    quantity: int
    confidence: float
    evidence: list[FrameRange]
    revision: int

    @classmethod
    def of(cls, e: ShelfEvent) -> EventOut:
        return cls(
            event_id=e.event_id,
            kind=e.kind,
            at=iso(e.t),
            sku=e.sku,
            shelf_id=e.shelf_id,
            shopper_id=e.shopper_id,
            quantity=e.quantity,
            confidence=e.confidence,
            evidence=e.evidence,
            revision=e.revision,
        )


class RecordErrorOut(_Out):
    index: int = Field(description="position of the refused record in the posted list")
    field: str
    message: str
    record_id: str | None
    conflict: bool = Field(description="true: the id was sent before with another body")


class IngestOut(_Out):
    """What a posted batch did. Every valid record is stored even when others are refused."""

    received: int
    stored: list[str] = Field(description="ids stored by this request")
    already_stored: list[str] = Field(description="ids stored before with the same body")
    late: list[str] = Field(description="stored, but past the horizon: not re-attributed")
    refused: list[RecordErrorOut]

    @classmethod
    def of(cls, r: IngestReport) -> IngestOut:
        return cls(
            received=r.received,
            stored=r.accepted,
            already_stored=r.duplicates,
            late=r.late,
            refused=[
                RecordErrorOut(
                    index=e.index,
                    field=e.field,
                    message=e.message,
                    record_id=e.record_id,
                    conflict=e.conflict,
                )
                for e in r.errors
            ],
        )


class FunnelOut(_Out):
    key: str
    picks: int
    put_backs: int
    purchased: int
    conversion: float | None

    @classmethod
    def of(cls, f: FunnelRow) -> FunnelOut:
        return cls(
            key=f.key,
            picks=f.picks,
            put_backs=f.put_backs,
            purchased=f.purchased,
            conversion=f.conversion,
        )


class HourOut(_Out):
    hour: datetime
    sessions: int
    with_purchase: int
    conversion: float | None
    unpaid_lines: int
    reviewed_sessions: int
    reviews_per_1000: float | None

    @classmethod
    def of(cls, h: HourRow) -> HourOut:
        return cls(
            hour=iso(h.t),
            sessions=h.sessions,
            with_purchase=h.with_purchase,
            conversion=h.conversion,
            unpaid_lines=h.unpaid_lines,
            reviewed_sessions=h.reviewed_sessions,
            reviews_per_1000=h.reviews_per_1000,
        )


class ErrorOut(_Out):
    detail: str


class ValidationErrorsOut(_Out):
    """FastAPI's own answer to a request that does not fit the route (a body that is not a list)."""

    detail: list[dict]


class AuditOut(_Out):
    entry_no: int
    at: datetime
    key_id: str
    action: str
    target: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        return cls(
            entry_no=e.entry_no, at=iso(e.t), key_id=e.key_id, action=e.action, target=e.target
        )
