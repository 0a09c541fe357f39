"""A lead handed over more than once, read as one row per handover: pure pandas, no SQL.

A lead recycled by sales and re-qualified by marketing has several handovers
(table ``handovers``). The analytics count rows of the leads frame, so the
reading (:mod:`data.queries`) gives such a lead as one row per handover; every other lead is its
one row, exactly as before. The rules, in one place:

- **Windows.** A lead's handovers, ordered by ``mql_at``, split time into
  windows: handover *k* owns ``[mql_at_k, mql_at_k+1)``; the first also owns
  everything before it, the last everything after.
- **Row key.** The first handover keeps the lead's id; each later one is keyed
  ``-(its handovers.id)``, so a negative id marks a repeat handover
  (:func:`analytics.schema.is_repeat_handover`). Activities and deals of the lead are linked to the
  handover whose window holds their ``occurred_at`` / ``created_at``.
- **Per-handover facts.** ``mql_at`` is the handover's. ``sql_at``,
  ``first_touch_at``, ``touches`` and the disposition triple are the stored
  handover's when known; otherwise they come from the lead: the first touch is
  the earliest activity (or the lead's ``first_touch_at``) in the window, the
  touches are the activities in the window, ``sql_at`` and a decided
  disposition belong to the handover whose window holds them, and an undated
  disposition belongs to the last handover. An earlier handover without a
  decision of its own stays "open".

Because a window ends only where the next handover starts, a later handover
never changes how an earlier one was judged as of any moment before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HANDOVER_FACTS = ("sql_at", "first_touch_at", "touches", "disposition", "disposition_at", "rejection_reason")
# Lead columns the expansion reads besides those it returns.
NEEDED = ("id", "mql_at", "sql_at", "first_touch_at", "touches", "disposition", "disposition_at",
          "rejection_reason")  # fmt: skip


def row_keys(handovers: pd.DataFrame) -> pd.DataFrame:
    """``handovers`` (``lead_id``, ``handover_id``, ``mql_at``, ...) sorted by lead then ``mql_at``, with ``row_id``.

    ``row_id`` is the lead's id for its first handover and ``-handover_id`` for the later ones.
    """
    out = handovers.sort_values(["lead_id", "mql_at", "handover_id"], kind="stable").reset_index(drop=True)
    first = ~out["lead_id"].duplicated()
    out["row_id"] = np.where(
        first.to_numpy(), out["lead_id"].to_numpy("int64"), -out["handover_id"].to_numpy("int64")
    )
    return out


def assign(keys: pd.DataFrame, lead_ids: pd.Series, when: pd.Series) -> np.ndarray:
    """The row id each (lead, instant) belongs to: the handover whose window holds ``when``.

    ``keys`` comes from :func:`row_keys`. Items of leads without handovers in ``keys``
    keep their lead id (-1 for a missing one); a missing ``when`` goes to the first handover.
    """
    ids = lead_ids.to_numpy(dtype="int64", na_value=-1)
    out = ids.copy()
    mine = np.isin(ids, keys["lead_id"].to_numpy("int64"))
    if not mine.any():
        return out
    first = keys.drop_duplicates("lead_id").set_index("lead_id")["row_id"]
    pos = np.flatnonzero(mine)
    # Pick before converting: to_numpy() of a whole tz-aware column makes one Timestamp object per row.
    items = pd.DataFrame({"lead_id": ids[mine], "when": when.iloc[pos].reset_index(drop=True), "pos": pos})
    items["when"] = pd.to_datetime(items["when"], utc=True).astype(keys["mql_at"].dtype)
    out[mine] = first.reindex(items["lead_id"]).to_numpy("int64")
    dated = items[items["when"].notna()].sort_values("when", kind="stable")
    if len(dated):
        table = keys[["lead_id", "mql_at", "row_id"]].sort_values("mql_at", kind="stable")
        hit = pd.merge_asof(
            dated, table, left_on="when", right_on="mql_at", by="lead_id", direction="backward"
        )
        found = hit["row_id"].notna().to_numpy()
        out[hit["pos"].to_numpy()[found]] = hit["row_id"].to_numpy()[found].astype("int64")
    return out


def expand(leads: pd.DataFrame, handovers: pd.DataFrame, activities: pd.DataFrame) -> pd.DataFrame:
    """One row per handover of the ``leads`` that have rows in ``handovers``, keyed and filled as the module says.

    ``leads``: canonical lead rows (at least :data:`NEEDED`); ``handovers``: ``lead_id``,
    ``handover_id``, ``mql_at`` and any of :data:`HANDOVER_FACTS`; ``activities``: the
    not-archived ``lead_id`` / ``occurred_at`` of those leads. Leads without handovers
    are left out. Returns the columns of ``leads``, ordered by lead and ``mql_at``.
    """
    keys = row_keys(handovers[handovers["lead_id"].isin(leads["id"].dropna())])
    if keys.empty:
        return leads.iloc[:0]
    lead_at = pd.Index(leads["id"].to_numpy("int64")).get_indexer(keys["lead_id"].to_numpy("int64"))
    rows = leads.iloc[lead_at].reset_index(drop=True)
    rows["id"] = pd.array(keys["row_id"].to_numpy("int64"), dtype=leads["id"].dtype)
    rows["mql_at"] = keys["mql_at"].astype(leads["mql_at"].dtype).to_numpy()
    row_at = pd.Index(keys["row_id"].to_numpy("int64"))
    last = ~keys["lead_id"].duplicated(keep="last").to_numpy()

    # Activities and the lead's own first touch, each in the window that holds it.
    acts_row = row_at.get_indexer(assign(keys, activities["lead_id"], activities["occurred_at"]))
    counted = (acts_row >= 0) & activities["occurred_at"].notna().to_numpy()  # undated: no window, no touch
    touches = np.bincount(acts_row[counted], minlength=len(keys))
    first_act = (
        pd.Series(activities["occurred_at"].to_numpy()[counted])
        .groupby(acts_row[counted])
        .min()
        .reindex(range(len(keys)))
    )
    own_touch_row = row_at.get_indexer(assign(keys, leads["id"], leads["first_touch_at"]))[lead_at]
    own_touch = rows["first_touch_at"].where(own_touch_row == np.arange(len(keys)))
    derived_touch = pd.concat(
        [pd.Series(first_act.to_numpy(), dtype=rows["first_touch_at"].dtype), own_touch], axis=1
    ).min(axis=1)
    derived = {
        "first_touch_at": derived_touch.astype(rows["first_touch_at"].dtype),
        "touches": pd.Series(touches, dtype=rows["touches"].dtype),
    }
    sql_row = row_at.get_indexer(assign(keys, leads["id"], leads["sql_at"]))[lead_at]
    derived["sql_at"] = rows["sql_at"].where(sql_row == np.arange(len(keys)))
    decided_row = row_at.get_indexer(assign(keys, leads["id"], leads["disposition_at"]))[lead_at]
    mine = decided_row == np.arange(len(keys))
    owns_decision = np.where(rows["disposition_at"].notna().to_numpy(), mine, last)
    derived["disposition"] = rows["disposition"].where(owns_decision, "open")
    derived["disposition_at"] = rows["disposition_at"].where(owns_decision)
    derived["rejection_reason"] = rows["rejection_reason"].where(owns_decision)

    # A handover's own facts win; a stored disposition brings its date and reason along, even empty ones.
    decided = _stored(keys, "disposition")
    for name in HANDOVER_FACTS:
        known = decided if name in ("disposition_at", "rejection_reason") else _stored(keys, name)
        value = derived[name].astype(rows[name].dtype)
        if known.any():
            own = keys[name].to_numpy() if name in keys.columns else [None] * len(keys)
            stored = pd.Series(own, dtype=rows[name].dtype)
            value = stored.where(known, value)
        rows[name] = value
    return rows


def _stored(keys: pd.DataFrame, name: str) -> np.ndarray:
    """Whether each handover has its own value of ``name``."""
    if name not in keys.columns:
        return np.zeros(len(keys), dtype=bool)
    return keys[name].notna().to_numpy()
