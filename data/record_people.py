"""Who the records behind a figure are: name, company, source and CRM id of leads or deals, read by row id.

The analytics frames leave these text columns unread (``data.frames.ANALYTICS_COLUMNS``): a figure's records
are a few thousand rows at most per period, read here by id when someone opens them. A repeat handover's
row id is negative (``data.handovers``): it reads its lead's row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from data import transactions
from data.models import Deal, Handover, Lead

PEOPLE_COLUMNS = ["row_id", "source", "external_id", "name", "company"]
CHUNK = 20_000  # bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535


def read_people(bind: Engine | Connection, table: str, row_ids: Sequence[int]) -> pd.DataFrame:
    """Return one row per known id of ``row_ids`` (``table`` "leads" or "deals"), columns :data:`PEOPLE_COLUMNS`.

    ``company`` is a lead's; a deal has none (its name usually says it). Unknown ids are left out.
    """
    if table not in ("leads", "deals"):
        raise ValueError(f"records are leads or deals, not {table!r}")
    ids = np.unique(np.asarray(row_ids, dtype="int64"))
    rows: list[tuple] = []
    with transactions.transaction(bind) as conn:
        if table == "deals":
            d = Deal.__table__
            for chunk in _chunks(ids[ids > 0]):
                query = select(d.c.id, d.c.source, d.c.external_id, d.c.name).where(d.c.id.in_(chunk))
                rows += [(*r, None) for r in conn.execute(query)]
        else:
            lead, h = Lead.__table__, Handover.__table__
            wanted = (lead.c.source, lead.c.external_id, lead.c.name, lead.c.company)
            for chunk in _chunks(ids[ids > 0]):
                rows += list(conn.execute(select(lead.c.id, *wanted).where(lead.c.id.in_(chunk))))
            for chunk in _chunks(-ids[ids < 0]):
                joined = h.join(
                    lead, (lead.c.source == h.c.source) & (lead.c.external_id == h.c.lead_external_id)
                )
                query = (
                    select((-h.c.id).label("row_id"), *wanted).select_from(joined).where(h.c.id.in_(chunk))
                )
                rows += list(conn.execute(query))
    out = pd.DataFrame(rows, columns=PEOPLE_COLUMNS)
    out["row_id"] = out["row_id"].astype("int64")
    for column in PEOPLE_COLUMNS[1:]:
        out[column] = out[column].astype("str")
    return out


def _chunks(ids: np.ndarray):
    for start in range(0, len(ids), CHUNK):
        yield [int(i) for i in ids[start : start + CHUNK]]
