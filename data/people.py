"""One person, one owner: owner records of several sources (a HubSpot sync, a file import) that are the
same person become one owner on read. Pure pandas; the repository applies it to every read.

The rule: owners with the same e-mail address (case and spaces ignored) are one person; an owner without
an e-mail is one person with the other records of its exact name (spaces trimmed) that have none, and
with the one person of that name who has an e-mail, if only one has. Among a person's records the one of lowest id speaks for them (its id, then the first name, e-mail
and team any record has); the person is active when any record is. Two different people who share a name
are told apart by their e-mail, so no two owners ever show the same name.

>>> owners = pd.DataFrame({
...     "id": [1, 2, 3, 4], "source": ["hubspot", "file", "file", "hubspot"],
...     "external_id": ["11", "Chris Taylor", "x", "12"],
...     "name": ["Chris Taylor", "Chris Taylor", "Ana Ruiz", "Ana Ruiz"],
...     "email": ["chris@acme.example", None, "ana@acme.example", "ANA@acme.example "],
...     "team": ["EMEA", None, None, "Americas"], "active": [True, True, False, True]})
>>> person_ids(owners).tolist()
[1, 1, 3, 3]
>>> people(owners)[["id", "name", "team", "active"]].values.tolist()
[[1, 'Chris Taylor', 'EMEA', True], [3, 'Ana Ruiz', 'Americas', True]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _key(values: pd.Series) -> pd.Series:
    text = values.astype("object").where(values.notna(), None)
    return text.map(lambda v: v.strip().casefold() if isinstance(v, str) and v.strip() else None)


def person_ids(owners: pd.DataFrame) -> pd.Series:
    """The id of the owner record that speaks for each row's person (same index as ``owners``)."""
    if owners.empty:
        return pd.Series([], index=owners.index, dtype="int64")
    ids = owners["id"].to_numpy(dtype="int64")
    parent = {int(i): int(i) for i in ids}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    emails = _key(owners["email"]) if "email" in owners else pd.Series(None, index=owners.index)
    for _, group in pd.Series(ids, index=owners.index).groupby(emails.to_numpy(), dropna=True):
        first = int(group.iloc[0])
        for other in group.iloc[1:]:
            union(first, int(other))
    names = owners["name"].astype("object").map(lambda v: v.strip() if isinstance(v, str) else None)
    with_email = emails.notna().to_numpy()
    for _name, rows in pd.Series(np.arange(len(owners))).groupby(names.to_numpy(), dropna=True):
        rows = rows.to_numpy()
        bare = [int(ids[r]) for r in rows if not with_email[r]]
        for other in bare[1:]:  # records of one name without an e-mail are one person
            union(bare[0], other)
        persons = {find(int(ids[r])) for r in rows if with_email[r]}
        if bare and len(persons) == 1:  # ... who is the one person with an e-mail of that name, if only one
            union(next(iter(persons)), bare[0])
    return pd.Series([find(int(i)) for i in ids], index=owners.index, dtype="int64")


def people(owners: pd.DataFrame, person: pd.Series | None = None) -> pd.DataFrame:
    """One row per person, in the columns of ``owners``: the speaking record's id and the first name,
    e-mail and team any of the person's records has (lowest id first); active if any record is. A name
    that two people share gets each one's e-mail (or source) appended."""
    if owners.empty:
        return owners
    person = person_ids(owners) if person is None else person  # ``person``: person_ids(owners), if known
    ordered = owners.assign(_person=person.to_numpy()).sort_values("id", kind="stable")
    grouped = ordered.groupby("_person", sort=True)
    first = grouped.first()  # first non-null value of each column, lowest id first
    out = ordered.drop_duplicates("_person").set_index("_person")
    for column in ("name", "email", "team"):
        if column in out:
            out[column] = first[column].astype(owners[column].dtype)
    if "active" in out:
        out["active"] = grouped["active"].max().astype(owners["active"].dtype)
    out = out.reset_index(drop=True)
    if "name" in out:
        out["name"] = out["name"].str.strip()
        clash = out["name"].duplicated(keep=False) & out["name"].notna()
        if clash.any():
            tell = out["email"] if "email" in out else out["source"]
            tell = tell.where(tell.notna(), out["source"]) if "source" in out else tell
            out.loc[clash, "name"] = out.loc[clash, "name"] + " (" + tell[clash].astype(str) + ")"
        still = out["name"].duplicated(keep=False) & out["name"].notna()
        out.loc[still, "name"] = out.loc[still, "name"] + " #" + out.loc[still, "id"].astype(str)
    return out[list(owners.columns)]
