"""The SQL schema: one table per core record, the columns every query filters on, and an index
for each query `storelens.storage.queries` makes (the API's queries).

Every row keeps the record's full canonical JSON in `body`, so a record read back is exactly
the record written (`Model.model_validate_json(row.body)`), on SQLite and PostgreSQL alike;
the other columns are copies of its fields for filtering and ordering.

- *Inputs* (`pos_transactions` + `pos_lines`, `rfid_reads`) are keyed by the store and their
  own id and never change; `body_sha256` tells a retried record from a conflicting one, and
  `received_t` / `late` record when it arrived and whether it came past the re-attribution
  horizon (stored, flagged, not re-attributed).
- *Derived records* (`shelf_events`, `sessions`, `baskets` + `basket_lines`, `alerts`) keep every
  revision, keyed `(id, revision)`; `is_current` marks the newest (the revision contract in
  `storelens.revision`).
- `session_lifecycle` holds each session's lifecycle state; `session_reviews` is append-only:
  a review is recorded, never overwritten.

Child rows (`pos_lines`, `basket_lines`, `session_shoppers`) are written in the same transaction
as their parent row and only retention (`retention.py`) deletes, a parent with its children in
one transaction, so they carry no foreign keys: on PostgreSQL a
foreign-key check planned while the parent table is still empty scans it for every row, and
ingestion into a new store slowed fourfold within 30,000 lines.

Changing this module means a new Alembic revision under `migrations/versions/` (a test compares
the migrated database with these tables and fails on any difference).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = 64  # StableId is at most 64 characters
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# --- inputs: what registers and gates reported ---------------------------------------------


class PosTransactionRow(Base):
    """A POS transaction (`storelens.records.PosTransaction`)."""

    __tablename__ = "pos_transactions"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(ID))
    t: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))
    refers_to: Mapped[str | None] = mapped_column(String(ID))
    total: Mapped[float] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_t: Mapped[float] = mapped_column(Float)
    late: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        Index("ix_pos_transactions_store_t", "store_id", "t"),
        Index("ix_pos_transactions_store_terminal_t", "store_id", "terminal_id", "t"),
        Index("ix_pos_transactions_store_refers_to", "store_id", "refers_to"),
    )


class PosLineRow(Base):
    """One line of a POS transaction (its position in `lines` is `line_no`)."""

    __tablename__ = "pos_lines"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(ID))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_pos_lines_store_sku", "store_id", "sku"),)


class RfidReadRow(Base):
    """An exit-gate tag read (`storelens.records.RfidRead`)."""

    __tablename__ = "rfid_reads"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    read_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    reader_id: Mapped[str] = mapped_column(String(ID))
    epc: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(ID))
    t: Mapped[float] = mapped_column(Float)
    rssi_dbm: Mapped[float | None] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_t: Mapped[float] = mapped_column(Float)
    late: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        Index("ix_rfid_reads_store_t", "store_id", "t"),
        Index("ix_rfid_reads_store_epc", "store_id", "epc"),
    )


# --- derived records: every revision kept -------------------------------------------------


class ShelfEventRow(Base):
    """A pick or put-back (`storelens.records.ShelfEvent`), one row per revision."""

    __tablename__ = "shelf_events"

    event_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    is_current: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    t: Mapped[float] = mapped_column(Float)
    sku: Mapped[str] = mapped_column(String(ID))
    shelf_id: Mapped[str] = mapped_column(String(ID))
    shopper_id: Mapped[str] = mapped_column(String(ID))
    quantity: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_shelf_events_store_current_t", "store_id", "is_current", "t"),
        Index("ix_shelf_events_store_sku_t", "store_id", "sku", "t"),
        Index("ix_shelf_events_store_shelf_t", "store_id", "shelf_id", "t"),
        Index("ix_shelf_events_store_shopper_t", "store_id", "shopper_id", "t"),
    )


class SessionRow(Base):
    """A shopper's (or party's) visit (`storelens.records.Session`), one row per revision."""

    __tablename__ = "sessions"

    session_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    is_current: Mapped[bool] = mapped_column(Boolean)
    enter_t: Mapped[float] = mapped_column(Float)
    exit_t: Mapped[float | None] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_sessions_store_current_enter", "store_id", "is_current", "enter_t", "session_id"),
    )


class SessionShopperRow(Base):
    """Which shoppers a session revision holds (a party has several), so a shelf event finds
    its session by its `shopper_id`."""

    __tablename__ = "session_shoppers"

    session_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    shopper_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    is_current: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_session_shoppers_store_shopper_current", "store_id", "shopper_id", "is_current"),
    )


class BasketRow(Base):
    """Attribution's answer for one session (`storelens.records.Basket`), per revision."""

    __tablename__ = "baskets"

    basket_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    session_id: Mapped[str] = mapped_column(String(ID))
    is_current: Mapped[bool] = mapped_column(Boolean)
    unpaid_lines: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_baskets_store_session_current", "store_id", "session_id", "is_current"),
    )


class BasketLineRow(Base):
    """One line of one basket revision, for per-SKU and per-status analytics."""

    __tablename__ = "basket_lines"

    basket_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    session_id: Mapped[str] = mapped_column(String(ID))
    is_current: Mapped[bool] = mapped_column(Boolean)
    sku: Mapped[str] = mapped_column(String(ID))
    qty: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    confidence: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_basket_lines_store_current_sku", "store_id", "is_current", "sku"),)


class AlertRow(Base):
    """Unpaid items raised for a person to review (`storelens.records.Alert`), per revision."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    session_id: Mapped[str] = mapped_column(String(ID))
    is_current: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(24))
    t: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    withdrawn: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_alerts_store_current_t", "store_id", "is_current", "t"),
        Index("ix_alerts_store_session", "store_id", "session_id"),
    )


# --- the people side: lifecycle and reviews ----------------------------------------------


class SessionLifecycleRow(Base):
    """Where a session is in its life (`storelens.records.SessionLifecycle`), kept current by
    every write that moves it: a session saved (open / closed), its basket (attributed), a review
    (reviewed / contested)."""

    __tablename__ = "session_lifecycle"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    lifecycle: Mapped[str] = mapped_column(String(16))
    has_alert: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_t: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_session_lifecycle_store_lifecycle", "store_id", "lifecycle"),)


class SessionReviewRow(Base):
    """A person's verdict on a session: appended, never updated or deleted."""

    __tablename__ = "session_reviews"

    review_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    session_id: Mapped[str] = mapped_column(String(ID))
    verdict: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    t: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_session_reviews_store_session", "store_id", "session_id"),)


# --- access: API keys ----------------------------------------------------------------------


class ApiKeyRow(Base):
    """An API key: only its HMAC-SHA256 under the service's secret is stored (`keys.py`), the
    store it is scoped to (None: an admin key) and its role."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hmac: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[str | None] = mapped_column(String(ID))
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(128))
    created_t: Mapped[float] = mapped_column(Float)
    revoked_t: Mapped[float | None] = mapped_column(Float)


class AuditRow(Base):
    """Who looked at or acted on what, and when: every view of a session's evidence and every
    review, by key. Appended, never changed."""

    __tablename__ = "audit_log"

    entry_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    t: Mapped[float] = mapped_column(Float)
    key_id: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[str] = mapped_column(String(ID))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(ID))

    __table_args__ = (Index("ix_audit_log_store_t", "store_id", "t"),)


# --- webhooks: receivers and the outbox ----------------------------------------------------


class WebhookEndpointRow(Base):
    """A receiver of a store's webhooks: its URL and the event types it takes. Its signing
    secret is not stored: it is derived from the service's secret and the endpoint id."""

    __tablename__ = "webhook_endpoints"

    endpoint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[str] = mapped_column(Text)  # space-separated
    created_t: Mapped[float] = mapped_column(Float)
    removed_t: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_webhook_endpoints_store_id", "store_id"),)


class WebhookOutboxRow(Base):
    """One webhook to deliver to one endpoint, written in the transaction that made it true, so
    nothing committed goes unsent. A dispatcher claims a row for a lease (`claimed_by`,
    `claimed_until`), sends it, and marks it delivered, or due again after a backoff, or dead
    after its last attempt."""

    __tablename__ = "webhook_outbox"

    delivery_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[str] = mapped_column(String(ID))
    event_type: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    created_t: Mapped[float] = mapped_column(Float)
    due_t: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[float | None] = mapped_column(Float)
    delivered_t: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_webhook_outbox_state_due_t", "state", "due_t"),)


# --- evidence: frames that show what decided a basket line --------------------------------


class EvidenceFrameRow(Base):
    """One still of a session (a JPEG, heads already blurred when it was stored: no face ever
    reaches the database), from a camera at a time; deleted with its session by retention."""

    __tablename__ = "evidence_frames"

    evidence_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(ID))
    session_id: Mapped[str] = mapped_column(String(ID))
    camera_id: Mapped[str] = mapped_column(String(ID))
    t: Mapped[float] = mapped_column(Float)
    event_id: Mapped[str | None] = mapped_column(String(ID))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    heads_blurred: Mapped[int] = mapped_column(Integer)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    created_t: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_evidence_frames_store_session", "store_id", "session_id"),)


class ShopperPathRow(Base):
    """A stretch of one shopper's floor path (metres on the floor plan), sampled down to
    `storage.paths.PATH_HZ`: `points` is JSON `[[t, x, y], …]` from `t0` to `t1`. A session's
    path is its shoppers' stretches between its enter and exit times."""

    __tablename__ = "shopper_paths"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    shopper_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    t0: Mapped[float] = mapped_column(Float, primary_key=True)
    t1: Mapped[float] = mapped_column(Float)
    points: Mapped[str] = mapped_column(Text)


# --- cameras: the streams a store sends, and their health ---------------------------------


class CameraRow(Base):
    """A camera stream registered for a store. `stream_uri_sealed` is the URI encrypted under a
    key derived from the service's secret (`cameras.py`): RTSP credentials are never stored in
    the clear, and every answer and log line shows the URI redacted."""

    __tablename__ = "cameras"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    stream_uri_sealed: Mapped[str] = mapped_column(Text)
    stream_uri_redacted: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(128))
    fps: Mapped[float | None] = mapped_column(Float)
    created_t: Mapped[float] = mapped_column(Float)
    removed_t: Mapped[float | None] = mapped_column(Float)


class CameraHealthRow(Base):
    """The latest health a serving worker reported for a camera stream (one row per camera,
    replaced at each report)."""

    __tablename__ = "camera_health"

    store_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    t: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    fps: Mapped[float] = mapped_column(Float)
    lag_s: Mapped[float] = mapped_column(Float)
    frames_dropped: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
