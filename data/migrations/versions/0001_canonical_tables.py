"""canonical tables

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

import data.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("lead_external_id", sa.String(length=255), nullable=True),
        sa.Column("owner_external_id", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("occurred_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_activities_source_external_id"),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_lead", ["source", "lead_external_id"], unique=False)
        batch_op.create_index("ix_activities_occurred_at", ["occurred_at"], unique=False)

    op.create_table(
        "agreement_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agreement", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement", "version", name="uq_agreement_versions_agreement_version"),
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("amount", sa.Float(precision=53), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("stage", sa.String(length=255), nullable=True),
        sa.Column("pipeline", sa.String(length=255), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=True),
        sa.Column("is_won", sa.Boolean(), nullable=True),
        sa.Column("owner_external_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("lead_external_id", sa.String(length=255), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=True),
        sa.Column("updated_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_deals_source_external_id"),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_closed_at", ["closed_at"], unique=False)
        batch_op.create_index("ix_deals_created_at", ["created_at"], unique=False)

    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mql_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sql_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("owner_external_id", sa.String(length=255), nullable=True),
        sa.Column("owner_assigned_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=64), nullable=True),
        sa.Column("lead_status", sa.String(length=64), nullable=True),
        sa.Column("first_touch_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("touches", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("disposition_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=255), nullable=True),
        sa.Column("segment", sa.String(length=255), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=True),
        sa.Column("updated_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_leads_source_external_id"),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_leads_mql_at", ["mql_at"], unique=False)
        batch_op.create_index("ix_leads_owner", ["source", "owner_external_id"], unique=False)

    op.create_table(
        "owners",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("team", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("updated_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_owners_source_external_id"),
    )
    op.create_table(
        "rejected_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("row_number", sa.BigInteger(), nullable=True),
        sa.Column("column_name", sa.String(length=255), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("seen_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_rejected_rows_fingerprint"),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("started_at", data.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("checkpoint", sa.JSON(), nullable=True),
        sa.Column("updated_at", data.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connector", "object", name="uq_sync_state_connector_object"),
    )


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_table("sync_runs")
    op.drop_table("rejected_rows")
    op.drop_table("owners")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_owner")
        batch_op.drop_index("ix_leads_mql_at")
        batch_op.drop_index("ix_leads_created_at")

    op.drop_table("leads")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_created_at")
        batch_op.drop_index("ix_deals_closed_at")

    op.drop_table("deals")
    op.drop_table("agreement_versions")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_occurred_at")
        batch_op.drop_index("ix_activities_lead")

    op.drop_table("activities")
