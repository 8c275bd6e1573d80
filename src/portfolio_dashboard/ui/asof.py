"""The time machine: the moment every page shows, chosen in the sidebar and kept in the URL as ``?asof=``.

``?asof=2025-04-05`` means the end of that day in the portfolio's time zone (a snapshot captured that evening
belongs to that day); ``?asof=2025-04-05T12:00`` (or any ISO date-time, naive = portfolio time zone) means that
moment. No ``asof`` is the latest view. Every page reads ``current()``; each account then shows its newest
stored snapshot at or before that moment — never an interpolated value — and ``stale_accounts`` says which are
older than a day at that moment.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import streamlit as st

from portfolio_dashboard.ui import data, fmt

PARAM = "asof"  # the URL query parameter
DATE_KEY = "asof_date"
TIME_KEY = "asof_time"
PICK_KEY = "asof_pick"
STALE_AFTER = timedelta(days=1)
LATEST = "Latest"
MONTH_ENDS = 12  # quick picks: this many past month ends


def parse(text: str, tz: ZoneInfo) -> datetime | None:
    """The moment an ``asof`` text names (None for empty or unreadable text: the latest view)."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text), tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.max, tzinfo=tz)


def quick_picks(today: date) -> dict[str, date | None]:
    """Latest, the last UK tax-year end (5 April), the last 31 December, and the last month ends."""
    tax_end = date(today.year if today >= date(today.year, 4, 5) else today.year - 1, 4, 5)
    picks: dict[str, date | None] = {LATEST: None, f"Tax-year end {tax_end:%d %b %Y}": tax_end,
                                     f"Year end {today.year - 1}": date(today.year - 1, 12, 31)}
    year, month = today.year, today.month
    for _ in range(MONTH_ENDS):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        end = date(year, month, calendar.monthrange(year, month)[1])
        picks.setdefault(f"Month end {end:%d %b %Y}", end)
    return picks


def _text(day: date | None, at: time | None) -> str:
    if day is None:
        return ""
    return day.isoformat() if at is None else datetime.combine(day, at).isoformat(timespec="minutes")


def _init() -> None:
    """Once per session: the moment the URL names (a shared link opens at its date)."""
    if DATE_KEY in st.session_state:
        return
    moment = parse(str(st.query_params.get(PARAM, "")), data.settings().timezone)
    text = str(st.query_params.get(PARAM, "")).strip()
    st.session_state[DATE_KEY] = moment.date() if moment else None
    st.session_state[TIME_KEY] = moment.time().replace(second=0, microsecond=0) if moment and len(text) > 10 else None


def current() -> datetime | None:
    """The moment every page shows (None: the latest view)."""
    _init()
    day: date | None = st.session_state.get(DATE_KEY)
    at: time | None = st.session_state.get(TIME_KEY)
    return parse(_text(day, at), data.settings().timezone)


def _on_pick() -> None:
    picks = quick_picks(date.today())
    choice = st.session_state.get(PICK_KEY)
    if choice in picks:
        st.session_state[DATE_KEY] = picks[choice]
        st.session_state[TIME_KEY] = None
    st.session_state[PICK_KEY] = None  # a pick is an action, not a state: the date field shows the choice


def controls() -> None:
    """The sidebar's date (and optional time) picker with quick picks, in a popover whose button names the
    moment shown; keeps ``?asof=`` in the URL."""
    _init()
    picks = quick_picks(date.today())
    # the widgets' values are in the session before the script runs: the moment the fields below show
    text = _text(st.session_state.get(DATE_KEY), st.session_state.get(TIME_KEY))
    label = f"Time machine: {text.replace('T', ' ')}" if text else "Time machine: latest"
    # a popover's content is drawn only when opened: the date field's script stays off a first visit (issue 19)
    with st.popover(label, icon=":material/history:", width="stretch", key="asof_popover"):
        st.selectbox("Quick pick", list(picks), index=None, key=PICK_KEY, on_change=_on_pick,
                     placeholder="Latest, 5 April, 31 December, month ends",
                     help="Every page shows each account's stored snapshot at or before this moment.")
        st.date_input("As of date", key=DATE_KEY, max_value=date.today(), format="YYYY-MM-DD",
                      help="Empty: the latest snapshots.")
        if st.session_state.get(DATE_KEY) is not None:  # a time means nothing without a date
            st.session_state.setdefault(TIME_KEY, None)  # empty (end of day), not Streamlit's default "now"
            st.time_input("As of time", key=TIME_KEY, step=timedelta(minutes=15), help="Empty: the end of the day.")
    if text:
        st.query_params[PARAM] = text
        st.caption(f":material/history: Showing the portfolio as of **{text.replace('T', ' ')}**.")
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


class Stamped(Protocol):
    @property
    def broker(self) -> str: ...
    @property
    def broker_account_id(self) -> str: ...
    @property
    def asof_ts(self) -> datetime: ...


def stale_accounts(rows: Iterable[Stamped], at: datetime) -> dict[str, datetime]:
    """Account label -> the snapshot's moment, for each account whose snapshot is older than a day at ``at``."""
    out: dict[str, datetime] = {}
    for r in rows:
        label = fmt.account_label(r.broker, r.broker_account_id)
        if at - r.asof_ts > STALE_AFTER and (label not in out or r.asof_ts > out[label]):
            out[label] = r.asof_ts
    return out


def banner(rows: Iterable[Stamped]) -> None:
    """Under a page's title while the time machine is on: the moment, and a badge per account whose stored
    snapshot is older than a day at that moment (how old it is then)."""
    at = current()
    if at is None:
        return
    rows = list(rows)
    tz = data.settings().timezone
    parts = [f":blue-badge[:material/history: As of {fmt.when(at, tz)}]"]
    for label, ts in sorted(stale_accounts(rows, at).items()):
        parts.append(f":orange-badge[:material/schedule: {label}: snapshot {fmt.ago(ts, at)} "
                     f"({fmt.when(ts, tz)})]")
    st.markdown(" ".join(parts))
