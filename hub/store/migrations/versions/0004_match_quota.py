"""Match quotas: records compared per subject and day, and a client's own quota.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_quota",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("records", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("match_quota", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("match_quota")
    op.drop_table("match_quota")
