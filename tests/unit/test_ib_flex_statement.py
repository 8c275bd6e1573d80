"""Pure parse tests of Flex statements: what IBKR's XML means in the canonical model."""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dashboard.brokers.ib_flex import IbFlexSource
from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.domain import AssetClass, RawResponse
from portfolio_dashboard.errors import ParsingError, ValidationError
from tests.fakes.flex_statement import (
    GENERATED,
    PREVIOUS_DAY,
    REPORT_DAY,
    FlexAccount,
    FlexPosition,
    FlexTrade,
    sample,
    sample_accounts,
    statement_xml,
)
from tests.fakes.ib_flex import status_xml

NY = ZoneInfo("America/New_York")
ENDPOINT = "GET /AccountManagement/FlexWebService/GetStatement?t=***&q=7015551001&v=3"


def raw(body: bytes, status: int = 200, endpoint: str = ENDPOINT) -> RawResponse:
    return RawResponse("ib_flex", "ib", endpoint, datetime(2026, 11, 21, 9, tzinfo=UTC), status, body, "text/xml")


SOURCE = IbFlexSource("tok", "1")


def parse(*bodies: bytes):
    return SOURCE.parse([raw(b) for b in bodies])


def snap(result, account: str, day: date):
    wanted = datetime(day.year, day.month, day.day, 20, 20, tzinfo=NY)
    [found] = [s for s in result.snapshots if s.account.broker_account_id == account and s.asof_ts == wanted]
    return found


def test_positions_cash_and_total_of_every_account():
    result = parse(sample())
    gbp = snap(result, "U1234567", REPORT_DAY)
    assert gbp.account.base_currency == "GBP" and gbp.account.name == "Main GBP"
    assert gbp.asof_source == "flex-report-date"
    assert gbp.total_value_local == Decimal("22405.25")
    by_conid = {p.instrument.broker_instrument_id: p for p in gbp.positions}
    assert set(by_conid) == {"265598", "128854", "14204"}
    aapl = by_conid["265598"]
    assert (aapl.quantity, aapl.price_local, aapl.market_value_local) == (Decimal(50), Decimal(190), Decimal(9500))
    assert (aapl.cost_basis, aapl.unrealized_pnl) == (Decimal(8000), Decimal(1500))
    i = aapl.instrument
    assert (i.broker, i.symbol, i.name, i.currency) == ("ib", "AAPL", "APPLE INC", "USD")
    assert (i.isin, i.cusip, i.figi, i.exchange) == ("US0378331005", "037833100", "BBG000B9XRY4", "NASDAQ")
    assert i.asset_class is AssetClass.EQUITY and i.broker_asset_class == "STK"
    assert by_conid["128854"].instrument.asset_class is AssetClass.ETF
    # BASE_SUMMARY is every currency summed in GBP: it must not become a fourth cash line.
    assert {c.currency: c.amount for c in gbp.cash} == {
        "GBP": Decimal("1500.25"), "USD": Decimal(2000), "EUR": Decimal(-100)
    }
    usd = snap(result, "U7654321", REPORT_DAY)
    assert usd.account.base_currency == "USD" and usd.total_value_local == Decimal(4500)
    assert [p.instrument.symbol for p in usd.positions] == ["MSFT"]


def test_positions_and_cash_reconcile_with_the_equity_summary_at_ibkr_rates():
    result = parse(sample())
    gbp = snap(result, "U1234567", REPORT_DAY)
    to_gbp = {r.source_ccy: r.rate for r in result.fx_rates if r.target_ccy == "GBP" and r.asof_ts == gbp.asof_ts}
    to_gbp["GBP"] = Decimal(1)
    held = sum(p.market_value_local * to_gbp[p.instrument.currency] for p in gbp.positions)
    cash = sum(c.amount * to_gbp[c.currency] for c in gbp.cash)
    assert held + cash == gbp.total_value_local


def test_one_snapshot_per_report_date_positions_only_where_given():
    result = parse(sample())
    earlier = snap(result, "U1234567", PREVIOUS_DAY)
    assert earlier.total_value_local == Decimal("21950.10")
    assert earlier.positions == () and earlier.cash == ()
    assert len(result.snapshots) == 3


def test_conversion_rates_are_ibkr_rates_to_the_base_and_unusable_ones_skipped():
    result = parse(sample())
    rates = {(r.source_ccy, r.target_ccy, r.asof_ts.date()): r for r in result.fx_rates}
    usd = rates[("USD", "GBP", REPORT_DAY)]
    assert usd.rate == Decimal("0.8") and usd.provider == "ib_flex"
    assert usd.asof_ts == datetime(2026, 11, 20, 20, 20, tzinfo=NY)
    assert rates[("USD", "GBP", PREVIOUS_DAY)].rate == Decimal("0.7885")
    assert rates[("GBP", "USD", REPORT_DAY)].rate == Decimal("1.25")
    assert not any(r.source_ccy == "RUB" for r in result.fx_rates)  # IBKR wrote rate="-1"
    assert any("RUB" in w for w in result.warnings)


def test_position_fx_rate_to_base_fills_in_when_conversion_rates_are_absent():
    accounts = sample_accounts()
    accounts[0].sections = tuple(s for s in accounts[0].sections if s != "ConversionRates")
    body = statement_xml(accounts, from_date=PREVIOUS_DAY, to_date=REPORT_DAY, generated=GENERATED)
    rates = {(r.source_ccy, r.target_ccy, r.asof_ts.date()): r.rate for r in parse(body).fx_rates}
    assert rates[("USD", "GBP", REPORT_DAY)] == Decimal("0.8")
    assert rates[("EUR", "GBP", REPORT_DAY)] == Decimal("0.85")
    assert ("GBP", "GBP", REPORT_DAY) not in rates


def test_trades_are_executions_with_signed_amounts_and_realised_pnl():
    result = parse(sample())
    trades = {t.broker_trade_id: t for t in result.trades}
    # ids are transactionID first (unique per row); the ORDER and CLOSED_LOT rows restate these executions
    assert set(trades) == {"71001", "71002"}
    buy, sale = trades["71001"], trades["71002"]
    assert buy.broker_account_id == "U1234567" and buy.currency == "USD"
    assert (buy.quantity, buy.price_local, buy.amount_local, buy.commission) == (
        Decimal(10), Decimal("189.5"), Decimal(-1895), Decimal(-1)
    )
    assert buy.trade_ts == datetime(2026, 11, 20, 10, 31, 2, tzinfo=NY)
    assert (sale.quantity, sale.amount_local, sale.realized_pnl) == (Decimal(-5), Decimal(1105), Decimal(105))
    assert sale.description == "SELL"
    # The trade reuses what the position row said about the instrument (name, CUSIP, FIGI).
    assert buy.instrument.name == "APPLE INC" and buy.instrument.figi == "BBG000B9XRY4"


def test_a_trades_stamp_duty_is_kept_in_major_units():
    accounts = sample_accounts()
    accounts[0].trades.append(FlexTrade("1003", "128854", "VUSA", "GBP", "100", "80.5", "-8050", "-3", "0",
                                        datetime(2026, 11, 20, 9, 0, 0), "BUY", isin="IE00B3XXRP09",
                                        taxes="-40.25"))
    body = statement_xml(accounts, from_date=PREVIOUS_DAY, to_date=REPORT_DAY, generated=GENERATED)
    trades = {t.broker_trade_id: t for t in parse(body).trades}
    assert trades["71003"].taxes == Decimal("-40.25")  # an allowable cost for capital gains (IBKR signs it)
    assert trades["71001"].taxes is None  # IBKR left it empty


@pytest.mark.parametrize("fmt", ["yyyy-MM-dd", "MM/dd/yyyy", "dd/MM/yyyy", "dd-MMM-yy"])
def test_every_documented_date_format_reads_the_same(fmt):
    assert parse(sample(fmt)) == parse(sample())


def test_slash_dates_that_cannot_be_told_apart_are_refused():
    accounts = [sample_accounts()[1]]
    accounts[0].totals = {date(2026, 3, 4): "4500"}
    accounts[0].rates = [(date(2026, 3, 4), "GBP", "USD", "1.27")]  # 04/03 or 03/04? Nothing tells.
    body = statement_xml(accounts, from_date=date(2026, 3, 4), to_date=date(2026, 3, 4),
                         generated=datetime(2026, 3, 5, 4, 0), date_format="dd/MM/yyyy")
    with pytest.raises(ParsingError, match="MM/dd or dd/MM") as info:
        parse(body)
    assert "yyyy-MM-dd" in (info.value.hint or "")


def test_an_attribute_ibkr_added_recently_is_logged_not_fatal(caplog):
    accounts = sample_accounts()
    accounts[0].positions[0].extra["brandNewField2026"] = "X"
    body = statement_xml(accounts, from_date=PREVIOUS_DAY, to_date=REPORT_DAY, generated=GENERATED)
    with caplog.at_level(logging.INFO, logger="portfolio_dashboard.brokers.ib_flex_statement"):
        result = parse(body)
    assert len(snap(result, "U1234567", REPORT_DAY).positions) == 3
    assert "OpenPosition.brandNewField2026" in caplog.text
    assert "OpenPosition.markPrice" not in caplog.text


def test_unknown_section_is_logged(caplog):
    body = sample().replace(b"<ConversionRates>", b"<QuantumLedger><Entry a='1'/></QuantumLedger><ConversionRates>", 1)
    with caplog.at_level(logging.INFO, logger="portfolio_dashboard.brokers.ib_flex_statement"):
        parse(body)
    assert "FlexStatement/QuantumLedger" in caplog.text


def test_status_responses_are_skipped_and_the_statement_used():
    result = IbFlexSource("t", "1").parse([raw(status_xml("1019", status="Warn")), raw(sample())])
    assert len(result.snapshots) == 3


def test_without_a_statement_parse_says_so():
    with pytest.raises(ParsingError, match="no Flex statement"):
        parse(status_xml("1019", status="Warn"))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (sample()[:-40], "well-formed"),
        (b"ClientAccountID,Symbol\nU1,AAPL\n", "well-formed"),
        (b"<html><body>Maintenance</body></html>", "unexpected XML root"),
        (b"", "empty"),
    ],
)
def test_bodies_that_are_not_a_statement_raise_parsing_error(body, match):
    with pytest.raises(ParsingError, match=match) as info:
        parse(body)
    assert info.value.endpoint == ENDPOINT


def test_entity_expansion_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><FlexQueryResponse>&b;</FlexQueryResponse>'
    with pytest.raises(ParsingError):
        parse(bomb)


def test_a_position_without_its_mark_price_fails_the_statement_naming_the_attribute():
    body = sample().replace(b' markPrice="', b' markPriceX="', 1)
    with pytest.raises(ParsingError, match=r"OpenPosition\.markPrice: missing"):
        parse(body)


def test_a_position_without_its_value_is_valued_at_quantity_times_price():
    body = sample().replace(b' positionValue="9500"', b"", 1)
    result = parse(body)
    values = {p.instrument.broker_instrument_id: p for s in result.snapshots for p in s.positions}
    assert any(p.market_value_local == p.quantity * p.price_local for p in values.values())


def test_a_malformed_number_is_named():
    body = sample().replace(b'markPrice="190"', b'markPrice="19O"', 1)
    with pytest.raises(ParsingError, match=r"OpenPosition\.markPrice"):
        parse(body)


def test_thousands_separators_and_nulls_are_read():
    body = sample().replace(b'positionValue="8050"', b'positionValue="8,050.00"').replace(
        b'costBasisMoney="7000"', b'costBasisMoney="--"'
    )
    vusa = {p.instrument.symbol: p for p in snap(parse(body), "U1234567", REPORT_DAY).positions}["VUSA"]
    assert vusa.market_value_local == Decimal("8050.00") and vusa.cost_basis is None


def test_unknown_currency_is_a_validation_error():
    body = sample().replace(b'currency="EUR" fxRateToBase="0.85"', b'currency="XYZ" fxRateToBase="0.85"', 1)
    with pytest.raises(ValidationError, match="XYZ"):
        parse(body)


def test_lot_only_positions_are_summed_per_instrument():
    lots = [
        FlexPosition("265598", "AAPL", "APPLE INC", "USD", "30", "190", "5700", "0.8", "4800", "900", level="LOT"),
        FlexPosition("265598", "AAPL", "APPLE INC", "USD", "20", "190", "3800", "0.8", "3200", "600", level="LOT"),
    ]
    acct = FlexAccount("U1", "GBP", "", {REPORT_DAY: "7505"}, positions=lots)
    result = parse(statement_xml([acct], from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED))
    [position] = result.snapshots[0].positions
    assert (position.quantity, position.market_value_local, position.cost_basis) == (
        Decimal(50), Decimal(9500), Decimal(8000)
    )
    assert any("LOT" in w for w in result.warnings)


def test_summary_rows_win_over_lots():
    accounts = sample_accounts()
    accounts[1].positions.append(
        FlexPosition("272093", "MSFT", "MICROSOFT CORP", "USD", "10", "400", "4000", "1", level="LOT")
    )
    body = statement_xml(accounts, from_date=PREVIOUS_DAY, to_date=REPORT_DAY, generated=GENERATED)
    [msft] = snap(parse(body), "U7654321", REPORT_DAY).positions
    assert msft.quantity == Decimal(10)


def test_a_statement_generated_before_the_cutoff_is_dated_when_generated():
    accounts = [sample_accounts()[1]]
    early = datetime(2026, 11, 20, 14, 5, 0)
    body = statement_xml(accounts, from_date=REPORT_DAY, to_date=REPORT_DAY, generated=early)
    [only] = parse(body).snapshots
    assert only.asof_ts == early.replace(tzinfo=NY) and only.asof_source == "flex-when-generated"


def test_missing_sections_are_warned_about():
    accounts = [sample_accounts()[1]]
    accounts[0].sections = ("AccountInformation", "EquitySummaryInBase")
    result = parse(statement_xml(accounts, from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED))
    assert any("OpenPositions" in w for w in result.warnings)
    assert any("CashReport" in w for w in result.warnings)


def test_base_currency_falls_back_to_the_equity_summary():
    accounts = [sample_accounts()[1]]
    accounts[0].sections = ("EquitySummaryInBase", "OpenPositions", "CashReport")
    [only] = parse(statement_xml(accounts, from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED)).snapshots
    assert only.account.base_currency == "USD" and only.account.name == "IBKR U7654321"


def test_a_missing_base_currency_is_deduced_from_rows_at_par_with_the_base():
    accounts = [sample_accounts()[1]]
    accounts[0].sections = ("OpenPositions",)  # MSFT in USD has fxRateToBase="1"
    [only] = parse(statement_xml(accounts, from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED)).snapshots
    assert only.account.base_currency == "USD"


def test_no_base_currency_anywhere_is_a_parsing_error():
    accounts = [sample_accounts()[1]]
    accounts[0].sections = ("OpenPositions",)
    accounts[0].positions[0].fx_to_base = "0.8"
    with pytest.raises(ParsingError, match="base currency"):
        parse(statement_xml(accounts, from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED))


def test_pence_quoted_lines_are_converted_to_pounds():
    acct = FlexAccount("U1", "GBP", "", {REPORT_DAY: "1234.5"}, positions=[
        FlexPosition("999", "VOD", "VODAFONE", "GBX", "1000", "123.45", "123450", "0.01", exchange="LSE"),
    ])
    result = parse(statement_xml([acct], from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED))
    [vod] = result.snapshots[0].positions
    assert vod.instrument.currency == "GBP"
    assert (vod.price_local, vod.market_value_local) == (Decimal("1.2345"), Decimal("1234.5"))


def test_reparsing_the_same_raw_gives_the_same_result():
    assert parse(sample()) == parse(sample())


_ATTRS = re.compile(rb'(\w+)="([^"]*)"')


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_attribute_value_gives_a_result_or_a_parsing_or_validation_error(data):
    body = sample()
    spots = list(_ATTRS.finditer(body))
    for _ in range(data.draw(st.integers(1, 5))):
        m = data.draw(st.sampled_from(spots))
        value = data.draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"&<'),
                                  max_size=12) | st.sampled_from(["-1", "1E+99999", "20261340", "13/13/26", "GBX"]))
        body = body.replace(m.group(0), m.group(1) + b'="' + value.encode() + b'"', 1)
    with contextlib.suppress(ParsingError, ValidationError):  # anything else escaping is the failure
        parse_flex([raw(body)])
