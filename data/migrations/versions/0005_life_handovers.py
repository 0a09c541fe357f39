"""handovers: a lead handed over more than once (recycled, then re-qualified)

Revision ID: 0004_life
Revises: 0004_alerts
Create Date: 2026-12-07

Only the table is created: a lead with fewer than two stored handovers keeps
reading as its lead row, so existing databases read exactly as before and no
row is copied (a copy of every lead's mql_at would be a second truth that goes
stale whenever a connector that knows nothing of handovers updates the lead).
"""

import sqlalchemy as sa
from alembic import op

import data.models

revision = "0004_life"
down_revision = "0004_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = data.models.UTCDateTime(timezone=True)
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("lead_external_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("mql_at", stamp, nullable=False),
        sa.Column("recycled", sa.Boolean(), nullable=True),
        sa.Column("sql_at", stamp, nullable=True),
        sa.Column("first_touch_at", stamp, nullable=True),
        sa.Column("touches", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("disposition_at", stamp, nullable=True),
        sa.Column("rejection_reason", sa.String(length=255), nullable=True),
        sa.Column("updated_at", stamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "lead_external_id", "seq", name="uq_handovers_source_lead_seq"),
    )
    op.create_index("ix_handovers_mql_at", "handovers", ["mql_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_handovers_mql_at", table_name="handovers")
    op.drop_table("handovers")
