"""Since inception from thinned closes (issue 18 at a hundred years): exactly the figures of the whole history.

The database keeps only the closes a period from inception depends on (``storage.reads.returns_inception``); the
figures must not change by one digit. Checked on the demo's committed history (the daily value cache) and on
randomly built histories written row by row (the view's computed path): accounts opening and stopping on
different days, weekends and longer gaps, flows of every kind at odd moments (on a valuation, before the first,
after the last), an account in dollars, IBKR statements with a missing one, the time machine.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection

from portfolio_dashboard.services import demo_history
from portfolio_dashboard.services.returns import ReturnsFilter, prepare, prepare_period
from portfolio_dashboard.storage.reads.returns import account_histories
from portfolio_dashboard.storage.reads.returns_inception import Inception
from tests.integration import rows
from tests.integration.returns_rows import flow, nav, set_wrapper

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
END = datetime(2026, 6, 30, 18, tzinfo=UTC)
TODAY = date(2026, 6, 30)
FILTERS = (ReturnsFilter(), ReturnsFilter(brokers=("ib",)), ReturnsFilter(wrappers=("ISA",)),
           ReturnsFilter(accounts=(("ib", "U1"), ("schwab", "S1"))))


def same_as_whole(conn: Connection, flt: ReturnsFilter, today: date, *, until: datetime | None = None,
                  end: date | None = None) -> bool:
    """The thinned read's figures for inception..``end`` (or ``today``) equal the whole history's; True when the
    read was thinned (False when it fell back to reading everything)."""
    whole = prepare(conn, flt, today=today, until=until)
    if end is None:
        thinned = prepare_period(conn, flt, period="all", today=today, until=until)
        assert thinned.report("all") == whole.report("all"), (flt, until)
        assert thinned.total("all") == whole.total("all"), (flt, until)
    else:
        thinned = prepare_period(conn, flt, period=None, end=end, today=today, until=until)
        assert thinned.report(None, None, end) == whole.report(None, None, end), (flt, until, end)
    return isinstance(thinned.window, Inception)


def test_the_demo_history_since_inception(app) -> None:  # type: ignore[no-untyped-def]
    demo_history.seed(app, 400, end=END)  # deposits, a withdrawal, dividends; accounts opened on different days
    with app.engine.connect() as conn:
        for flt in (ReturnsFilter(), ReturnsFilter(brokers=("demo",)), ReturnsFilter(wrappers=("ISA",))):
            assert same_as_whole(conn, flt, TODAY)
            assert same_as_whole(conn, flt, TODAY, end=date(2026, 2, 14))
            assert same_as_whole(conn, flt, TODAY, until=datetime(2026, 3, 15, 23, tzinfo=UTC))
        whole = account_histories(conn)
        thinned = prepare_period(conn, period="all", today=TODAY).histories
    for short, full in zip(thinned, whole, strict=True):
        assert len(short.stamps_gbp) < len(full.stamps_gbp) / 2, short.key  # most days are left out
        assert short.stamps_gbp[0] == full.stamps_gbp[0] and short.stamps_gbp[-1] == full.stamps_gbp[-1]
        assert short.adjacent is not None and not all(short.adjacent)


def moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.choice((9, 16, 21, 23)), rng.choice((0, 30, 59))), LONDON)


def build(conn: Connection, seed: int) -> tuple[date, list[datetime]]:
    """Three or four accounts over ~5 months with every awkward feature; returns the last day and some moments
    for the time machine."""
    rng = random.Random(seed)
    run = rows.run(conn)
    first_day = date(2026, 1, 1)
    last_day = first_day + timedelta(days=150)
    accounts = [("ib", "U1", "GBP", "ISA"), ("ib", "U2", "GBP", "GIA"), ("schwab", "S1", "USD", None)]
    if seed % 2:
        accounts.append(("ib", "U3", "GBP", "ISA"))
    for broker, account, currency, wrapper in accounts:
        rows.account(conn, broker, account, currency)
        if wrapper:
            set_wrapper(conn, broker, account, wrapper)
        start = first_day + timedelta(days=rng.choice((0, 0, 3, 20, 45)))
        stop = last_day - timedelta(days=rng.choice((0, 0, 0, 2, 30)))  # stopped: "stale" at the end
        value = Decimal(rng.randint(2_000, 50_000))
        rate = Decimal("0.79")
        weekdays_only = rng.random() < 0.5
        gaps = {start + timedelta(days=rng.randint(10, 120)) for _ in range(rng.randint(0, 2))}
        day = start
        valued: list[datetime] = []
        while day <= stop:
            if day in gaps:
                day += timedelta(days=rng.choice((5, 8, 12)))  # under and over the 7-day limit
                continue
            if not (weekdays_only and day.weekday() >= 5):
                value = (value * Decimal(1 + rng.uniform(-0.02, 0.021))).quantize(Decimal("0.01"))
                rate = (rate * Decimal(1 + rng.uniform(-0.004, 0.004))).quantize(Decimal("0.000001"))
                ts = moment(day, rng)
                valued.append(ts)
                if currency == "GBP":
                    rows.snapshot(conn, run, broker, account, ts, value)
                else:
                    rows.snapshot(conn, run, broker, account, ts, (value * rate).quantize(Decimal("0.01")),
                                  total_local=value, currency="USD")
                if rng.random() < 0.1:  # a second capture the same day: only the day's last one is a close
                    rows.snapshot(conn, run, broker, account, ts - timedelta(hours=1), value - 7)
            day += timedelta(days=1)
        for _ in range(rng.randint(3, 9)):
            kind = rng.choice(("deposit", "deposit", "withdrawal", "transfer_in", "transfer_out", "dividend"))
            sign = -1 if kind in ("withdrawal", "transfer_out") else 1
            amount = Decimal(sign * rng.randint(100, 1_500))
            where = rng.random()
            if where < 0.25 and valued:
                ts = rng.choice(valued)  # on a valuation's moment: inside it, weighing 0
            elif where < 0.3:
                ts = datetime.combine(start - timedelta(days=2), time(10), LONDON)  # before the first valuation
            elif where < 0.35:
                ts = datetime.combine(stop + timedelta(days=1), time(10), LONDON)  # after the last
            else:
                ts = moment(start + timedelta(days=rng.randint(0, (stop - start).days)), rng)
            if currency == "GBP":
                flow(conn, broker, account, kind, ts, amount)
            else:
                flow(conn, broker, account, kind, ts, (amount * Decimal("0.78")).quantize(Decimal("0.01")),
                     amount_local=amount, currency="USD")
        if broker == "ib" and account == "U1":  # weekly statements, one of them missing
            week = start
            while week + timedelta(days=6) <= stop:
                if rng.random() > 0.15:
                    nav(conn, broker, account, week, week + timedelta(days=6), Decimal(rng.randint(-300, 300)) / 100)
                week += timedelta(days=7)
    moments = [datetime.combine(first_day + timedelta(days=d), time(12), LONDON) for d in (30, 77, 149)]
    return last_day, moments


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_since_inception(conn: Connection, seed: int) -> None:
    last_day, moments = build(conn, seed)
    for flt in FILTERS:
        assert same_as_whole(conn, flt, last_day)
        assert same_as_whole(conn, flt, last_day + timedelta(days=9))  # everything stale by then
        assert same_as_whole(conn, flt, last_day, end=last_day - timedelta(days=40))
    for until in moments:
        assert same_as_whole(conn, ReturnsFilter(), last_day, until=until)


def test_a_value_that_is_not_positive_reads_the_whole_history(conn: Connection) -> None:
    """A zero (an emptied account) makes the sub-periods around it special: nothing is left out then."""
    build(conn, 2)
    run = rows.run(conn)
    rows.snapshot(conn, run, "ib", "U2", datetime(2026, 3, 3, 22, tzinfo=LONDON), "0")
    assert not same_as_whole(conn, ReturnsFilter(), date(2026, 5, 31))
    assert same_as_whole(conn, ReturnsFilter(brokers=("schwab",)), date(2026, 5, 31))  # U2 not in the filter


def test_a_gap_between_accounts_is_still_a_gap(conn: Connection) -> None:
    """U1 is valued in January, U2 from mid-February: the portfolio has no valuation for a month, which the
    whole history reports and the thinned one must too (neither account has a gap of its own)."""
    run = rows.run(conn)
    for account in ("U1", "U2"):
        rows.account(conn, "ib", account)
    for day in range(1, 32):
        rows.snapshot(conn, run, "ib", "U1", datetime(2026, 1, day, 12, tzinfo=LONDON), str(1000 + day))
    for day in range(15, 29):
        rows.snapshot(conn, run, "ib", "U2", datetime(2026, 2, day, 12, tzinfo=LONDON), str(500 + day))
    flow(conn, "ib", "U1", "deposit", datetime(2026, 1, 10, 9, tzinfo=LONDON), "10")
    assert same_as_whole(conn, ReturnsFilter(), date(2026, 2, 28))
    total = prepare_period(conn, period="all", today=date(2026, 2, 28)).total("all")
    assert any(reason.startswith("gap in valuations: none between 2026-01-31 and 2026-02-15")
               for reason in total.unavailable)


def test_only_the_period_from_inception_is_answered(conn: Connection) -> None:
    build(conn, 0)
    thinned = prepare_period(conn, period="all", today=date(2026, 5, 31))
    assert isinstance(thinned.window, Inception)
    assert thinned.report("inception").end == date(2026, 5, 31)
    with pytest.raises(ValueError, match="from inception to 2026-05-31 only"):
        thinned.report("3m")
    with pytest.raises(ValueError, match="from inception to 2026-05-31 only"):
        thinned.report(None, None, date(2026, 4, 1))
    with pytest.raises(ValueError, match="7-day gap limit"):
        thinned.report("all", max_gap=timedelta(days=3))
    with pytest.raises(ValueError, match="every valuation"):
        thinned.cumulative(date(2026, 1, 1), date(2026, 5, 31))
    with pytest.raises(ValueError, match="whole history"):
        thinned.monthly()
    strict = prepare_period(conn, period="all", today=date(2026, 5, 31), max_gap=timedelta(days=3))
    assert strict.report("all", max_gap=timedelta(days=3)) == prepare(conn, today=date(2026, 5, 31)).report(
        "all", max_gap=timedelta(days=3))


def test_a_gap_inside_one_account_is_still_a_gap(conn: Connection) -> None:
    """Ten days without a valuation and no flow near them: both ends are kept, as neighbours."""
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    for day in [*range(1, 10), *range(20, 31)]:
        rows.snapshot(conn, run, "ib", "U1", datetime(2026, 1, day, 12, tzinfo=LONDON), str(1000 + day))
    assert same_as_whole(conn, ReturnsFilter(), date(2026, 1, 31))
    total = prepare_period(conn, period="all", today=date(2026, 1, 31)).total("all")
    assert total.unavailable == ("gap in valuations: none between 2026-01-09 and 2026-01-20 (longer than the "
                                 "7-day limit)",)


@pytest.mark.parametrize("missing", [False, True])
def test_ibkrs_statements_are_not_chained_over_a_valued_week(conn: Connection, missing: bool) -> None:
    """IBKR's weekly statements from the day after the first close: chained when they tile the period; when one
    week's statement is missing while the account was valued that week, there is no broker figure, thinned or
    not (the closes of that week carry no flow, so only the cuts at the statements' dates keep one of them)."""
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    for day in range(1, 30):
        rows.snapshot(conn, run, "ib", "U1", datetime(2026, 1, day, 12, tzinfo=LONDON), str(1000 + day))
    for first in (date(2026, 1, 2), date(2026, 1, 9), date(2026, 1, 16), date(2026, 1, 23)):
        if not (missing and first == date(2026, 1, 16)):
            nav(conn, "ib", "U1", first, first + timedelta(days=6), "0.5")
    assert same_as_whole(conn, ReturnsFilter(), date(2026, 1, 29))
    [account] = prepare_period(conn, period="all", today=date(2026, 1, 29)).report("all").accounts
    assert (account.broker_twr is None) is missing
    if not missing:
        assert account.broker_twr == Decimal("1.005") ** 4 - 1
