"""leads: name, company and e-mail, for the records behind a figure

Revision ID: 0006_drill
Revises: 0006_deal_index
Create Date: 2026-12-07

Three nullable columns: existing rows keep every value and read with no name
until their source is synced or imported again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_drill"
down_revision = "0006_deal_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("company", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("email")
        batch.drop_column("company")
        batch.drop_column("name")
