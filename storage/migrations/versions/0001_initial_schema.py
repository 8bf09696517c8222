"""Initial schema: inputs, derived records with revisions, lifecycle and reviews

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-07 03:12:27.467414
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "revision", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_store_current_t", ["store_id", "is_current", "t"], unique=False
        )
        batch_op.create_index("ix_alerts_store_session", ["store_id", "session_id"], unique=False)

    op.create_table(
        "basket_lines",
        sa.Column("basket_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("basket_id", "revision", "line_no", name=op.f("pk_basket_lines")),
    )
    with op.batch_alter_table("basket_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_basket_lines_store_current_sku", ["store_id", "is_current", "sku"], unique=False
        )

    op.create_table(
        "baskets",
        sa.Column("basket_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("unpaid_lines", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("basket_id", "revision", name=op.f("pk_baskets")),
    )
    with op.batch_alter_table("baskets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_baskets_store_session_current",
            ["store_id", "session_id", "is_current"],
            unique=False,
        )

    op.create_table(
        "pos_lines",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("txn_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "txn_id", "line_no", name=op.f("pk_pos_lines")),
    )
    with op.batch_alter_table("pos_lines", schema=None) as batch_op:
        batch_op.create_index("ix_pos_lines_store_sku", ["store_id", "sku"], unique=False)

    op.create_table(
        "pos_transactions",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("txn_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("refers_to", sa.String(length=64), nullable=True),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_t", sa.Float(), nullable=False),
        sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "txn_id", name=op.f("pk_pos_transactions")),
    )
    with op.batch_alter_table("pos_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pos_transactions_store_refers_to", ["store_id", "refers_to"], unique=False
        )
        batch_op.create_index("ix_pos_transactions_store_t", ["store_id", "t"], unique=False)
        batch_op.create_index(
            "ix_pos_transactions_store_terminal_t", ["store_id", "terminal_id", "t"], unique=False
        )

    op.create_table(
        "rfid_reads",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("read_id", sa.String(length=64), nullable=False),
        sa.Column("reader_id", sa.String(length=64), nullable=False),
        sa.Column("epc", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("rssi_dbm", sa.Float(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_t", sa.Float(), nullable=False),
        sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "read_id", name=op.f("pk_rfid_reads")),
    )
    with op.batch_alter_table("rfid_reads", schema=None) as batch_op:
        batch_op.create_index("ix_rfid_reads_store_epc", ["store_id", "epc"], unique=False)
        batch_op.create_index("ix_rfid_reads_store_t", ["store_id", "t"], unique=False)

    op.create_table(
        "session_lifecycle",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("lifecycle", sa.String(length=16), nullable=False),
        sa.Column("has_alert", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_t", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "session_id", name=op.f("pk_session_lifecycle")),
    )
    with op.batch_alter_table("session_lifecycle", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_lifecycle_store_lifecycle", ["store_id", "lifecycle"], unique=False
        )

    op.create_table(
        "session_reviews",
        sa.Column("review_no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("review_no", name=op.f("pk_session_reviews")),
    )
    with op.batch_alter_table("session_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_reviews_store_session", ["store_id", "session_id"], unique=False
        )

    op.create_table(
        "session_shoppers",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("shopper_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "session_id", "revision", "shopper_id", name=op.f("pk_session_shoppers")
        ),
    )
    with op.batch_alter_table("session_shoppers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_shoppers_store_shopper_current",
            ["store_id", "shopper_id", "is_current"],
            unique=False,
        )

    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("enter_t", sa.Float(), nullable=False),
        sa.Column("exit_t", sa.Float(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "revision", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sessions_store_current_enter",
            ["store_id", "is_current", "enter_t", "session_id"],
            unique=False,
        )

    op.create_table(
        "shelf_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("shelf_id", sa.String(length=64), nullable=False),
        sa.Column("shopper_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "revision", name=op.f("pk_shelf_events")),
    )
    with op.batch_alter_table("shelf_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shelf_events_store_current_t", ["store_id", "is_current", "t"], unique=False
        )
        batch_op.create_index(
            "ix_shelf_events_store_shelf_t", ["store_id", "shelf_id", "t"], unique=False
        )
        batch_op.create_index(
            "ix_shelf_events_store_shopper_t", ["store_id", "shopper_id", "t"], unique=False
        )
        batch_op.create_index("ix_shelf_events_store_sku_t", ["store_id", "sku", "t"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("shelf_events", schema=None) as batch_op:
        batch_op.drop_index("ix_shelf_events_store_sku_t")
        batch_op.drop_index("ix_shelf_events_store_shopper_t")
        batch_op.drop_index("ix_shelf_events_store_shelf_t")
        batch_op.drop_index("ix_shelf_events_store_current_t")

    op.drop_table("shelf_events")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_store_current_enter")

    op.drop_table("sessions")
    with op.batch_alter_table("session_shoppers", schema=None) as batch_op:
        batch_op.drop_index("ix_session_shoppers_store_shopper_current")

    op.drop_table("session_shoppers")
    with op.batch_alter_table("session_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_session_reviews_store_session")

    op.drop_table("session_reviews")
    with op.batch_alter_table("session_lifecycle", schema=None) as batch_op:
        batch_op.drop_index("ix_session_lifecycle_store_lifecycle")

    op.drop_table("session_lifecycle")
    with op.batch_alter_table("rfid_reads", schema=None) as batch_op:
        batch_op.drop_index("ix_rfid_reads_store_t")
        batch_op.drop_index("ix_rfid_reads_store_epc")

    op.drop_table("rfid_reads")
    with op.batch_alter_table("pos_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_pos_transactions_store_terminal_t")
        batch_op.drop_index("ix_pos_transactions_store_t")
        batch_op.drop_index("ix_pos_transactions_store_refers_to")

    op.drop_table("pos_transactions")
    with op.batch_alter_table("pos_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_pos_lines_store_sku")

    op.drop_table("pos_lines")
    with op.batch_alter_table("baskets", schema=None) as batch_op:
        batch_op.drop_index("ix_baskets_store_session_current")

    op.drop_table("baskets")
    with op.batch_alter_table("basket_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_lines_store_current_sku")

    op.drop_table("basket_lines")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_store_session")
        batch_op.drop_index("ix_alerts_store_current_t")

    op.drop_table("alerts")
