"""IB Flex statements in the shapes real queries produce (tests/corpus/flex): one test per class of shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.domain import AssetClass, ParseResult, RawResponse, TradeStatus
from portfolio_dashboard.errors import ParsingError, ValidationError
from tests.corpus import ROOT, load

NY = ZoneInfo("America/New_York")


def parse(name: str, **kw: object) -> ParseResult:
    return parse_flex(load(ROOT / "flex" / name), **kw)  # type: ignore[arg-type]


def body_raw(body: bytes) -> RawResponse:
    return RawResponse("ib_flex", "ib", "GET /GetStatement", datetime.now(UTC), 200, body, "text/xml")


# --- 1. date-times with a zone ---------------------------------------------------------------------------------
def test_a_time_with_a_us_zone_abbreviation_is_read_in_that_zone() -> None:
    [trade] = parse("tz_edt_semicolon.xml").trades
    assert trade.trade_ts == datetime(2025, 6, 12, 10, 42, 35, tzinfo=NY)
    assert trade.trade_ts.utcoffset() == timedelta(hours=-4)


def test_an_australian_zone_and_iso_dates_with_a_space_separator() -> None:
    result = parse("aest_iso_space.xml")
    [trade] = result.trades
    assert trade.trade_ts.astimezone(UTC) == datetime(2025, 5, 22, 0, 41, 57, tzinfo=UTC)


def test_dd_mmm_yy_dates_with_a_comma_and_bst() -> None:
    result = parse("two_statements_dmy_named.xml")
    [trade] = result.trades
    assert trade.trade_ts.astimezone(UTC) == datetime(2025, 6, 12, 13, 5, 9, tzinfo=UTC)


def test_times_without_a_zone_use_the_statement_zone_which_a_setting_overrides() -> None:
    default = {t.broker_trade_id: t.trade_ts for t in parse("cancel_correct.xml").trades}
    london = {t.broker_trade_id: t.trade_ts for t in parse("cancel_correct.xml", zone=ZoneInfo("Europe/London")).trades}
    assert default["9001"] == datetime(2025, 6, 10, 9, 35, 12, tzinfo=NY)
    assert london["9001"] == datetime(2025, 6, 10, 9, 35, 12, tzinfo=ZoneInfo("Europe/London"))
    assert default["9001"] - london["9001"] == timedelta(hours=5)


def test_a_numeric_offset_is_honoured() -> None:
    body = (
        (ROOT / "flex" / "tz_edt_semicolon.xml").read_bytes().replace(b"20250612;104235 EDT", b"20250612;104235-0500")
    )
    [trade] = parse_flex([body_raw(body)]).trades
    assert trade.trade_ts.utcoffset() == timedelta(hours=-5)
    assert trade.trade_ts.tzinfo == timezone(timedelta(hours=-5))


def test_an_unreadable_time_names_the_time_format_setting() -> None:
    body = (ROOT / "flex" / "tz_edt_semicolon.xml").read_bytes().replace(b"20250612;104235 EDT", b"20250612;10h42")
    with pytest.raises(ParsingError) as info:
        parse_flex([body_raw(body)])
    assert "Time Format" in (info.value.hint or "") and "Date Format" not in (info.value.hint or "")


def test_an_unknown_zone_names_the_time_format_setting() -> None:
    body = (ROOT / "flex" / "tz_edt_semicolon.xml").read_bytes().replace(b"104235 EDT", b"104235 XYZ")
    with pytest.raises(ParsingError, match="unknown time zone") as info:
        parse_flex([body_raw(body)])
    assert "Time Format" in (info.value.hint or "")


def test_an_unreadable_date_names_the_date_format_setting() -> None:
    body = (ROOT / "flex" / "tz_edt_semicolon.xml").read_bytes().replace(b"20250612;104235 EDT", b"2025.06.12;104235")
    with pytest.raises(ParsingError) as info:
        parse_flex([body_raw(body)])
    assert "Date Format" in (info.value.hint or "")


# --- 2. cancelled and corrected trades ---------------------------------------------------------------------
def test_cancellation_and_correction_rows_are_kept_with_status_and_the_ledger_nets_to_what_happened() -> None:
    trades = {t.broker_trade_id: t for t in parse("cancel_correct.xml").trades}
    assert {k: t.status for k, t in trades.items()} == {
        "9001": TradeStatus.EXECUTED,
        "9002": TradeStatus.CANCELLED,
        "9003": TradeStatus.CORRECTED,
    }
    assert sum(t.amount_local for t in trades.values()) == Decimal("-1145.93")
    assert sum(t.quantity for t in trades.values()) == Decimal(10)  # matches the position held


def test_rows_reusing_one_id_without_a_transaction_id_are_all_kept() -> None:
    body = (ROOT / "flex" / "cancel_correct.xml").read_bytes()
    for n in (b"9001", b"9002", b"9003"):
        body = body.replace(b' transactionID="' + n + b'"', b"")
    trades = parse_flex([body_raw(body)]).trades
    assert len({t.broker_trade_id for t in trades}) == 3
    assert sum(t.amount_local for t in trades) == Decimal("-1145.93")
    assert parse_flex([body_raw(body)]).trades == trades  # ids are stable across re-parses


# --- 3. several accounts -------------------------------------------------------------------------------------
def test_rows_of_a_segment_account_are_stored_under_that_account() -> None:
    result = parse("consolidated_uk_segments.xml")
    snaps = {s.account.broker_account_id: s for s in result.snapshots}
    assert set(snaps) == {"U9000004", "U9000004F"}
    segment = snaps["U9000004F"]
    assert [(c.currency, c.amount) for c in segment.cash] == [("USD", Decimal("57.51"))]
    assert segment.total_value_local == Decimal("3057.51")
    assert segment.account.base_currency == "GBP"  # the statement's base
    assert {t.broker_trade_id: t.broker_account_id for t in result.trades} == {
        "8101": "U9000004",
        "8102": "U9000004F",
    }


def test_two_flex_statements_give_two_accounts() -> None:
    result = parse("two_statements_dmy_named.xml")
    assert {s.account.broker_account_id: s.account.base_currency for s in result.snapshots} == {
        "U9000010": "GBP",
        "U9000011": "USD",
    }


# --- 4. cash report variants ---------------------------------------------------------------------------------
def test_a_cash_report_with_only_the_base_summary_is_the_cash_in_the_base_currency() -> None:
    result = parse("cash_base_summary_only.xml")
    [snap] = result.snapshots
    assert [(c.currency, c.amount) for c in snap.cash] == [("EUR", Decimal(1000))]
    assert any("base-currency summary" in w for w in result.warnings)


def test_cash_rows_with_account_dash_belong_to_the_statement_account_and_the_summary_is_not_counted_twice() -> None:
    [snap] = parse("cash_dash_account.xml").snapshots
    assert [(c.currency, c.amount) for c in snap.cash] == [("EUR", Decimal(50)), ("USD", Decimal(555))]
    [acme] = snap.positions
    assert acme.quantity == Decimal(10)  # the SUMMARY row; its LOT rows restate it


# --- 5 and 7. optional ids, currency conversions ------------------------------------------------------------
def test_fx_trades_and_autofx_are_conversions_not_trades_and_a_row_without_ids_gets_a_content_id() -> None:
    result = parse("autofx_no_ids.xml")
    assert [t.instrument.symbol for t in result.trades] == ["ACME"]
    assert all(t.instrument.asset_class is not AssetClass.OTHER for t in result.trades)
    conversions = {c.description: c for c in result.fx_conversions}
    fx = conversions["USD.CHF"]
    assert (fx.from_currency, fx.from_amount, fx.to_currency, fx.to_amount) == (
        "CHF",
        Decimal(1625),
        "USD",
        Decimal(2000),
    )
    assert fx.rate == Decimal("0.8125") and fx.broker_conversion_id == "ibExecID:0000f1a2.684a0001.01.01"
    auto = conversions["AutoFX"]
    assert (auto.from_currency, auto.from_amount, auto.to_currency, auto.to_amount) == (
        "USD",
        Decimal("0.35"),
        "CHF",
        Decimal("0.28"),
    )
    assert auto.broker_conversion_id.startswith("hash:")
    assert any(auto.broker_conversion_id in w for w in result.warnings)
    assert result.snapshots[0].cash  # positions and cash are still stored


# --- 6. missing sections and base currency ----------------------------------------------------------------
def test_a_query_without_any_snapshot_section_is_a_validation_failure_naming_them() -> None:
    with pytest.raises(ValidationError) as info:
        parse_flex(load(ROOT / "flex_invalid" / "trades_only.xml"))
    hint = info.value.hint or ""
    assert "Open Positions" in hint and "Cash Report" in hint and "NAV" in hint


def test_the_base_currency_is_deduced_from_rows_at_par_when_account_information_is_missing() -> None:
    [snap] = parse("no_account_information.xml").snapshots
    assert snap.account.base_currency == "GBP"


def test_a_present_but_empty_equity_summary_is_a_warning() -> None:
    result = parse("two_statements_dmy_named.xml")
    assert any("U9000011" in w and "present but empty" in w for w in result.warnings)


# --- 8. multipliers --------------------------------------------------------------------------------------------
def test_an_option_price_is_per_unit_of_the_underlying_with_the_multiplier_stored() -> None:
    result = parse("options_multiplier.xml")
    [option] = result.snapshots[0].positions
    assert option.instrument.multiplier == Decimal(100) and option.multiplier == Decimal(100)
    assert option.market_value_local == option.quantity * option.price_local * option.instrument.multiplier
    [trade] = result.trades
    assert trade.multiplier == Decimal(100)
    assert -trade.amount_local == trade.quantity * trade.price_local * trade.multiplier


# --- 11. safety -------------------------------------------------------------------------------------------------
def test_an_asof_in_the_future_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="future"):
        parse_flex(load(ROOT / "flex_invalid" / "future_asof.xml"))


def test_an_asof_within_the_clock_skew_is_accepted() -> None:
    raws = load(ROOT / "flex" / "tz_edt_semicolon.xml")
    asof = datetime(2025, 6, 12, 20, 20, tzinfo=NY)
    assert parse_flex(raws, now=asof - timedelta(minutes=4)).snapshots
    with pytest.raises(ValidationError):
        parse_flex(raws, now=asof - timedelta(minutes=6))


def test_pathologically_deep_xml_is_a_parsing_error() -> None:
    body = b"<FlexQueryResponse>" + b"<a>" * 200_000 + b"</a>" * 200_000 + b"</FlexQueryResponse>"
    with pytest.raises(ParsingError):
        parse_flex([body_raw(body)])


# --- 12/13. coverage and reconciliation inputs --------------------------------------------------------------
def test_equity_summary_accruals_are_carried_on_the_snapshot() -> None:
    [snap] = parse("tz_edt_semicolon.xml").snapshots
    assert (snap.accrued_dividends_local, snap.accrued_interest_local) == (Decimal("12.5"), Decimal("1.43"))


def test_coverage_counts_each_section_and_kind() -> None:
    lines = {(c.section, c.kind): c for c in parse("autofx_no_ids.xml").coverage}
    assert (lines[("Trades", "fx_conversion")].seen, lines[("Trades", "fx_conversion")].parsed) == (2, 2)
    assert (lines[("Trades", "trade")].seen, lines[("Trades", "trade")].parsed) == (1, 1)
    assert lines[("CashReport", "CashReportCurrency")].seen == 2


def test_a_statement_without_its_own_account_id_takes_the_one_its_rows_name() -> None:
    body = (ROOT / "flex" / "cash_base_summary_only.xml").read_bytes()
    body = body.replace(b'<FlexStatement accountId="U9000005"', b'<FlexStatement accountId="-"')
    [snap] = parse_flex([body_raw(body)]).snapshots
    assert snap.account.broker_account_id == "U9000005"


def test_a_statement_without_an_account_id_whose_rows_name_several_fails() -> None:
    body = (ROOT / "flex" / "consolidated_uk_segments.xml").read_bytes()
    body = body.replace(b'<FlexStatement accountId="U9000004"', b'<FlexStatement accountId="-"')
    with pytest.raises(ParsingError, match="2 accounts"):
        parse_flex([body_raw(body)])
