"""Schwab parse: pure, on recorded responses shaped as Schwab documents them."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dashboard.brokers.schwab import SchwabSource, schwab_time, trade_windows
from portfolio_dashboard.brokers.schwab_parse import cusip_is_valid, isin_from_us_cusip, parse_responses
from portfolio_dashboard.domain import AssetClass, RawResponse
from portfolio_dashboard.errors import ParsingError, ValidationError
from tests.fakes.schwab import (
    CASH_HASH,
    CASH_NUMBER,
    MARGIN_HASH,
    MARGIN_NUMBER,
    default_accounts,
    default_transactions,
)

NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
DATE_HEADER = "Fri, 14 Mar 2025 15:09:26 GMT"
NUMBERS = [
    {"accountNumber": MARGIN_NUMBER, "hashValue": MARGIN_HASH},
    {"accountNumber": CASH_NUMBER, "hashValue": CASH_HASH},
]


def raw(endpoint: str, body: Any, *, status: int = 200, date: str | None = DATE_HEADER) -> RawResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if date:
        headers["date"] = date
    return RawResponse(
        "schwab", "schwab", endpoint, NOW + timedelta(seconds=1), status, data, "application/json", headers
    )


def capture(accounts: Any = None, transactions: dict[str, Any] | None = None, **kw: Any) -> list[RawResponse]:
    txs = default_transactions(NOW) if transactions is None else transactions
    raws = [
        raw("GET /trader/v1/accounts/accountNumbers", NUMBERS),
        raw("GET /trader/v1/accounts?fields=positions", default_accounts() if accounts is None else accounts, **kw),
    ]
    for account_hash, items in txs.items():
        if isinstance(items, list):  # the fake's store also holds other types, which types=TRADE leaves out
            items = [tx for tx in items if not (isinstance(tx, dict) and tx.get("type") not in (None, "TRADE"))]
        raws.append(
            raw(
                f"GET /trader/v1/accounts/{account_hash}/transactions?startDate=2024-03-14T15:09:26.000Z"
                "&endDate=2025-03-14T15:09:26.000Z&types=TRADE",
                items,
            )
        )
    return raws


def by_account(result: Any) -> dict[str, Any]:
    return {s.account.broker_account_id: s for s in result.snapshots}


def test_accounts_positions_cash_and_totals() -> None:
    result = parse_responses(capture())
    snaps = by_account(result)
    assert set(snaps) == {MARGIN_NUMBER, CASH_NUMBER}
    margin = snaps[MARGIN_NUMBER]
    assert margin.account.base_currency == "USD"
    assert margin.account.name == "Schwab Margin …5678"
    assert margin.asof_ts == NOW
    assert margin.asof_source == "http-date"
    assert margin.total_value_local == Decimal("22771.50")
    positions = {p.instrument.symbol: p for p in margin.positions}
    aapl = positions["AAPL"]
    assert aapl.quantity == Decimal(50)
    assert aapl.market_value_local == Decimal("11321.50")
    assert aapl.price_local == Decimal("226.43")
    assert aapl.cost_basis == Decimal("7512.50")
    assert aapl.unrealized_pnl == Decimal("3809.00")
    assert aapl.instrument.broker_instrument_id == "AAPL"  # the symbol: trades carry it too (CUSIP often not)
    assert aapl.instrument.cusip == "037833100"
    assert aapl.instrument.isin == "US0378331005"
    assert aapl.instrument.asset_class is AssetClass.EQUITY
    assert aapl.instrument.broker_asset_class == "EQUITY"
    voo = positions["VOO"]
    assert voo.instrument.asset_class is AssetClass.ETF
    assert voo.quantity == Decimal("12.5")
    tsla = positions["TSLA"]
    assert tsla.quantity == Decimal(-10)
    assert tsla.market_value_local == Decimal("-2450.00")
    assert tsla.price_local == Decimal("245")
    assert tsla.unrealized_pnl == Decimal("50.00")
    # Cash includes the short-sale credit Schwab keeps in shortBalance; positions + cash = liquidation value.
    assert [(c.currency, c.amount) for c in margin.cash] == [("USD", Decimal("7500.00"))]
    assert sum(p.market_value_local for p in margin.all_positions()) == margin.total_value_local
    cash_acct = snaps[CASH_NUMBER]
    fund = {p.instrument.symbol: p for p in cash_acct.positions}["SWPPX"]
    assert fund.instrument.asset_class is AssetClass.FUND
    assert fund.quantity == Decimal("100.123")
    assert [(c.currency, c.amount) for c in cash_acct.cash] == [("USD", Decimal("1234.56"))]
    assert sum(p.market_value_local for p in cash_acct.all_positions()) == cash_acct.total_value_local
    assert result.fx_rates == ()
    assert result.warnings == ()


def test_trades_signed_with_fees_and_ids() -> None:
    result = parse_responses(capture())
    trades = {t.broker_trade_id: t for t in result.trades}
    assert set(trades) == {"80990733204", "80990733310", "81000000001", "81000000002", "81000000003"}
    buy = trades["80990733204"]
    assert buy.broker_account_id == MARGIN_NUMBER
    assert buy.quantity == Decimal(10)
    assert buy.price_local == Decimal("180.0")
    assert buy.amount_local == Decimal("-1800.0")
    assert buy.commission == Decimal(0)
    assert buy.currency == "USD"
    assert buy.trade_ts == NOW - timedelta(days=30)
    # The transaction omits the CUSIP; the id is the symbol both carry, and the holding fills in the CUSIP.
    assert buy.instrument.broker_instrument_id == "AAPL"
    assert buy.instrument.cusip == "037833100"
    short_sale = trades["80990733310"]
    assert short_sale.quantity == Decimal(-10)
    assert short_sale.amount_local == Decimal("2499.98")
    assert short_sale.commission == Decimal("-0.02")
    fund = trades["81000000002"]
    assert fund.instrument.asset_class is AssetClass.FUND
    assert fund.commission is None  # no fee items at all
    assert trades["81000000003"].instrument.broker_instrument_id == "MSFT"  # held in the other account
    assert trades["81000000003"].instrument.cusip == "594918104"


def test_trade_without_matching_position_uses_symbol() -> None:
    txs = {MARGIN_HASH: [default_transactions(NOW)[MARGIN_HASH][0]]}
    txs[MARGIN_HASH][0]["transferItems"][-1]["instrument"]["symbol"] = "NVDA"
    result = parse_responses(capture(transactions=txs))
    assert result.trades[0].instrument.broker_instrument_id == "NVDA"
    assert result.trades[0].instrument.cusip is None


def test_non_valid_and_non_trade_transactions_are_skipped_and_duplicates_dropped() -> None:
    txs = default_transactions(NOW)
    pending = copy.deepcopy(txs[MARGIN_HASH][0])
    pending.update(activityId=1, status="PENDING")
    dividend = txs[MARGIN_HASH][2]
    raws = capture(transactions={MARGIN_HASH: [*txs[MARGIN_HASH][:2], pending]})
    raws.append(raw(f"GET /trader/v1/accounts/{MARGIN_HASH}/transactions", [*txs[MARGIN_HASH][:2], dividend]))
    ids = [t.broker_trade_id for t in parse_responses(raws).trades]
    assert ids == ["80990733204", "80990733310"]


def test_multi_leg_trade_gets_one_id_per_leg() -> None:
    tx = copy.deepcopy(default_transactions(NOW)[MARGIN_HASH][0])
    leg = copy.deepcopy(tx["transferItems"][-1])
    leg["instrument"] = {"assetType": "OPTION", "symbol": "AAPL  260116C00200000", "cusip": "0AAPL.AG60200000"}
    leg.update(amount=1, price=2.48, cost=-248)
    tx["transferItems"].append(leg)
    trades = parse_responses(capture(transactions={MARGIN_HASH: [tx]})).trades
    assert [t.broker_trade_id for t in trades] == ["80990733204-1", "80990733204-2"]
    assert trades[1].amount_local == Decimal(-248)
    assert trades[1].instrument.isin is None  # an option's "cusip" is not a CUSIP
    assert trades[0].commission == Decimal(0)
    assert trades[1].commission is None


def test_date_header_missing_falls_back_to_received_at_with_warning() -> None:
    result = parse_responses(capture(date=None))
    snap = result.snapshots[0]
    assert snap.asof_source == "received-at"
    assert snap.asof_ts == NOW + timedelta(seconds=1)
    assert any("Date header" in w for w in result.warnings)


def test_numbers_as_strings_nulls_and_extra_fields() -> None:
    accounts = default_accounts()
    sa = accounts[1]["securitiesAccount"]
    sa["positions"][0].update(marketValue="8,300.00", longQuantity="20", averagePrice=None, somethingNew={"x": 1})
    sa["positions"][0]["instrument"]["futureField"] = [1, 2]
    sa["currentBalances"]["cashBalance"] = "1,234.56"
    sa["brandNewSection"] = {"a": None}
    snap = by_account(parse_responses(capture(accounts)))[CASH_NUMBER]
    msft = {p.instrument.symbol: p for p in snap.positions}["MSFT"]
    assert msft.market_value_local == Decimal("8300.00")
    assert msft.cost_basis is None
    assert snap.cash[0].amount == Decimal("1234.56")


def test_zero_quantity_position_is_not_held() -> None:
    accounts = default_accounts()
    accounts[0]["securitiesAccount"]["positions"][0].update(longQuantity=0, marketValue=0)
    snap = by_account(parse_responses(capture(accounts)))[MARGIN_NUMBER]
    assert "AAPL" not in {p.instrument.symbol for p in snap.positions}


def test_margin_debit_counts_as_negative_cash() -> None:
    accounts = default_accounts()
    balances = accounts[0]["securitiesAccount"]["currentBalances"]
    balances.update(cashBalance=0, shortBalance=2500, marginBalance=-1000)
    snap = by_account(parse_responses(capture(accounts)))[MARGIN_NUMBER]
    assert snap.cash[0].amount == Decimal(1500)


def test_missing_balances_are_warnings_not_inventions() -> None:
    accounts = default_accounts()
    del accounts[1]["securitiesAccount"]["currentBalances"]
    del accounts[1]["aggregatedBalance"]
    result = parse_responses(capture(accounts))
    snap = by_account(result)[CASH_NUMBER]
    assert snap.cash == ()
    assert snap.total_value_local is None
    assert len([w for w in result.warnings if "…4321" in w]) == 2


def test_single_account_response_shape() -> None:
    raws = [
        raw("GET /trader/v1/accounts/accountNumbers", NUMBERS),
        raw(f"GET /trader/v1/accounts/{CASH_HASH}?fields=positions", default_accounts()[1]),
    ]
    assert [s.account.broker_account_id for s in parse_responses(raws).snapshots] == [CASH_NUMBER]


def test_error_responses_are_ignored_by_parse() -> None:
    raws = capture()
    raws.insert(1, raw("GET /trader/v1/accounts?fields=positions", {"errors": [{"title": "x"}]}, status=429))
    assert len(parse_responses(raws).snapshots) == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a[0]["securitiesAccount"].pop("accountNumber"), "securitiesAccount.accountNumber"),
        (lambda a: a[0]["securitiesAccount"]["positions"][0].pop("marketValue"), "positions[0].marketValue"),
        (lambda a: a[0]["securitiesAccount"]["positions"][0].update(marketValue="lots"), "marketValue"),
        (lambda a: a[0]["securitiesAccount"]["positions"][1]["instrument"].pop("assetType"), "instrument.assetType"),
        (lambda a: a[0]["securitiesAccount"]["positions"][1].update(instrument=None), "positions[1].instrument"),
        (lambda a: a[0]["securitiesAccount"].update(positions={"a": 1}), "securitiesAccount.positions"),
        (lambda a: a[0].update(securitiesAccount=[]), "[0].securitiesAccount"),
        (lambda a: a[0]["securitiesAccount"]["currentBalances"].update(cashBalance=True), "cashBalance"),
        (lambda a: a[0]["securitiesAccount"]["currentBalances"].update(cashBalance="1e999999"), "cashBalance"),
    ],
)
def test_missing_or_wrong_required_fields_name_field_and_endpoint(mutate: Any, field: str) -> None:
    accounts = default_accounts()
    mutate(accounts)
    with pytest.raises(ParsingError) as err:
        parse_responses(capture(accounts))
    assert field in err.value.message
    assert err.value.endpoint == "GET /trader/v1/accounts?fields=positions"
    assert err.value.category == "parsing"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.pop("activityId"), "activityId"),
        (lambda t: t.update(time="yesterday", tradeDate=None), "time"),
        (lambda t: t.update(time="2025-01-01T10:00:00"), "time"),
        (lambda t: t.update(transferItems=[t["transferItems"][0]]), "transferItems"),
        (lambda t: t["transferItems"][-1].pop("amount"), "transferItems[2].amount"),
        (lambda t: t["transferItems"][-1].pop("instrument"), "transferItems[2].instrument"),
    ],
)
def test_bad_transactions_name_the_field(mutate: Any, field: str) -> None:
    tx = default_transactions(NOW)[MARGIN_HASH][0]
    mutate(tx)
    with pytest.raises(ParsingError) as err:
        parse_responses(capture(transactions={MARGIN_HASH: [tx]}))
    assert field in err.value.message
    assert "/transactions" in (err.value.endpoint or "")


def test_malformed_json_is_a_parsing_error() -> None:
    raws = capture()
    raws[1] = raw("GET /trader/v1/accounts?fields=positions", b'[{"securitiesAccount": {"accountNumber": "1')
    with pytest.raises(ParsingError, match="not JSON"):
        parse_responses(raws)


def test_no_accounts_response_is_a_parsing_error() -> None:
    with pytest.raises(ParsingError, match="no successful accounts response"):
        parse_responses([raw("GET /trader/v1/accounts/accountNumbers", NUMBERS)])


def test_source_parse_is_the_same_function() -> None:
    source = SchwabSource.__new__(SchwabSource)
    assert source.parse(capture()) == parse_responses(capture())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=25,
    ),
    st.sampled_from(["accounts", "position", "instrument", "balances", "transactions", "leg"]),
)
def test_arbitrary_json_only_ever_raises_parsing_or_validation_errors(junk: Any, where: str) -> None:
    accounts = default_accounts()
    txs = default_transactions(NOW)
    if where == "accounts":
        accounts = junk
    elif where == "position":
        accounts[0]["securitiesAccount"]["positions"][0] = junk
    elif where == "instrument":
        accounts[0]["securitiesAccount"]["positions"][0]["instrument"] = junk
    elif where == "balances":
        accounts[0]["securitiesAccount"]["currentBalances"] = junk
    elif where == "transactions":
        txs = {MARGIN_HASH: junk}
    else:
        txs[MARGIN_HASH][0]["transferItems"][-1] = junk
    with contextlib.suppress(ParsingError, ValidationError):
        parse_responses(capture(accounts, txs))


def test_cusip_and_isin() -> None:
    assert cusip_is_valid("037833100")
    assert not cusip_is_valid("037833101")
    assert not cusip_is_valid("0AAPL.AG6")
    assert isin_from_us_cusip("037833100") == "US0378331005"  # Apple
    assert isin_from_us_cusip("594918104") == "US5949181045"  # Microsoft
    assert isin_from_us_cusip("88160R101") == "US88160R1014"  # Tesla (a letter inside the CUSIP)
    assert isin_from_us_cusip("G1151C101") is None  # a CINS (non-US issuer): no US ISIN
    assert isin_from_us_cusip("037833101") is None  # bad check digit


def test_schwab_time_and_trade_windows() -> None:
    assert schwab_time(datetime(2024, 3, 28, 21, 10, 42, 123456, tzinfo=UTC)) == "2024-03-28T21:10:42.123Z"
    first = trade_windows(None, NOW)
    assert first == [(NOW - timedelta(days=365), NOW)]
    later = trade_windows(NOW - timedelta(days=3), NOW)
    assert later == [(NOW - timedelta(days=10), NOW)]
    gap = trade_windows(NOW - timedelta(days=800), NOW)
    assert len(gap) == 3
    assert all(end - start <= timedelta(days=365) for start, end in gap)
    assert gap[0][0] == NOW - timedelta(days=807)
    assert gap[-1][1] == NOW
    assert all(a[1] == b[0] for a, b in itertools.pairwise(gap))
    # A newest trade "in the future" (clock skew) still asks for the last week.
    assert trade_windows(NOW + timedelta(days=1), NOW) == [(NOW - timedelta(days=7), NOW)]
