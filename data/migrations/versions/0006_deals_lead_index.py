"""deals: an index on the lead a deal belongs to

Revision ID: 0006_deal_index
Revises: 0004_life
Create Date: 2026-12-07

Reading the deals of given leads (a recycled lead's handovers, a merge, the
links of a drill-down) scanned every deal of the source per lead: 5 of the 8
seconds a 100,000-lead dashboard spent reading its 15 periods. Activities have
had the same index since the first revision.
"""

from alembic import op

revision = "0006_deal_index"
down_revision = "0004_life"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deals_lead", "deals", ["source", "lead_external_id"])


def downgrade() -> None:
    op.drop_index("ix_deals_lead", table_name="deals")
