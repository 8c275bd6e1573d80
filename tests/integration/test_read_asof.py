"""The time machine: every portfolio read at a past moment shows each account's stored snapshot at or before
it (never interpolated), on the same three-account book as test_read_portfolio."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.scope import Scope
from tests.integration.test_read_portfolio import IBUSD, ISA, SCHWAB, book, t

__all__ = ["book"]  # the fixture, shared
D = Decimal


def test_summary_at_a_past_moment_uses_each_accounts_snapshot_at_or_before_it(engine, book):
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), asof=t(6, 20))
    by = {(a.broker, a.broker_account_id): a for a in s.accounts}
    assert by[ISA].value == D(1100) and by[ISA].asof_ts == t(6, 16)
    assert by[IBUSD].value == D(1950)
    assert by[SCHWAB].value == D(500) and by[SCHWAB].asof_ts == t(5, 16)  # older: carried, not interpolated
    assert s.total == D(3550)
    assert s.at == t(6, 20)
    assert s.asof == t(6, 16) and s.oldest_asof == t(5, 16)
    assert all(a.snapshot_id is not None for a in s.accounts)
    # the previous snapshot is the one before the as-of snapshot
    assert by[ISA].previous_value == D(1000)


def test_an_account_without_a_snapshot_by_then_is_absent(engine, book):
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), asof=datetime(2026, 1, 5, 15, tzinfo=UTC))
        assert s.accounts == [] and s.total is None
        exact = rp.portfolio_summary(conn, Scope(), asof=t(5, 16))  # "at or before" includes the moment
    assert exact.total == D(3500)


def test_positions_and_allocation_at_a_past_moment(engine, book):
    with engine.connect() as conn:
        lines = rp.latest_positions(conn, Scope(), asof=t(6, 20))
        slices = rp.allocation(conn, Scope(), "account", asof=t(6, 20))
        latest = rp.latest_positions(conn, Scope())
    assert {(p.broker, p.symbol, p.value_gbp) for p in lines} == {("ib", "AAPL", D(800))}
    assert {(s.key, s.value_gbp) for s in slices} == {("ib/U7654321", D(800))}
    assert all(p.snapshot_id is not None for p in lines)
    assert {p.symbol for p in latest} == {"VUSA", "GBP", "AAPL", "VUSA.L", "USD"}


def test_series_ends_on_the_asof_day(engine, book):
    with engine.connect() as conn:
        points = rp.portfolio_series(conn, Scope(), asof_day=date(2026, 1, 6))
        everything = rp.portfolio_series(conn, Scope())
    assert [p.day for p in points] == [date(2026, 1, 5), date(2026, 1, 6)]
    assert [p.value_gbp for p in points] == [D(3500), D(3550)]
    assert len(everything) == 3


def test_a_naive_asof_is_refused(engine, book):
    with engine.connect() as conn, pytest.raises(ValueError, match="timezone-aware"):
        rp.portfolio_summary(conn, Scope(), asof=datetime(2026, 1, 6))
