"""The time machine on Income, Returns and Allocation by the user's classes, through AppTest on demo history.

With ``asof`` set, Income shows only what had been received by that moment (periods end on its day), Returns
reads only what had been stored by then (named periods end on its day), and the allocation by class groups each
account's newest snapshot at or before it. Expected figures come from the read models at that moment and, where
another read gives the same figure, from that one too.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from portfolio_dashboard.domain.cgt.tax_years import tax_year_of
from portfolio_dashboard.domain.income import summarise
from portfolio_dashboard.domain.returns.periods import resolve_period
from portfolio_dashboard.services.returns import prepare
from portfolio_dashboard.storage.reads import flows as rf
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.classes import allocation_by_class
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import asof, fmt
from tests.ui.conftest import APP_FILE

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")
DAYS_BACK = 12
LATE_DIVIDEND = Decimal("321.09")


def _page(page: str, day) -> AppTest:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.session_state[asof.DATE_KEY] = day
    at.run()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _texts(at: AppTest) -> str:
    return "\n".join(str(p.value) for p in [*at.markdown, *at.caption])


def _moment():  # type: ignore[no-untyped-def]
    day = datetime.now(LONDON).date() - timedelta(days=DAYS_BACK)
    return day, datetime.combine(day, time.max, tzinfo=LONDON)


def test_income_at_a_past_date_counts_only_what_was_received_by_then(seeded):
    day, at_moment = _moment()
    with seeded.engine.begin() as conn:  # paid after the date: the latest view counts it, the past one must not
        conn.execute(text(
            "INSERT INTO cash_flows (broker, broker_account_id, broker_flow_id, kind, flow_ts, currency, "
            "amount_local, amount_gbp) VALUES ('demo', 'DEMO-ISA-01', 'late-dividend', 'dividend', :t, 'GBP', :a, :a)"),
            {"t": at_moment + timedelta(days=2), "a": LATE_DIVIDEND})
        every = rf.income_lines(conn, Scope())
    known = [x for x in every if x.flow_ts <= at_moment]
    assert known and len(known) < len(every)
    at = _page("income", day)
    assert f"As of {day:%d %b %Y} 23:59" in _texts(at)
    year = tax_year_of(day)
    in_year = summarise([x for x in known if year.start <= x.day <= year.end])
    assert _metric(at, "Net income") == fmt.money(in_year.total_gbp)  # the tax year of the date, to the date
    at.segmented_control(key="income_period").set_value("All time").run()
    assert not at.exception
    assert _metric(at, "Net income") == fmt.money(summarise(known).total_gbp)
    assert _metric(at, "Net income") != fmt.money(summarise(every).total_gbp)
    payments = next(d.value for d in at.dataframe if "Kind" in d.value.columns)
    assert len(payments) == len(known)

    latest = AppTest.from_file(APP_FILE, default_timeout=60)
    latest.run()
    latest.switch_page("views/income.py")
    latest.run()
    latest.segmented_control(key="income_period").set_value("All time").run()
    assert _metric(latest, "Net income") == fmt.money(summarise(every).total_gbp)


def test_returns_at_a_past_date_end_on_that_day_from_what_was_stored_by_then(seeded):
    day, at_moment = _moment()
    with seeded.engine.connect() as conn:
        report = prepare(conn, until=at_moment).report("all")
        latest = prepare(conn).report("all")
        held = rp.portfolio_summary(conn, Scope(), asof=at_moment)
    assert report.end == day and latest.end > day
    # the period's end value is the stored snapshots at that date (another read, the same figure)
    assert report.total.end_value == held.total
    assert report.total.twr is not None and report.total.twr != latest.total.twr
    at = _page("returns", day)
    at.session_state["returns_period"] = "All"
    at.run()
    assert not at.exception
    assert _metric(at, "TWR") == fmt.pct(report.total.twr)
    assert _metric(at, "Gain") == fmt.money(report.total.gain, "GBP", signed=True, decimals=0)
    texts = _texts(at)
    assert f"– {day:%d %b %Y} · from" in texts and f"to {fmt.money(held.total)}" in texts
    assert f"As of {day:%d %b %Y} 23:59" in texts
    with seeded.engine.connect() as conn:
        month = prepare(conn, until=at_moment).report("1m")
    at.session_state["returns_period"] = "1M"  # a named period is anchored at the date
    at.run()
    assert not at.exception
    start, end = resolve_period("1m", day)
    assert (month.start, month.end) == (start, end)
    assert f"{start:%d %b %Y} – {day:%d %b %Y}" in _texts(at)
    shown = fmt.pct(month.total.twr) if month.total.twr is not None else "unavailable"
    assert _metric(at, "TWR") == shown


def test_allocation_by_class_at_a_past_date(seeded):
    day, at_moment = _moment()
    with seeded.engine.connect() as conn:
        past = allocation_by_class(conn, Scope(), "class", asof=at_moment)
        now = allocation_by_class(conn, Scope(), "class")
        positions = rp.latest_positions(conn, Scope(), asof=at_moment)
    assert {s.label: s.value_gbp for s in past} != {s.label: s.value_gbp for s in now}
    at = _page("allocation", day)
    at.segmented_control(key="allocation_by").set_value("Your class").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert dict(zip(frame["Your class"], frame["Value"], strict=True)) == {
        s.label: float(s.value) for s in past if s.value is not None}
    total = sum((p.value for p in positions if p.value is not None), start=Decimal(0))
    assert f"Total {fmt.money(total, 'GBP')} over the newest stored snapshot at that moment" in _texts(at)
    assert f"As of {day:%d %b %Y} 23:59" in _texts(at)
