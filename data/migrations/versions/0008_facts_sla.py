"""sla_facts: per handover row and clock commitment of each agreement version, the stored instants

Revision ID: 0008_facts
Revises: 0006_drill
Create Date: 2026-12-07

A new table only: existing rows are untouched. It starts empty; the next sync, import or agreement
save fills it (data.fact_upkeep), or ``refresh_facts`` does.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_facts"
down_revision = "0006_drill"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_facts",
        sa.Column("agreement", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("commitment", sa.String(length=255), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("row_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("mql_us", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=True),
        sa.Column("week_us", sa.BigInteger(), nullable=False),
        sa.Column("month_us", sa.BigInteger(), nullable=False),
        sa.Column("quarter_us", sa.BigInteger(), nullable=False),
        sa.Column("stop_us", sa.BigInteger(), nullable=True),
        sa.Column("in_time_us", sa.BigInteger(), nullable=True),
        sa.Column("taken_seconds", sa.Float(precision=53), nullable=True),
        sa.Column("touches", sa.Integer(), nullable=True),
        sa.Column("first_touch_us", sa.BigInteger(), nullable=True),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("disposition_us", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("team", sa.String(length=255), nullable=True),
        sa.Column("segment", sa.String(length=255), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("lead_id", "row_id", "agreement", "version", "commitment"),
    )
    op.create_index("ix_sla_facts_period", "sla_facts", ["agreement", "version", "commitment", "mql_us"])


def downgrade() -> None:
    op.drop_index("ix_sla_facts_period", table_name="sla_facts")
    op.drop_table("sla_facts")
