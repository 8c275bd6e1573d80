"""Flex value formats: every date, time and number form a Flex query can be configured to emit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from portfolio_dashboard.brokers.flex_values import (
    FlexValueError,
    date_value,
    datetime_value,
    decimal_value,
    is_null,
    slash_order,
)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("20261120", None, date(2026, 11, 20)),
        ("2026-11-20", None, date(2026, 11, 20)),
        ("11/20/2026", None, date(2026, 11, 20)),
        ("20/11/2026", None, date(2026, 11, 20)),
        ("11/20/26", None, date(2026, 11, 20)),
        ("03/04/2026", "mdy", date(2026, 3, 4)),
        ("03/04/2026", "dmy", date(2026, 4, 3)),
        ("05/05/2026", None, date(2026, 5, 5)),
        ("20-Nov-26", None, date(2026, 11, 20)),
        ("20-NOV-26", None, date(2026, 11, 20)),
        ("01-Jan-99", None, date(1999, 1, 1)),
    ],
)
def test_dates(text, order, expected):
    assert date_value(text, order) == expected


@pytest.mark.parametrize("text", ["03/04/2026", "2026-02-30", "2026/11/20", "Nov 20", "20261320", "31-Foo-26"])
def test_bad_or_ambiguous_dates(text):
    with pytest.raises(FlexValueError):
        date_value(text)


@pytest.mark.parametrize(
    "text",
    [
        "20261120;153045",
        "2026-11-20;15:30:45",
        "2026-11-20, 15:30:45",
        "20261120 153045",
        "20261120153045",
        "2026-11-2015:30:45",
        "2026-11-20T15:30:45",
        "20261120;153045-0500",
        "11/20/2026;153045",
    ],
)
def test_datetimes(text):
    assert datetime_value(text) == datetime(2026, 11, 20, 15, 30, 45)


def test_bare_date_in_a_datetime_field_is_midnight():
    assert datetime_value("20261120") == datetime(2026, 11, 20)


@pytest.mark.parametrize("text", ["20261120;256000", "yesterday", "20261120;1530", "2026-11-20;15:30:45;x"])
def test_bad_datetimes(text):
    with pytest.raises(FlexValueError):
        datetime_value(text)


def test_slash_order_decides_from_unambiguous_values():
    assert slash_order(["03/04/2026", "13/04/2026"]) == "dmy"
    assert slash_order(["03/04/2026", "04/13/2026"]) == "mdy"
    assert slash_order(["2026-11-20", "05/05/2026"]) is None
    with pytest.raises(FlexValueError):
        slash_order(["13/04/2026", "04/13/2026"])
    with pytest.raises(FlexValueError):
        slash_order(["03/04/2026"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,234.50", Decimal("1234.50")), ("-0", Decimal("-0")), ("0.000012", Decimal("0.000012")), ("1E+3", Decimal(1000))],
)
def test_numbers(text, expected):
    assert decimal_value(text) == expected


@pytest.mark.parametrize("text", ["abc", "NaN", "Infinity", "1.2.3", "1E+999999999", "1E-400"])
def test_bad_numbers(text):
    with pytest.raises(FlexValueError):
        decimal_value(text)


@pytest.mark.parametrize("text", [None, "", " ", "-", "--", "N/A"])
def test_nulls(text):
    assert is_null(text)


# --- zones (every date format x time format x separator, with and without a zone) ---------------------------
from datetime import timedelta, timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from portfolio_dashboard.brokers.flex_values import (  # noqa: E402
    FlexDateError,
    FlexTimeError,
    split_zone,
    zoned_datetime_value,
)

NY = ZoneInfo("America/New_York")
DATES = {
    "yyyyMMdd": "20250612",
    "yyyy-MM-dd": "2025-06-12",
    "MM/dd/yyyy": "06/12/2025",
    "MM/dd/yy": "06/12/25",
    "dd/MM/yyyy": "12/06/2025",
    "dd/MM/yy": "12/06/25",
    "dd-MMM-yy": "12-Jun-25",
}
ORDERS = {"MM/dd/yyyy": "mdy", "MM/dd/yy": "mdy", "dd/MM/yyyy": "dmy", "dd/MM/yy": "dmy"}
TIMES = {"HHmmss": "104235", "HH:mm:ss": "10:42:35"}
SEPARATORS = [";", ",", " ", ""]
ZONES = {"": NY, " EDT": NY, " AEST": ZoneInfo("Australia/Sydney"), " BST": ZoneInfo("Europe/London"), " CET": ZoneInfo("Europe/Zurich")}


@pytest.mark.parametrize("date_format", list(DATES))
@pytest.mark.parametrize("time_format", list(TIMES))
@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("zone", list(ZONES))
def test_every_flex_date_time_combination(date_format, time_format, separator, zone):
    text = f"{DATES[date_format]}{separator}{TIMES[time_format]}{zone}"
    got = zoned_datetime_value(text, NY, ORDERS.get(date_format))  # type: ignore[arg-type]
    assert got == datetime(2025, 6, 12, 10, 42, 35, tzinfo=ZONES[zone])


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("20250612;104235 EDT", timedelta(hours=-4)),
        ("20250112;104235 EST", timedelta(hours=-5)),
        ("2025-05-22 20:41:57 AEST", timedelta(hours=10)),
        ("20250612;104235 GMT", timedelta(0)),  # GMT is UTC+0 even in a London summer
        ("20250612;104235 BST", timedelta(hours=1)),
        ("20250612;104235-0400", timedelta(hours=-4)),
        ("20250612;104235+05:30", timedelta(hours=5, minutes=30)),
    ],
)
def test_zone_abbreviations_map_to_real_zones(text, offset):
    assert zoned_datetime_value(text, NY).utcoffset() == offset


def test_a_bare_date_has_no_zone_and_a_naive_reading_drops_a_given_zone():
    assert split_zone("20250612") == ("20250612", None)
    assert datetime_value("20250612;104235 EDT") == datetime(2025, 6, 12, 10, 42, 35)
    assert split_zone("20250612;104235-0400")[1] == timezone(timedelta(hours=-4))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("20250612;104235 XYZ", FlexTimeError),
        ("20250612;10423", FlexTimeError),
        ("20250612;254235", FlexTimeError),
        ("2025.06.12;104235", FlexDateError),
        ("20251312;104235", FlexDateError),
    ],
)
def test_unreadable_parts_say_whether_the_date_or_the_time_is_wrong(text, error):
    with pytest.raises(error):
        zoned_datetime_value(text, NY)
