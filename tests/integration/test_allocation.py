"""Allocation over the latest holdings, captured through capture() from two hand-written broker sources.

IB (GBP account): AAPL by conid with the ISIN Flex reports, VUSA on the LSE, Toyota in JPY (no JPY rate: no
GBP value), GBP and USD cash. Schwab (USD account): AAPL and VOO by CUSIP, USD cash. USD->GBP at 0.8.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain import RunStatus, TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.mapping import find_instrument, split_to_new_global
from portfolio_dashboard.storage.reads import runs as queries
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from tests.fakes.holdings import HoldingsSource, account, holding

T1 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
RATES = {"USD": "0.8"}


def ib_source(at=T1, aapl="10"):
    return HoldingsSource("ib_flex", "ib", [account("U1234567", "GBP", [
        holding("265598", "AAPL", "USD", aapl, "200", name="APPLE INC", isin="US0378331005", exchange="NASDAQ"),
        holding("128831206", "VUSA", "GBP", "100", "80", asset_class="etf", name="VANGUARD S&P 500 UCITS ETF",
                isin="IE00B3XXRP09", exchange="LSEETF"),
        holding("14013", "7203", "JPY", "100", "2500", name="TOYOTA MOTOR CORP", isin="JP3633400001",
                exchange="TSEJ"),
    ], cash={"GBP": "1000", "USD": "500"}, name="IB ISA")], asof=at, rates=RATES)


def schwab_source(at=T1):
    return HoldingsSource("schwab", "schwab", [account("12345678", "USD", [
        holding("037833100", "AAPL", "USD", "5", "200", name="APPLE INC", cusip="037833100"),
        holding("922908363", "VOO", "USD", "2", "500", asset_class="etf", name="VANGUARD S&P 500 ETF",
                cusip="922908363"),
    ], cash={"USD": "250"}, name="Schwab brokerage")], asof=at, rates=RATES)


@pytest.fixture
def offline_app(app):
    app.reference_factory = lambda _settings: None  # no ECB: a missing JPY rate stays missing
    return app


def run(app, *sources):
    result = capture(TriggerContext(sources=tuple(s.name for s in sources)), app=app,
                     sources={s.name: s for s in sources})
    assert result.status == RunStatus.SUCCESS, result.error_summary
    return result


def by(app, fn):
    with app.engine.connect() as conn:
        return fn(conn)


def rows_by_label(alloc):
    return {r.label: r for r in alloc.rows}


def assert_weights_sum_to_one(alloc):
    weights = [r.weight for r in alloc.rows if r.weight is not None]
    assert abs(sum(weights, Decimal(0)) - 1) < Decimal("1e-9")
    assert alloc.total_gbp == sum((r.value_gbp for r in alloc.rows if r.value_gbp is not None), Decimal(0))


def test_same_security_at_two_brokers_is_one_line(offline_app):
    run(offline_app, ib_source(), schwab_source())
    alloc = by(offline_app, queries.allocation_by_global_instrument)
    assert_weights_sum_to_one(alloc)
    assert alloc.total_gbp == Decimal("12800")
    lines = rows_by_label(alloc)
    assert (lines["APPLE INC"].value_gbp, lines["APPLE INC"].positions) == (Decimal("2400"), 2)
    assert lines["APPLE INC"].weight == Decimal("2400") / Decimal("12800")
    assert (lines["USD cash"].value_gbp, lines["USD cash"].positions) == (Decimal("600"), 2)
    # VUSA (LSE, GBP) and VOO (US, USD) are different instruments
    assert lines["VANGUARD S&P 500 UCITS ETF"].value_gbp == Decimal("8000")
    assert lines["VANGUARD S&P 500 ETF"].value_gbp == Decimal("800")
    assert len(alloc.rows) == 6


def test_positions_without_gbp_are_reported_not_dropped(offline_app):
    run(offline_app, ib_source(), schwab_source())
    alloc = by(offline_app, queries.allocation_by_global_instrument)
    toyota = rows_by_label(alloc)["TOYOTA MOTOR CORP"]
    assert (toyota.value_gbp, toyota.weight, toyota.positions_without_gbp) == (None, None, 1)
    assert [(u.broker, u.symbol, u.currency, u.market_value_local) for u in alloc.unvalued] == [
        ("ib", "7203", "JPY", Decimal("250000"))]


def test_allocation_by_asset_class_currency_broker_and_account(offline_app):
    run(offline_app, ib_source(), schwab_source())
    classes = by(offline_app, queries.allocation_by_asset_class)
    currencies = by(offline_app, queries.allocation_by_currency)
    brokers = by(offline_app, queries.allocation_by_broker)
    accounts = by(offline_app, queries.allocation_by_account)
    for alloc in (classes, currencies, brokers, accounts):
        assert_weights_sum_to_one(alloc)
        assert alloc.total_gbp == Decimal("12800")
        assert len(alloc.unvalued) == 1
    c = rows_by_label(classes)
    assert (c["equity"].value_gbp, c["equity"].positions, c["equity"].positions_without_gbp) == (Decimal(2400), 3, 1)
    assert (c["etf"].value_gbp, c["cash"].value_gbp) == (Decimal(8800), Decimal(1600))
    k = rows_by_label(currencies)
    assert (k["USD"].value_gbp, k["GBP"].value_gbp) == (Decimal(3800), Decimal(9000))
    assert (k["JPY"].value_gbp, k["JPY"].weight, k["JPY"].positions_without_gbp) == (None, None, 1)
    assert {r.key: r.value_gbp for r in brokers.rows} == {"ib": Decimal(11000), "schwab": Decimal(1800)}
    assert {r.key: r.label for r in accounts.rows} == {"ib:U1234567": "IB ISA (ib)",
                                                     "schwab:12345678": "Schwab brokerage (schwab)"}
    assert [r.key for r in brokers.rows] == ["ib", "schwab"]  # largest first


def test_only_the_latest_snapshot_of_each_account_counts(offline_app):
    run(offline_app, ib_source(), schwab_source())
    run(offline_app, ib_source(at=T1 + timedelta(days=1), aapl="20"))  # only IB captured the next day
    alloc = by(offline_app, queries.allocation_by_global_instrument)
    assert rows_by_label(alloc)["APPLE INC"].value_gbp == Decimal("3200") + Decimal("800")
    assert alloc.total_gbp == Decimal("14400")
    assert_weights_sum_to_one(alloc)


def _positions_digest(app):
    with app.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM positions ORDER BY snapshot_id, instrument_id")).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest(), len(rows)


def test_remapping_changes_views_immediately_without_rewriting_positions(offline_app):
    run(offline_app, ib_source(), schwab_source())
    before = _positions_digest(offline_app)
    with UnitOfWork(offline_app.engine) as uow:
        split_to_new_global(uow.connection, find_instrument(uow.connection, "schwab", "037833100"))
        uow.commit()
    assert _positions_digest(offline_app) == before
    alloc = by(offline_app, queries.allocation_by_global_instrument)
    apple = sorted(r.value_gbp for r in alloc.rows if r.symbol == "AAPL")
    assert apple == [Decimal(800), Decimal(1600)]
    assert_weights_sum_to_one(alloc)
    with offline_app.engine.connect() as conn:
        gids = conn.execute(text("SELECT count(DISTINCT global_instrument_id) FROM positions_history "
                                 "WHERE symbol = 'AAPL'")).scalar()
    assert gids == 2
    # the override survives the next capture of both brokers
    run(offline_app, ib_source(at=T1 + timedelta(hours=1)), schwab_source(at=T1 + timedelta(hours=1)))
    alloc = by(offline_app, queries.allocation_by_global_instrument)
    assert sorted(r.value_gbp for r in alloc.rows if r.symbol == "AAPL") == [Decimal(800), Decimal(1600)]


def test_empty_database_has_an_empty_allocation(offline_app):
    offline_app.migrate()
    for fn in (queries.allocation_by_global_instrument, queries.allocation_by_currency):
        alloc = by(offline_app, fn)
        assert (alloc.rows, alloc.total_gbp, alloc.unvalued) == ([], Decimal(0), [])


def test_unknown_dimension_is_refused(offline_app):
    offline_app.migrate()
    with pytest.raises(ValueError, match="unknown allocation dimension"):
        by(offline_app, lambda conn: queries.allocation_by(conn, "sector"))
    assert by(offline_app, lambda conn: queries.allocation_by(conn, "global_instrument")).rows == []
