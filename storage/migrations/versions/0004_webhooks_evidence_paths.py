"""Webhooks (receivers and the outbox), evidence frames (heads blurred before storing) and
shoppers' floor paths.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:18:35.949437
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_frames",
        sa.Column("evidence_no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("heads_blurred", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("created_t", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("evidence_no", name=op.f("pk_evidence_frames")),
    )
    with op.batch_alter_table("evidence_frames", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_frames_store_session", ["store_id", "session_id"], unique=False
        )

    op.create_table(
        "shopper_paths",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("shopper_id", sa.String(length=64), nullable=False),
        sa.Column("t0", sa.Float(), nullable=False),
        sa.Column("t1", sa.Float(), nullable=False),
        sa.Column("points", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "shopper_id", "t0", name=op.f("pk_shopper_paths")),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("created_t", sa.Float(), nullable=False),
        sa.Column("removed_t", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("endpoint_id", name=op.f("pk_webhook_endpoints")),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_endpoints_store_id", ["store_id"], unique=False)

    op.create_table(
        "webhook_outbox",
        sa.Column("delivery_no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_t", sa.Float(), nullable=False),
        sa.Column("due_t", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.Float(), nullable=True),
        sa.Column("delivered_t", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("delivery_no", name=op.f("pk_webhook_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_outbox_event_id")),
    )
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_outbox_state_due_t", ["state", "due_t"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_outbox_state_due_t")

    op.drop_table("webhook_outbox")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_endpoints_store_id")

    op.drop_table("webhook_endpoints")
    op.drop_table("shopper_paths")
    with op.batch_alter_table("evidence_frames", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_frames_store_session")

    op.drop_table("evidence_frames")
