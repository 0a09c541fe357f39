"""alert ledger: each alert claimed once, then marked sent or failed

Revision ID: 0004_alerts
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import data.models

revision = "0004_alerts"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("agreement", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("commitment", sa.String(length=255), nullable=True),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("window", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_try_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_alert_ledger_fingerprint"),
    )
    op.create_index("ix_alert_ledger_lead", "alert_ledger", ["lead_id"])
    op.create_index("ix_alert_ledger_claimed_at", "alert_ledger", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_ledger_claimed_at", table_name="alert_ledger")
    op.drop_index("ix_alert_ledger_lead", table_name="alert_ledger")
    op.drop_table("alert_ledger")
