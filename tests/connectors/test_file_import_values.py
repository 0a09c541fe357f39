"""Export text -> typed values: dates (formats, order detection, timezones), numbers, booleans, value maps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files.mapping import Mapping
from connectors.files.rows import make_plan
from connectors.files.values import (
    choose_date_order,
    choose_decimal,
    map_values,
    parse_booleans,
    parse_datetimes,
    parse_number,
    parse_numbers,
)


def utc(*args) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime(*args, tzinfo=dt.UTC))


def one(text, **options):
    parsed = parse_datetimes(pd.Series([text], dtype="str"), **options)
    return parsed.values.iloc[0], bool(parsed.bad[0])


# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        ("2024-03-05", False, utc(2024, 3, 5)),
        ("2024-03-05 14:07", False, utc(2024, 3, 5, 14, 7)),
        ("2024-03-05T14:07:09.250Z", False, utc(2024, 3, 5, 14, 7, 9, 250_000)),
        ("2024-03-05 14:07:09+02:00", False, utc(2024, 3, 5, 12, 7, 9)),
        ("03/05/2024", False, utc(2024, 3, 5)),
        ("03/05/2024", True, utc(2024, 5, 3)),
        ("3/5/24", False, utc(2024, 3, 5)),
        ("03/05/2024 2:07 PM", False, utc(2024, 3, 5, 14, 7)),
        ("3/5/2024, 12:30 AM", False, utc(2024, 3, 5, 0, 30)),
        ("05.03.2024 14:07", True, utc(2024, 3, 5, 14, 7)),
        ("05-03-2024 14:07:09", True, utc(2024, 3, 5, 14, 7, 9)),
        ("2024/03/05", False, utc(2024, 3, 5)),
        ("20240305", False, utc(2024, 3, 5)),
        ("Mar 5, 2024", False, utc(2024, 3, 5)),
        ("5 March 2024", True, utc(2024, 3, 5)),
        ("05-Mar-24", True, utc(2024, 3, 5)),
        ("  2024-03-05  ", False, utc(2024, 3, 5)),
    ],
)
def test_common_export_date_formats_are_read(text, dayfirst, expected):
    assert one(text, dayfirst=dayfirst) == (expected, False)


@pytest.mark.parametrize(
    "text", ["31/02/2024", "2024-02-30", "13/13/2024", "yesterday", "5", "1/5/0024", "12:30"]
)
def test_impossible_or_unreadable_dates_are_bad(text):
    value, bad = one(text, dayfirst=True)
    assert pd.isna(value) and bad


@pytest.mark.parametrize(
    "text", ["0001-01-01", "1899-12-31 23:59", "12/31/1899", "2201-01-01", "9999-12-31", "-0005-01-01"]
)
def test_a_year_outside_1900_to_2200_is_not_a_date_as_for_hubspot(text):
    value, bad = one(text, timezone="Europe/Berlin")  # and is refused before local times are converted
    assert pd.isna(value) and bad


def test_the_first_and_last_days_of_1900_to_2200_are_dates():
    parsed = parse_datetimes(pd.Series(["1900-01-01", "2200-12-31 23:59:59", "12/31/2200"]))
    assert parsed.values.tolist() == [utc(1900, 1, 1), utc(2200, 12, 31, 23, 59, 59), utc(2200, 12, 31)]


def test_both_connectors_read_the_same_years_as_dates():
    from connectors.hubspot import mapping

    for year, is_date in [(1899, False), (1900, True), (2200, True), (2201, False)]:
        for text in (f"{year}-06-01", f"{year}-01-01T00:00:00Z"):
            assert bool(mapping.parse_instants([text])[1][0]) == one(text)[1] == (not is_date), text


@pytest.mark.parametrize("text", ["", "   ", "n/a", "NULL", "-", "#N/A"])
def test_blank_and_null_words_are_missing_not_bad(text):
    value, bad = one(text)
    assert pd.isna(value) and not bad


def test_naive_times_are_local_to_the_timezone_and_dst_edges_are_resolved():
    parsed = parse_datetimes(
        pd.Series(["2024-07-01 09:00", "2024-03-31 02:30", "2024-10-27 02:30", "2024-07-01T09:00:00Z"]),
        timezone="Europe/Berlin",
    )
    assert parsed.values.tolist() == [
        utc(2024, 7, 1, 7),  # summer time, UTC+2
        utc(2024, 3, 31, 1),  # 02:30 does not exist: moved forward to 03:00 CEST
        utc(2024, 10, 27, 0, 30),  # 02:30 happens twice: the first (summer-time) instant
        utc(2024, 7, 1, 9),  # an explicit Z is not moved
    ]
    assert parsed.naive_times


def test_date_only_values_do_not_count_as_naive_times():
    assert not parse_datetimes(pd.Series(["2024-07-01", "07/02/2024"])).naive_times


def test_an_explicit_date_format_replaces_detection():
    parsed = parse_datetimes(pd.Series(["2024|07|01", "2024-07-01"]), date_format="%Y|%m|%d")
    assert parsed.values.iloc[0] == utc(2024, 7, 1)
    assert parsed.bad.tolist() == [False, True]


def test_mixed_offsets_and_naive_values_in_one_column():
    parsed = parse_datetimes(
        pd.Series(["2024-01-01T10:00:00+01:00", "2024-01-01T10:00:00-05:00", "2024-01-01 10:00"])
    )
    assert parsed.values.tolist() == [utc(2024, 1, 1, 9), utc(2024, 1, 1, 15), utc(2024, 1, 1, 10)]


def test_the_result_keeps_the_input_index_and_dtype():
    parsed = parse_datetimes(pd.Series(["2024-01-01", None], index=[7, 9]))
    assert parsed.values.index.tolist() == [7, 9]
    assert str(parsed.values.dtype) == "datetime64[us, UTC]"


# ----------------------------------------------------------------------------- date order


def test_a_day_above_twelve_in_first_place_means_day_first():
    choice = choose_date_order(["01/02/2024", "25/12/2023", "2024-01-01"])
    assert choice.dayfirst and not choice.ambiguous
    assert "'25/12/2023'" in choice.note


def test_a_day_above_twelve_in_second_place_means_month_first():
    choice = choose_date_order(["01/02/2024 10:00 AM", "12/25/2023 9:00 PM"])
    assert not choice.dayfirst and not choice.ambiguous
    assert "month first" in choice.note


def test_all_ambiguous_values_assume_us_order_and_say_so():
    choice = choose_date_order(["01/02/2024", "03/04/2024"])
    assert not choice.dayfirst and choice.ambiguous
    assert "dayfirst: true" in choice.note


def test_dotted_dates_that_decide_nothing_are_day_first():
    assert choose_date_order(["01.02.2024", "03.04.2024"]).dayfirst


def test_conflicting_values_take_the_majority_and_say_so():
    choice = choose_date_order(["25/12/2023", "26/12/2023", "12/27/2023"])
    assert choice.dayfirst and choice.ambiguous and "conflicting" in choice.note


def test_the_mappings_dayfirst_wins_and_contrary_values_are_named():
    choice = choose_date_order(["12/25/2023"], dayfirst=True)
    assert choice.dayfirst and "'12/25/2023'" in choice.note and "rejected" in choice.note


def test_one_impossible_date_decides_nothing():
    # 45/01 has a number above 12 in first place but is no day in either order: it is rejected, not a vote
    us = ["01/02/2024", "03/04/2024", "45/01/2024"]
    assert not choose_date_order(us).dayfirst and choose_date_order(us).ambiguous
    # 31/02 would have outvoted the one valid month-first date in a tie
    choice = choose_date_order(["01/02/2024", "12/25/2023", "31/02/2024"])
    assert not choice.dayfirst and not choice.ambiguous and "'12/25/2023'" in choice.note
    assert choose_date_order(["01/02/2024", "00/13/2024"]).ambiguous  # month 0 in either order: no vote


def test_every_date_of_the_sample_rows_counts_not_the_first_distinct_ones():
    # An export sorted by date: 3,000 timestamps on days 1-12 come before the first day above 12.
    early = [
        f"{day:02d}/10/2025 {minute // 60:02d}:{minute % 60:02d}"
        for day in range(1, 13)
        for minute in range(250)
    ]
    late = [f"{day}/10/2025 09:00" for day in range(13, 32)]
    frame = pd.DataFrame({"Created": early + late})
    mapping = Mapping(table="leads", columns={"external_id": "Id", "created_at": "Created"})
    plan = make_plan(mapping, {"created_at": "Created"}, frame, "file", "2026-01-01")
    assert plan.dates.dayfirst and not plan.dates.ambiguous and "'13/10/2025'" in plan.dates.note


def test_iso_only_samples_need_no_order():
    assert "ISO 8601" in choose_date_order(["2024-01-02", "Jan 5, 2024"]).note


FORMATS = [
    ("%Y-%m-%d %H:%M", None),
    ("%Y-%m-%dT%H:%M:%S", None),
    ("%m/%d/%Y %I:%M %p", False),
    ("%m/%d/%Y", False),
    ("%d/%m/%Y %H:%M", True),
    ("%d.%m.%Y", True),
    ("%b %d, %Y", None),
    ("%d %B %Y %H:%M", True),
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31)), max_size=20
    ),
    st.sampled_from(FORMATS),
)
def test_parsing_agrees_with_strptime_for_every_value(moments, case):
    """Oracle: the vectorised reader against datetime.strptime, one value at a time."""
    fmt, dayfirst = case
    texts = [m.strftime(fmt) for m in moments]
    parsed = parse_datetimes(pd.Series(texts, dtype="str"), dayfirst=bool(dayfirst))
    expected = [pd.Timestamp(dt.datetime.strptime(t, fmt), tz="UTC") for t in texts]
    assert parsed.values.tolist() == expected
    assert not parsed.bad.any()


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_local_times_round_trip_through_the_timezone(moment):
    zone = ZoneInfo("America/New_York")
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    value = parse_datetimes(pd.Series([text]), timezone="America/New_York").values.iloc[0]
    local = value.tz_convert(zone)
    # a time skipped by DST moves forward by the gap; otherwise the wall-clock time is kept
    assert local.replace(tzinfo=None) >= pd.Timestamp(moment.replace(microsecond=0))
    assert local.replace(tzinfo=None) - pd.Timestamp(moment.replace(microsecond=0)) <= pd.Timedelta(hours=1)


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1234", ".", 1234.0),
        ("1,234.50", ".", 1234.5),
        ("$1,234.50", ".", 1234.5),
        ("USD 1,000", ".", 1000.0),
        ("12.50 EUR", ".", 12.5),
        ("1.234,50 €", ",", 1234.5),
        ("1 234,5", ",", 1234.5),
        ("1\u00a0234,5", ",", 1234.5),
        ("1'234.50", ".", 1234.5),
        ("(1,200)", ".", -1200.0),
        ("-$12", ".", -12.0),
        ("12-", ".", -12.0),
        ("1e3", ".", 1000.0),
        (".5", ".", 0.5),
        ("0,5", ",", 0.5),
    ],
)
def test_numbers_as_exports_write_them(text, decimal, expected):
    assert parse_number(text, decimal) == expected


@pytest.mark.parametrize("text", ["ten", "1,2,3", "12abc", "inf", "1.234,5", "--5", "$"])
def test_text_that_is_not_a_number_is_refused(text):
    with pytest.raises(ValueError):
        parse_number(text, ".")


def test_parse_numbers_marks_bad_values_and_keeps_blanks_missing():
    numbers, bad = parse_numbers(pd.Series(["1,200", None, "", "n/a", "ten", "7"], index=range(10, 16)))
    assert numbers.index.tolist() == list(range(10, 16))
    assert numbers.tolist()[0] == 1200.0 and numbers.tolist()[5] == 7.0
    assert bad.tolist() == [False, False, False, False, True, False]


@pytest.mark.parametrize(
    ("samples", "expected"),
    [(["1.234,50", "12,5"], ","), (["1,234.50", "12.5"], "."), (["1,234", "1.234"], "."), (["7", "12"], ".")],
)
def test_the_decimal_separator_is_chosen_from_the_data(samples, expected):
    assert choose_decimal(samples).decimal == expected


@settings(max_examples=150, deadline=None)
@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from([(",", "."), (".", ","), (" ", ","), ("'", "."), ("", ".")]),
    st.sampled_from(["", "$", "€ ", "USD "]),
)
def test_formatted_amounts_read_back_to_their_value(amount, separators, currency):
    thousands, decimal = separators
    text = f"{abs(amount):,.2f}".replace(",", "\0").replace(".", decimal).replace("\0", thousands)
    text = ("-" if amount < 0 else "") + currency + text
    assert parse_number(text, decimal) == pytest.approx(float(amount))


# ----------------------------------------------------------------------------- booleans and value maps


def test_booleans_in_the_words_exports_use():
    flags, bad = parse_booleans(pd.Series(["TRUE", "no", "1", "0", "x", "Ja", "", None, "maybe"]))
    assert flags.tolist()[:6] == [True, False, True, False, True, True]
    assert flags.isna().tolist()[6:] == [True, True, True]
    assert bad.tolist() == [False] * 8 + [True]


def test_value_maps_ignore_case_and_star_catches_the_rest():
    mapped, hit = map_values(
        pd.Series([" won", "LOST", "Open", None]), {"Won": True, "Lost": False, "*": None}
    )
    assert hit.tolist() == [True, True, True, False]
    assert mapped.tolist() == [True, False, None, None]


def test_value_maps_without_star_leave_other_values_unmapped():
    mapped, hit = map_values(pd.Series(["New", "Custom"]), {"new": "open"})
    assert hit.tolist() == [True, False] and mapped[0] == "open"
    assert np.asarray(mapped).dtype == object
