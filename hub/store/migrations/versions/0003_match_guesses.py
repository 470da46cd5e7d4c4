"""Match guess budgets: the distinct values compared per key and field, as digests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_subject",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("dataset", sa.String(200), primary_key=True),
        sa.Column("spends", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "match_guess",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("dataset", sa.String(200), primary_key=True),
        sa.Column("key_digest", sa.String(32), primary_key=True),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("value_digest", sa.String(32), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("match_guess")
    op.drop_table("match_subject")
