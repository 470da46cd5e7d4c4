"""API clients.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_clients_subject", "clients", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_clients_subject", "clients")
    op.drop_table("clients")
