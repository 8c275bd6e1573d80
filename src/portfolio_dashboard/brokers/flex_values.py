"""Reading IBKR Flex attribute values: numbers, dates and date-times in every format a Flex query can emit.

A Flex query's owner chooses the date format (``yyyyMMdd`` default, ``yyyy-MM-dd``, ``MM/dd/yyyy``,
``MM/dd/yy``, ``dd/MM/yyyy``, ``dd/MM/yy``, ``dd-MMM-yy``), the time format (``HHmmss`` default or
``HH:mm:ss``) and the date/time separator (``;`` default, ``,``, a space, or none). Slash dates cannot be
told apart in-band (``03/04/2025``), so :func:`slash_order` decides the order once per statement from the
values that are unambiguous, and refuses to guess when none are.

Numbers arrive as strings, sometimes with thousands separators (``"1,234.50"``); IBKR writes empty, ``-``,
``--`` or ``N/A`` for "no value".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo

NULLS = frozenset({"", "-", "--", "N/A", "n/a"})
MAX_EXPONENT = 30

_MONTHS = {
    m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
}
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})\Z")
_SLASH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\Z")
_DMY_NAMED = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{2}|\d{4})\Z")
_TIME = re.compile(r"(\d{2}):?(\d{2}):?(\d{2})\Z")
_DATETIME_SPLIT = re.compile(r"\s*[;,\s]\s*")
_ISO_T = re.compile(r"^(\d{4}-?\d{2}-?\d{2})T")

_OFFSET_TAIL = re.compile(r"(?<=\d)\s*(?:GMT|UTC)?([+-])(\d{2}):?(\d{2})\Z")
_ZONE_TAIL = re.compile(r"(?<=\d)\s*([A-Za-z]{1,5})\Z")

SlashOrder = Literal["mdy", "dmy"]

# Zone abbreviations a Flex time can end with (Java's short names, which IBKR's report server writes),
# each mapped to the IANA zone it stands for; the zone's own rules then give the offset on that date.
ZONE_ABBREVIATIONS = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "ET": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "CT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "AKST": "America/Anchorage",
    "AKDT": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "GMT": "Etc/GMT",  # always UTC+0: London in summer writes BST
    "BST": "Europe/London",
    "UTC": "UTC",
    "Z": "UTC",
    "WET": "Europe/Lisbon",
    "WEST": "Europe/Lisbon",
    "CET": "Europe/Zurich",
    "CEST": "Europe/Zurich",
    "MET": "Europe/Zurich",
    "MEST": "Europe/Zurich",
    "EET": "Europe/Athens",
    "EEST": "Europe/Athens",
    "MSK": "Europe/Moscow",
    "IST": "Asia/Kolkata",
    "HKT": "Asia/Hong_Kong",
    "SGT": "Asia/Singapore",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "ACST": "Australia/Adelaide",
    "ACDT": "Australia/Adelaide",
    "AWST": "Australia/Perth",
    "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
}


class FlexValueError(ValueError):
    """A value that is present but not in any format IBKR documents."""


class FlexDateError(FlexValueError):
    """The date part is unreadable: the Flex query's *date* format is the setting to change."""


class FlexTimeError(FlexValueError):
    """The time part (or its zone) is unreadable: the Flex query's *time* format is the setting to change."""


def is_null(value: str | None) -> bool:
    return value is None or value.strip() in NULLS


def decimal_value(value: str) -> Decimal:
    """``"1,234.50"`` -> ``Decimal("1234.50")``; raises :class:`FlexValueError` for non-numbers."""
    text = value.strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise FlexValueError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise FlexValueError(f"not a finite number: {value!r}")
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        # No amount, price or rate is this large or small; arithmetic on it would overflow the context.
        raise FlexValueError(f"number out of range: {value!r}")
    return number


def _year(text: str) -> int:
    year = int(text)
    # Two-digit years: Flex statements reach back at most a few decades, so 00-69 -> 20xx.
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def slash_order(values: Iterable[str]) -> SlashOrder | None:
    """Decide ``MM/dd`` vs ``dd/MM`` from every slash date of one statement.

    Returns ``None`` when there are no ambiguous-by-content dates to decide (no slash dates, or every slash
    date reads the same both ways). Raises :class:`FlexValueError` when the values contradict each other or
    stay ambiguous.
    """
    month_first = day_first = False
    ambiguous = False
    for raw in values:
        m = _SLASH.match(raw.strip())
        if not m:
            continue
        first, second = int(m.group(1)), int(m.group(2))
        if first > 12:
            day_first = True
        elif second > 12:
            month_first = True
        elif first != second:
            ambiguous = True
    if month_first and day_first:
        raise FlexValueError("slash dates are neither consistently MM/dd nor dd/MM")
    if month_first:
        return "mdy"
    if day_first:
        return "dmy"
    if ambiguous:
        raise FlexValueError("slash dates such as 03/04 cannot be read as MM/dd or dd/MM with certainty")
    return None


def date_value(value: str, order: SlashOrder | None = None) -> date:
    """A Flex date in any documented format; ``order`` resolves slash dates (see :func:`slash_order`)."""
    text = value.strip()
    try:
        if m := _COMPACT.match(text) or _ISO.match(text):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _SLASH.match(text):
            first, second, year = int(m.group(1)), int(m.group(2)), _year(m.group(3))
            if order is None:
                if first > 12:
                    order = "dmy"
                elif second > 12 or first == second:
                    order = "mdy"  # the only reading, or both readings agree
                else:
                    raise FlexDateError(f"ambiguous slash date {value!r}")
            month, day = (first, second) if order == "mdy" else (second, first)
            return date(year, month, day)
        if m := _DMY_NAMED.match(text):
            named = _MONTHS.get(m.group(2).lower())
            if named is None:
                raise FlexDateError(f"unknown month in {value!r}")
            return date(_year(m.group(3)), named, int(m.group(1)))
    except ValueError as exc:  # date() rejects day 31 of February etc.
        if isinstance(exc, FlexValueError):
            raise
        raise FlexDateError(f"not a calendar date: {value!r}") from None
    raise FlexDateError(f"not a Flex date: {value!r}")


def time_value(value: str) -> time:
    m = _TIME.match(value.strip())
    if not m:
        raise FlexTimeError(f"not a Flex time: {value!r}")
    try:
        return time(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise FlexTimeError(f"not a time of day: {value!r}") from None


def split_zone(value: str) -> tuple[str, tzinfo | None]:
    """``"20250612;104235 EDT"`` -> (``"20250612;104235"``, America/New_York).

    The time may be followed by a zone abbreviation (mapped to the IANA zone it names, so the offset follows
    that zone's daylight-saving rules) or a numeric UTC offset. Raises :class:`FlexTimeError` for an
    abbreviation this module does not know, rather than guessing an offset.
    """
    text = value.strip()
    if len(text) <= 10:  # a bare date, never a zone
        return text, None
    if m := _OFFSET_TAIL.search(text):
        sign = -1 if m.group(1) == "-" else 1
        offset = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return text[: m.start()].rstrip(), timezone(sign * offset)
    if m := _ZONE_TAIL.search(text):
        abbr = m.group(1).upper()
        zone_name = ZONE_ABBREVIATIONS.get(abbr)
        if zone_name is None:
            raise FlexTimeError(f"unknown time zone {m.group(1)!r} in {value!r}")
        return text[: m.start()].rstrip(), ZoneInfo(zone_name)
    return text, None


def datetime_value(value: str, order: SlashOrder | None = None) -> datetime:
    """A naive Flex date-time (``20240801;153045``, ``2024-08-01, 15:30:45``, ``20240801153045``, ...).

    A trailing zone (``EDT``, ``-0400``) is dropped: use :func:`zoned_datetime_value` to honour it. A bare date
    is accepted and read as midnight, since some queries emit dates in date-time fields.
    """
    text, _ = split_zone(value)
    text = _ISO_T.sub(r"\1;", text)
    parts = [p for p in _DATETIME_SPLIT.split(text) if p]
    if len(parts) == 1:
        try:
            return datetime.combine(date_value(parts[0], order), time())
        except FlexDateError:
            pass
        # No separator: the time is the last 6 (HHmmss) or 8 (HH:mm:ss) characters.
        for width in (6, 8):
            head, tail = text[:-width], text[-width:]
            try:
                return datetime.combine(date_value(head, order), time_value(tail))
            except FlexValueError:
                continue
        raise FlexDateError(f"not a Flex date-time: {value!r}")
    if len(parts) == 2:
        day = date_value(parts[0], order)  # raises FlexDateError: the date part is unreadable
        return datetime.combine(day, time_value(parts[1]))
    raise FlexTimeError(f"not a Flex date-time (unexpected text after the time): {value!r}")


def zoned_datetime_value(value: str, default_zone: tzinfo, order: SlashOrder | None = None) -> datetime:
    """A timezone-aware Flex date-time: its own zone when it carries one, else ``default_zone``.

    ``default_zone`` is the statement's zone (setting ``IB_FLEX_TIMEZONE``, default America/New_York, the
    zone IBKR documents for Flex times).
    """
    _, zone = split_zone(value)
    return datetime_value(value, order).replace(tzinfo=zone or default_zone)
