"""one running sync per connector: host, pid and heartbeat of each run

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Runs left "running" by an older version (which could not tell live runs from
dead ones) are all marked interrupted first: upgrade with Accord stopped.
"""

import sqlalchemy as sa
from alembic import op

import data.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LEFT_RUNNING = "stopped without recording how it ended; found still running when the database was upgraded"


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", data.models.UTCDateTime(timezone=True), nullable=True))
    runs = sa.table("sync_runs", sa.column("status", sa.String), sa.column("error", sa.Text))
    op.execute(
        runs.update().where(runs.c.status == "running").values(status="interrupted", error=LEFT_RUNNING)
    )
    op.create_index(
        "uq_sync_runs_one_running",
        "sync_runs",
        ["connector"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("uq_sync_runs_one_running", table_name="sync_runs")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
