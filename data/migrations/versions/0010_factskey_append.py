"""sla_facts keyed by (agreement, version, commitment, lead_id, row_id): a new version's rows are appended

Revision ID: 0010_factskey
Revises: 0009_channel
Create Date: 2026-12-07

The key used to start with the lead, so a new version's millions of rows landed between the stored ones
in the b-tree. Every stored fact is kept: PostgreSQL swaps the primary key in place; SQLite (which cannot
alter a primary key) copies the rows into a new table in key order, drops the old one and renames.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_factskey"
down_revision = "0009_channel"
branch_labels = None
depends_on = None

NEW_KEY = ("agreement", "version", "commitment", "lead_id", "row_id")
OLD_KEY = ("lead_id", "row_id", "agreement", "version", "commitment")
PERIOD = ("agreement", "version", "commitment", "mql_us")


def _columns() -> list[sa.Column]:
    """The columns of sla_facts as 0008_facts made them."""
    return [
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
    ]


def _rekey(key: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("sla_facts_pkey", "sla_facts", type_="primary")
        op.create_primary_key("sla_facts_pkey", "sla_facts", list(key))
        return
    columns = _columns()
    names = ", ".join(c.name for c in columns)
    op.create_table("sla_facts_rekeyed", *columns, sa.PrimaryKeyConstraint(*key))
    # In the new key's order: the new b-tree is written from left to right.
    op.execute(
        f"INSERT INTO sla_facts_rekeyed ({names}) SELECT {names} FROM sla_facts ORDER BY {', '.join(key)}"
    )
    op.drop_index("ix_sla_facts_period", table_name="sla_facts")
    op.drop_table("sla_facts")
    op.rename_table("sla_facts_rekeyed", "sla_facts")
    op.create_index("ix_sla_facts_period", "sla_facts", list(PERIOD))


def upgrade() -> None:
    _rekey(NEW_KEY)


def downgrade() -> None:
    _rekey(OLD_KEY)
