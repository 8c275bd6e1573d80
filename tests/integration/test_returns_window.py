"""Reading only one period's days (issue 18's speed at ten times the history): the same figures as reading the
whole history, on the demo's committed history (the daily value cache) and on hand-written rows (the computed
path of a transaction that has not committed), and a refusal for anything outside what was read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection

from portfolio_dashboard.domain.returns import PERIOD_NAMES
from portfolio_dashboard.services import demo_history
from portfolio_dashboard.services.returns import (
    ReturnsFilter,
    Window,
    period_window,
    prepare,
    prepare_period,
    returns_report,
)
from portfolio_dashboard.storage.reads.returns import account_histories
from tests.integration import rows
from tests.integration.returns_rows import flow

LONDON = ZoneInfo("Europe/London")
END = datetime(2026, 6, 30, 18, tzinfo=UTC)
TODAY = date(2026, 6, 30)


@pytest.fixture
def seeded(app):  # type: ignore[no-untyped-def]
    demo_history.seed(app, 400, end=END)  # deposits, a withdrawal, dividends; accounts opened on different days
    return app


def test_every_period_read_alone_equals_the_whole_history(seeded) -> None:  # type: ignore[no-untyped-def]
    custom = [(date(2025, 7, 1), date(2025, 12, 31)), (date(2026, 2, 14), date(2026, 2, 16)),
              (date(2026, 6, 30), date(2026, 6, 30)), (date(2025, 1, 1), date(2025, 9, 1))]
    filters = [ReturnsFilter(), ReturnsFilter(brokers=("demo",)), ReturnsFilter(wrappers=("ISA",))]
    with seeded.engine.connect() as conn:
        for flt in filters:
            whole = prepare(conn, flt, today=TODAY)
            for name in PERIOD_NAMES:
                alone = prepare_period(conn, flt, period=name, today=TODAY)
                assert alone.report(name) == whole.report(name), (flt, name)
                assert alone.total(name) == whole.total(name), (flt, name)
            for first, last in custom:
                alone = prepare_period(conn, flt, period=None, start=first, end=last, today=TODAY)
                assert alone.report(None, first, last) == whole.report(None, first, last), (flt, first, last)
                assert alone.cumulative(first, last) == whole.cumulative(first, last)


def test_a_period_read_alone_reads_only_its_days(seeded) -> None:  # type: ignore[no-untyped-def]
    with seeded.engine.connect() as conn:
        whole = account_histories(conn)
        window = period_window("1m", None, None, TODAY)
        assert window == Window(date(2026, 5, 31), TODAY)
        alone = account_histories(conn, window=window)
    assert [h.key for h in alone] == [h.key for h in whole]
    for short, full in zip(alone, whole, strict=True):
        assert len(short.stamps_gbp) < len(full.stamps_gbp) / 5
        # the first close read is the account's last close before the period (a carried day holds it)
        before = [ts for ts in full.stamps_gbp if ts.date() < date(2026, 5, 31)]
        assert short.stamps_gbp[0] == before[-1]
        assert short.stamps_gbp[-1] == full.stamps_gbp[-1]
        assert all(f.ts.date() >= date(2026, 5, 30) for f in short.flows_gbp)


def test_the_time_machine_reads_a_window_too(seeded) -> None:  # type: ignore[no-untyped-def]
    moment = datetime(2026, 3, 15, 23, tzinfo=UTC)
    with seeded.engine.connect() as conn:
        for name in ("1m", "ytd", "tax-year", "prev-tax-year"):
            alone = prepare_period(conn, period=name, until=moment)
            assert alone.report(name) == prepare(conn, until=moment).report(name), name
            assert alone.report(name).end == (date(2025, 4, 5) if name == "prev-tax-year" else date(2026, 3, 15))


def test_periods_outside_what_was_read_are_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    with seeded.engine.connect() as conn:
        alone = prepare_period(conn, period="ytd", today=TODAY)
    with pytest.raises(ValueError, match=r"read for 2026-01-01\.\.2026-06-30"):
        alone.report("1y")
    with pytest.raises(ValueError, match="starts at inception"):
        alone.report("all")
    with pytest.raises(ValueError, match="whole history"):
        alone.monthly()
    with pytest.raises(ValueError, match="read for"):
        alone.cumulative(date(2025, 12, 1), TODAY)
    assert alone.report("3m").start == date(2026, 3, 31)  # inside: answered


def test_since_inception_and_open_ranges_read_everything() -> None:
    assert period_window("all", None, None, TODAY) is None
    assert period_window(None, None, date(2026, 1, 1), TODAY) is None
    assert period_window("nonsense", None, None, TODAY) is None  # refused later with the list of names
    assert period_window(None, date(2026, 1, 1), None, TODAY) == Window(date(2026, 1, 1), TODAY)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=LONDON)


def test_a_weekend_before_the_period_starts_from_fridays_close(conn: Connection) -> None:
    """Uncommitted rows: the view computes the days itself (no cache), and the carried Sunday still holds
    Friday's close; an account opened inside the period and one that stopped before it read as they do whole."""
    run = rows.run(conn)
    for account in ("U1", "U2", "U3"):
        rows.account(conn, "ib", account)
    friday = date(2026, 1, 9)
    for day, value in ((date(2026, 1, 8), "1000"), (friday, "1010"), (date(2026, 1, 12), "1030"),
                       (date(2026, 1, 13), "1020")):
        rows.snapshot(conn, run, "ib", "U1", noon(day), value)
    for day, value in ((date(2026, 1, 13), "500"), (date(2026, 1, 14), "505")):  # opens on the Tuesday
        rows.snapshot(conn, run, "ib", "U2", noon(day), value)
    rows.snapshot(conn, run, "ib", "U3", noon(date(2026, 1, 2)), "70")  # nothing since
    flow(conn, "ib", "U1", "deposit", noon(date(2026, 1, 12)) - timedelta(hours=2), "15")
    monday, tuesday = date(2026, 1, 12), date(2026, 1, 13)
    alone = returns_report(conn, period=None, start=monday, end=tuesday, today=tuesday)
    whole = prepare(conn, today=tuesday).report(None, monday, tuesday)
    assert alone == whole
    u1 = next(a for a in alone.accounts if a.broker_account_id == "U1").gbp
    assert u1.start_ts == noon(friday) and u1.net_flows == 15
    u2 = next(a for a in alone.accounts if a.broker_account_id == "U2").gbp
    assert u2.twr is None and "history begins on 2026-01-13" in u2.unavailable[0]
