"""The dashboard's portfolio read queries on a real database, with values predictable to the penny.

Three accounts over three January days (London time = UTC then):

    day        ib/U1234321 (ISA)   ib/U7654321 (USD)   schwab/12345678
    5 Jan 16h  1000                2000                500
    6 Jan 16h  1100                1950                (carried: 500)
    7 Jan      1150 (10h)          (carried: 1950)     550 (09h)
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.scope import Scope
from tests.ui.builders import Book

D = Decimal
ISA = ("ib", "U1234321")
IBUSD = ("ib", "U7654321")
SCHWAB = ("schwab", "12345678")


def t(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def book(engine):
    ids: dict[str, object] = {}
    with engine.begin() as conn:
        b = Book(conn)
        b.account(*ISA, name="IB ISA")
        b.account(*IBUSD, name="IB Margin", currency="USD")
        b.account(*SCHWAB, name="Schwab", currency="USD")
        vusa = b.instrument("ib", "VUSA", name="Vanguard S&P 500", asset_class="etf", isin="IE00B3XXRP09")
        gbp_cash = b.instrument("ib", "GBP", name="GBP cash", asset_class="cash")
        aapl = b.instrument("ib", "AAPL", name="Apple", currency="USD")
        vusa_s = b.instrument("schwab", "VUSA.L", name="Vanguard S&P 500 (LSE)", asset_class="etf")
        usd_cash = b.instrument("schwab", "USD", name="USD cash", asset_class="cash", currency="USD")
        g_vusa = b.global_instrument("VUSA", name="Vanguard S&P 500 UCITS", asset_class="etf", isin="IE00B3XXRP09")
        b.map(vusa, g_vusa)
        b.map(vusa_s, g_vusa, source="heuristic")
        b.snapshot(*ISA, t(5, 16), D(1000), positions=[(vusa, D(10), D(45), D(450), D(450), D(400), None)])
        b.snapshot(*IBUSD, t(5, 16), D(2000), total_local=D(2500), currency="USD")
        b.snapshot(*SCHWAB, t(5, 16), D(500), total_local=D(625), currency="USD")
        b.snapshot(*ISA, t(6, 16), D(1100))
        b.snapshot(*IBUSD, t(6, 16), D(1950), total_local=D(2437.5), currency="USD",
                   positions=[(aapl, D(5), D(200), D(1000), D(800), D(900), D(80))])
        b.snapshot(*ISA, t(7, 10), D(1150), positions=[
            (vusa, D(10), D(50), D(500), D(500), D(400), None),
            (gbp_cash, D(650), D(1), D(650), D(650), None, None),
        ])
        b.snapshot(*SCHWAB, t(7, 9), D(550), total_local=D(687.5), currency="USD", positions=[
            (vusa_s, D(2), D(50), D(100), D(100), None, None),
            (usd_cash, D("562.5"), D(1), D("562.5"), D(450), None, None),
        ])
        # USD: stored once as USD->GBP, later as GBP->USD; a demo rate must never colour real accounts
        b.rate("USD", "GBP", D("0.8"), datetime(2026, 1, 5, tzinfo=UTC))
        b.rate("GBP", "USD", D("1.3"), t(7, 8))
        b.rate("GBP", "USD", D("9.99"), datetime(2026, 1, 7, 9, 59, tzinfo=UTC), provider="demo")
        ids.update(vusa=vusa, g_vusa=g_vusa, aapl=aapl)
    return ids


def test_summary_totals_and_changes(engine, book):
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope())
    assert s.total == D(3650)
    assert s.total_gbp == D(3650)
    assert s.asof == t(7, 10)
    assert s.oldest_asof == t(6, 16)
    # previous day: each account's latest before 7 Jan 00:00 = 1100 + 1950 + 500
    assert s.change_day is not None
    assert s.change_day.amount == D(100)
    assert s.change_day.pct == D(100) / D(3550)
    # previous snapshot per account: (1150-1100) + (1950-2000) + (550-500)
    assert s.change_snapshot is not None
    assert s.change_snapshot.amount == D(50)
    assert s.change_snapshot.since == t(6, 16)
    assert [(a.broker, a.broker_account_id, a.value) for a in s.accounts] == [
        ("ib", "U1234321", D(1150)), ("ib", "U7654321", D(1950)), ("schwab", "12345678", D(550))]
    assert [(b.broker, b.accounts, b.value) for b in s.brokers] == [("ib", 2, D(3100)), ("schwab", 1, D(550))]
    assert s.accounts[1].value_local == D("2437.5")


def test_summary_in_usd_uses_the_stored_rate_at_or_before_each_moment(engine, book):
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), "USD")
    assert s.rate == D("1.3")  # GBP->USD stored at 08:00, newer than the inverse USD->GBP; demo 9.99 ignored
    assert s.total == D(3650) * D("1.3")
    assert s.total_gbp == D(3650)
    assert s.change_day is not None
    # yesterday's 3550 at the rate in force at midnight: 1 / 0.8
    assert s.change_day.amount == D(3650) * D("1.3") - D(3550) / D("0.8")


def test_summary_without_a_rate_for_the_display_currency(engine, book):
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), "EUR")
    assert s.rate_missing is True
    assert s.total is None
    assert s.change_day is None
    assert s.total_gbp == D(3650)


def test_demo_rates_are_used_while_only_demo_data_exists(engine):
    with engine.begin() as conn:
        b = Book(conn, sources=("demo",))
        b.account("demo", "DEMO-1")
        b.snapshot("demo", "DEMO-1", t(7, 10), D(100))
        b.rate("GBP", "USD", D("1.25"), t(7, 9), provider="demo")
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), "USD")
    assert s.total == D(125)


def test_summary_scope_by_account_and_by_broker(engine, book):
    with engine.connect() as conn:
        isa = rp.portfolio_summary(conn, Scope(accounts=(ISA,)))
        schwab = rp.portfolio_summary(conn, Scope(brokers=("schwab",)))
        both = rp.portfolio_summary(conn, Scope(brokers=("ib",), accounts=(ISA, SCHWAB)))
    assert isa.total == D(1150)
    assert isa.change_day is not None
    assert isa.change_day.amount == D(50)
    assert schwab.total == D(550)
    assert [b.broker for b in schwab.brokers] == ["schwab"]
    assert both.total == D(1150)  # broker AND account: Schwab's account is outside broker "ib"


def test_an_account_without_a_gbp_value_blocks_the_total_and_the_changes(engine, book):
    with engine.begin() as conn:
        Book(conn).snapshot(*SCHWAB, t(7, 11), None, total_local=D(700), currency="USD")
    with engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope())
    assert s.accounts_without_value == 1
    assert s.total == D(1150) + D(1950)  # what is known, flagged by accounts_without_value
    assert s.change_day is None
    assert s.change_snapshot is None


def test_empty_database(engine):
    with engine.connect() as conn:
        assert rp.has_snapshots(conn) is False
        s = rp.portfolio_summary(conn, Scope())
        assert rp.portfolio_series(conn, Scope()) == []
        assert rp.latest_positions(conn, Scope()) == []
    assert s.total is None
    assert s.accounts == []
    assert s.rate_missing is False


def test_series_forward_fills_and_converts_per_day(engine, book):
    with engine.connect() as conn:
        gbp = rp.portfolio_series(conn, Scope())
        usd = rp.portfolio_series(conn, Scope(), "USD")
        per_account = rp.portfolio_series(conn, Scope(), by_account=True)
    assert [(p.day, p.value) for p in gbp] == [
        (date(2026, 1, 5), D(3500)), (date(2026, 1, 6), D(3550)), (date(2026, 1, 7), D(3650))]
    assert [p.value for p in usd] == [D(3500) / D("0.8"), D(3550) / D("0.8"), D(3650) * D("1.3")]
    assert len(per_account) == 9
    day6 = {(p.broker, p.broker_account_id): p.value for p in per_account if p.day == date(2026, 1, 6)}
    assert day6 == {ISA: D(1100), IBUSD: D(1950), SCHWAB: D(500)}


def test_series_day_with_a_missing_value_is_none_not_a_false_drop(engine, book):
    with engine.begin() as conn:
        Book(conn).snapshot(*SCHWAB, t(7, 11), None, total_local=D(700), currency="USD")
    with engine.connect() as conn:
        series = rp.portfolio_series(conn, Scope())
    assert series[-1].value is None
    assert series[-1].accounts_without_value == 1
    assert series[0].value == D(3500)


def test_latest_positions_values_pnl_and_weights(engine, book):
    with engine.connect() as conn:
        lines = rp.latest_positions(conn, Scope())
    by_symbol = {p.symbol: p for p in lines}
    assert set(by_symbol) == {"VUSA", "GBP", "AAPL", "VUSA.L", "USD"}
    vusa = by_symbol["VUSA"]
    assert vusa.asof_ts == t(7, 10)
    assert vusa.value_gbp == D(500)
    assert vusa.pnl_local == D(100)  # no broker figure: value - cost basis
    assert vusa.pnl_pct == D("0.25")
    aapl = by_symbol["AAPL"]
    assert aapl.pnl_local == D(80)  # the broker's own figure wins
    assert aapl.pnl_gbp == D(64)  # at the position's own rate: 80 x 800 / 1000
    assert by_symbol["GBP"].pnl_local is None
    assert by_symbol["GBP"].pnl_pct is None
    assert sum(p.weight for p in lines if p.weight is not None) == pytest.approx(D(1))
    assert aapl.weight == D(800) / D(2500)
    assert lines[0].symbol == "AAPL"  # largest first
    assert vusa.global_instrument_id == by_symbol["VUSA.L"].global_instrument_id == book["g_vusa"]


def test_latest_positions_in_scope_and_currency(engine, book):
    with engine.connect() as conn:
        lines = rp.latest_positions(conn, Scope(brokers=("schwab",)), "USD")
    assert {p.symbol for p in lines} == {"VUSA.L", "USD"}
    usd_cash = next(p for p in lines if p.symbol == "USD")
    assert usd_cash.value == D(450) * D("1.3")  # at the rate in force at that snapshot (09:00 > 08:00)
    assert usd_cash.weight == pytest.approx(D(450) / D(550), rel=D("1e-15"))


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ("instrument", {"VUSA": (D(600), 2), "AAPL": (D(800), 1), "GBP": (D(650), 1), "USD": (D(450), 1)}),
        ("asset_class", {"etf": (D(600), 2), "equity": (D(800), 1), "cash": (D(1100), 2)}),
        ("currency", {"GBP": (D(1250), 3), "USD": (D(1250), 2)}),
        ("broker", {"ib": (D(1950), 3), "schwab": (D(550), 2)}),
        ("account", {"ib/U1234321": (D(1150), 2), "ib/U7654321": (D(800), 1), "schwab/12345678": (D(550), 2)}),
    ],
)
def test_allocation_by_every_dimension(engine, book, dimension, expected):
    with engine.connect() as conn:
        slices = rp.allocation(conn, Scope(), dimension)
    got = {s.label.split(" · ")[0]: (s.value_gbp, s.holdings) for s in slices}
    assert got == expected
    assert sum(s.weight for s in slices if s.weight is not None) == pytest.approx(D(1))
    assert [s.value_gbp for s in slices] == sorted((s.value_gbp for s in slices), reverse=True)


def test_allocation_merges_listings_through_the_global_instrument_and_names_it(engine, book):
    with engine.connect() as conn:
        slices = rp.allocation(conn, Scope(), "instrument")
    vusa = next(s for s in slices if s.key == str(book["g_vusa"]))
    assert vusa.label == "VUSA · Vanguard S&P 500 UCITS"


def test_allocation_rejects_an_unknown_dimension(engine):
    with engine.connect() as conn, pytest.raises(ValueError, match="unknown allocation dimension"):
        rp.allocation(conn, Scope(), "sector")  # type: ignore[arg-type]


def test_instrument_history_spans_every_listing_of_the_global_instrument(engine, book):
    with engine.connect() as conn:
        everything = rp.instrument_history(conn, Scope(), book["g_vusa"])
        schwab_only = rp.instrument_history(conn, Scope(brokers=("schwab",)), book["g_vusa"])
        unmapped = rp.instrument_history(conn, Scope(), book["aapl"])
    assert [(p.asof_ts, p.broker, p.quantity) for p in everything] == [
        (t(5, 16), "ib", D(10)), (t(7, 9), "schwab", D(2)), (t(7, 10), "ib", D(10))]
    assert [p.symbol for p in schwab_only] == ["VUSA.L"]
    assert [p.value_gbp for p in unmapped] == [D(800)]  # an unmapped instrument is its own identity


def test_accounts_lists_every_account_with_its_span(engine, book):
    with engine.connect() as conn:
        accounts = rp.accounts(conn)
    isa = next(a for a in accounts if a.broker_account_id == "U1234321")
    assert (isa.name, isa.first_asof, isa.last_asof) == ("IB ISA", t(5, 16), t(7, 10))


def _relations(plan: object) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= _relations(item)
    return found


@pytest.mark.parametrize("sql", [rp._SUMMARY_SQL, rp._SERIES_SQL], ids=["summary", "series"])
def test_overview_queries_never_read_the_positions_table(engine, book, sql):
    params = {**Scope().params(), "ccy": "USD", "base": "GBP", "allow_demo": False, "by_account": False}
    with engine.connect() as conn:
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"), params).scalar_one()
    relations = _relations(plan if not isinstance(plan, str) else json.loads(plan))
    assert "snapshots" in relations
    assert "positions" not in relations
