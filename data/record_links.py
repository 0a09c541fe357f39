"""What record links need from each CRM, kept with the connector's sync state (see ``analytics.links``).

Stored as the ``sync_state`` row (connector, ``record_links``), its cursor a JSON object (a checkpoint
would read as an interrupted run): HubSpot's portal id and UI domain, Salesforce's instance URL. Neither
is a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from data import syncs, transactions
from data.models import SyncState

OBJECT = "record_links"


def save_link_base(bind: Engine | Connection, connector: str, base: Mapping) -> None:
    """Store what links to ``connector``'s records need (replacing what was stored)."""
    syncs.set_sync_state(bind, connector, OBJECT, cursor=json.dumps(dict(base), sort_keys=True))


def read_link_bases(bind: Engine | Connection) -> dict[str, dict]:
    """Return connector -> its stored link base, for every connector that stored one."""
    t = SyncState.__table__
    with transactions.transaction(bind) as conn:
        rows = conn.execute(select(t.c.connector, t.c.cursor).where(t.c.object == OBJECT)).all()
    return {connector: json.loads(base) for connector, base in rows if base}
