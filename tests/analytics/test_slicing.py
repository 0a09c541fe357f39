"""Slicing frames by team, owner and channel."""

from __future__ import annotations

import pandas as pd

from analytics.schema import coerce_frame
from analytics.slicing import slice_frames


def _frames():
    leads = coerce_frame(
        pd.DataFrame(
            {
                "id": [1, 2, 3, 4],
                "source": "s",
                "external_id": ["a", "b", "c", "d"],
                "owner_id": [10, 11, None, 10],
                "team": ["EMEA", "Americas", None, "EMEA"],
                "channel": ["Events", "Events", "Partners", None],
            }
        ),
        "leads",
    )
    activities = coerce_frame(
        pd.DataFrame({"id": [1, 2, 3], "source": "s", "external_id": ["x", "y", "z"], "lead_id": [1, 2, 4],
                      "owner_id": [10, 11, 12]}),
        "activities",
    )  # fmt: skip
    return {"leads": leads, "activities": activities}


def test_empty_selection_keeps_everything():
    frames = _frames()
    sliced = slice_frames(frames)
    assert all(sliced[k].equals(frames[k]) for k in frames)


def test_filters_combine_and_missing_values_never_match():
    sliced = slice_frames(_frames(), teams=["EMEA"], channels=["Events"])
    assert sliced["leads"]["external_id"].tolist() == ["a"]
    assert sliced["activities"]["external_id"].tolist() == ["x"]  # activities follow their lead


def test_owner_filter_keeps_every_activity_on_the_owners_leads_whoever_logged_it():
    sliced = slice_frames(_frames(), owners=[10])
    assert sliced["leads"]["external_id"].tolist() == ["a", "d"]
    assert sliced["activities"]["external_id"].tolist() == ["x", "z"]  # z was logged by owner 12 on lead d


def test_sliced_frames_carry_the_whole_frames_and_the_selection():
    frames = _frames()
    sliced = slice_frames(frames, teams=["EMEA"])
    assert sliced.whole is frames
    assert sliced.selection.teams == ("EMEA",)
    assert slice_frames(sliced, owners=[10]).whole is frames


def test_input_is_not_modified():
    frames = _frames()
    before = frames["leads"].copy()
    slice_frames(frames, teams=["Americas"])
    pd.testing.assert_frame_equal(frames["leads"], before)


def test_a_slice_of_a_slice_keeps_both_selections():
    sliced = slice_frames(slice_frames(_frames(), teams=["EMEA"]), channels=["Events"])
    assert (sliced.selection.teams, sliced.selection.channels) == (("EMEA",), ("Events",))
    assert slice_frames(slice_frames(_frames(), teams=["EMEA"]), teams=["Americas"])["leads"].empty
