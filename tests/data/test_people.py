"""One person, one owner: owner records of several sources are one person on every read (data/people.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.slicing import slice_frames
from connectors.files import Mapping, import_file
from data import queries, upserts
from data.people import people, person_ids
from tests.connectors.test_file_import import csv_bytes

AS_OF = dt.datetime(2026, 11, 18, 10, tzinfo=dt.UTC)
SYNCED = pd.DataFrame(
    {
        "source": ["hubspot", "hubspot"],
        "external_id": ["101", "102"],
        "name": ["Chris Taylor", "Dana Wu"],
        "email": ["chris.taylor@acme.example", "dana@acme.example"],
        "team": ["EMEA", "Americas"],
    }
)
FILE_LEADS = Mapping(
    table="leads",
    source="sheet",
    owner_reference="name",
    columns={"external_id": "Id", "created_at": "Created", "mql_at": "MQL", "owner_external_id": "Owner"},
)


def test_an_imported_name_is_the_synced_person_in_filters_tables_and_figures(engine, tmp_path):
    upserts.upsert_owners(engine, SYNCED)
    upserts.upsert_leads(
        engine,
        pd.DataFrame(
            {
                "source": ["hubspot"] * 2,
                "external_id": ["h1", "h2"],
                "created_at": pd.to_datetime(["2026-11-02T10:00Z", "2026-11-03T10:00Z"]),
                "mql_at": pd.to_datetime(["2026-11-02T10:00Z", "2026-11-03T10:00Z"]),
                "owner_external_id": ["101", "102"],
            }
        ),
    )
    path = tmp_path / "leads.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["Id", "Created", "MQL", "Owner"],
                ["f1", "2026-11-04 10:00", "2026-11-04 10:00", "Chris Taylor"],
                ["f2", "2026-11-05 10:00", "2026-11-05 10:00", "Chris Taylor"],
            ]
        )
    )
    report = import_file(engine, path, "leads", FILE_LEADS, as_of=AS_OF)
    assert report.owners_created == 1  # the file's own record of the name is kept, not merged away

    owners = queries.read_owners(engine)
    assert sorted(owners["name"]) == ["Chris Taylor", "Dana Wu"]  # the filter lists each person once
    chris = owners.loc[owners["name"] == "Chris Taylor"].iloc[0]
    assert chris["team"] == "EMEA" and chris["email"] == "chris.taylor@acme.example"
    assert len(queries.read_owners(engine, source="sheet")) == 1  # per source: the records as stored

    leads = queries.read_leads(engine).set_index("external_id")
    assert leads.loc[["h1", "f1", "f2"], "owner_id"].tolist() == [chris["id"]] * 3
    assert leads.loc[["f1", "f2"], "team"].tolist() == ["EMEA", "EMEA"]  # the person's team

    # The owner filter and the by-owner breakdown see one person with three leads.
    frames = {
        "owners": owners,
        "leads": queries.read_leads(engine),
        "deals": queries.read_deals(engine),
        "activities": queries.read_activities(engine),
    }
    chosen = slice_frames(frames, owners=(int(chris["id"]),))
    assert sorted(chosen["leads"]["external_id"]) == ["f1", "f2", "h1"]
    assert frames["leads"].groupby("owner_id").size().to_dict() == {chris["id"]: 3, chris["id"] + 1: 1}


def test_two_people_of_one_name_stay_two_and_are_told_apart():
    owners = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "source": ["hubspot", "hubspot", "sheet"],
            "external_id": ["1", "2", "Sam Lee"],
            "name": ["Sam Lee", "Sam Lee", "Sam Lee"],
            "email": ["sam.lee@a.example", "sam.lee@b.example", None],
            "team": ["EMEA", "Americas", None],
            "active": [True, True, True],
        }
    )
    assert person_ids(owners).tolist() == [1, 2, 3]  # the file's name could be either: it stays apart
    assert people(owners)["name"].tolist() == [
        "Sam Lee (sam.lee@a.example)",
        "Sam Lee (sam.lee@b.example)",
        "Sam Lee (sheet)",
    ]


names = st.sampled_from(["Ann", "Bo", "Cy", "Ann "])
emails = st.one_of(st.none(), st.sampled_from(["a@x.io", "A@X.io", "b@x.io", "c@x.io"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, emails), min_size=1, max_size=12))
def test_people_partition_the_owner_records(records):
    owners = pd.DataFrame(
        {
            "id": range(1, len(records) + 1),
            "source": "s",
            "external_id": [str(i) for i in range(len(records))],
            "name": [n for n, _ in records],
            "email": [e for _, e in records],
            "team": None,
            "active": True,
        }
    )
    person = person_ids(owners)
    rows = people(owners)
    assert set(person) == set(rows["id"])  # every record belongs to exactly one listed person
    assert not rows["name"].duplicated().any()  # never two identical names
    for _, group in owners.groupby(person.to_numpy()):
        mails = {e.strip().lower() for e in group["email"] if isinstance(e, str)}
        names_ = {n.strip() for n in group["name"]}
        assert len(mails) <= 1  # one person has one e-mail at most: records without one joined by name
        if not mails:
            assert len(names_) == 1  # people without any e-mail are one name each
    for mail in {e.strip().lower() for e in owners["email"] if isinstance(e, str)}:  # one e-mail, one person
        same = owners["email"].map(lambda e, m=mail: isinstance(e, str) and e.strip().lower() == m)
        assert person[same].nunique() == 1
