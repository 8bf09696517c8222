"""Cameras (stream URIs sealed, a redacted copy beside) and the health workers report.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 06:22:06.646690
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_health",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("lag_s", sa.Float(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "camera_id", name=op.f("pk_camera_health")),
    )
    op.create_table(
        "cameras",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("stream_uri_sealed", sa.Text(), nullable=False),
        sa.Column("stream_uri_redacted", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("created_t", sa.Float(), nullable=False),
        sa.Column("removed_t", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "camera_id", name=op.f("pk_cameras")),
    )


def downgrade() -> None:
    op.drop_table("cameras")
    op.drop_table("camera_health")
