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
