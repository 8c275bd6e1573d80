"""Schwab and Client Portal gateway captures in real shapes (tests/corpus), plus the shared safety checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from portfolio_dashboard.brokers.ib_gateway_parse import parse_responses as parse_gateway
from portfolio_dashboard.brokers.safety import MAX_CLOCK_SKEW, reject_future
from portfolio_dashboard.brokers.schwab_parse import parse_responses as parse_schwab
from portfolio_dashboard.domain import Account, AccountSnapshot, RawResponse
from portfolio_dashboard.errors import ParsingError, ValidationError, scrub_secrets
from tests.corpus import ROOT, load

SCHWAB = ROOT / "schwab" / "options_identity_accruals.json"


def test_schwab_trades_and_holdings_share_one_instrument_id_held_or_not() -> None:
    result = parse_schwab(load(SCHWAB))
    held = {p.instrument.symbol: p.instrument for p in result.snapshots[0].positions}
    trades = {t.broker_trade_id: t for t in result.trades}
    assert trades["90000001"].instrument.key == held["AAPL"].key == ("schwab", "AAPL")
    assert trades["90000001"].instrument.cusip == "037833100"  # filled in from the holding
    assert trades["90000002"].instrument.key == ("schwab", "NVDA")  # sold out: same id it had while held


def test_schwab_option_codes_are_not_stored_as_cusips() -> None:
    result = parse_schwab(load(SCHWAB))
    [option] = [p for p in result.snapshots[0].positions if p.instrument.broker_asset_class == "OPTION"]
    assert option.instrument.cusip is None and option.instrument.isin is None
    assert "0ERIC" not in option.instrument.broker_instrument_id
    [trade] = [t for t in result.trades if t.instrument.broker_asset_class == "OPTION"]
    assert trade.instrument.cusip is None and trade.instrument.key == option.instrument.key


def test_schwab_option_prices_are_per_share_with_the_multiplier_stored() -> None:
    result = parse_schwab(load(SCHWAB))
    [option] = [p for p in result.snapshots[0].positions if p.instrument.broker_asset_class == "OPTION"]
    assert option.instrument.multiplier == Decimal(100)
    assert option.price_local == Decimal("1.5")
    assert option.quantity * option.price_local * option.multiplier == option.market_value_local
    assert option.cost_basis == Decimal(240)  # averagePrice 1.2 per share x 2 contracts x 100
    [trade] = [t for t in result.trades if t.instrument.broker_asset_class == "OPTION"]
    assert trade.price_local == Decimal("1.2") and trade.multiplier == Decimal(100)


def test_schwab_accrued_interest_is_a_reconciliation_input() -> None:
    [snap] = parse_schwab(load(SCHWAB)).snapshots
    assert snap.accrued_interest_local == Decimal("4.25")
    held = sum(p.market_value_local for p in snap.all_positions())
    assert held + snap.accrued_interest_local == snap.total_value_local


def test_schwab_pending_trades_are_skipped_with_a_reason_and_a_warning() -> None:
    result = parse_schwab(load(SCHWAB))
    [line] = [c for c in result.coverage if c.section == "transactions"]
    assert (line.seen, line.parsed, line.skipped) == (5, 3, 2)
    assert any("PENDING" in w for w in result.warnings)
    assert not any("DIVIDEND" in w for w in result.warnings)  # a cash flow, read elsewhere: no loss


def test_gateway_without_summary_is_captured_from_the_ledger_with_a_warning() -> None:
    result = parse_gateway(load(ROOT / "ib_gateway" / "ledger_without_summary.json"))
    [snap] = result.snapshots
    assert snap.total_value_local == Decimal("2500.0")
    assert snap.asof_ts == datetime.fromtimestamp(1749758400, UTC)
    assert snap.asof_source == "ledger.timestamp"
    assert (snap.accrued_dividends_local, snap.accrued_interest_local) == (Decimal("3.5"), Decimal("0.25"))
    assert any("no /summary" in w for w in result.warnings)


def test_gateway_empty_positions_while_totals_hold_securities_is_a_validation_failure() -> None:
    with pytest.raises(ValidationError, match="positions pages are empty"):
        parse_gateway(load(ROOT / "ib_gateway_invalid" / "empty_positions_but_holdings.json"))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 200_000 + b"1" + b"}" * 200_000,
        b'[{"securitiesAccount": {"accountNumber": "1", "currentBalances": {"cashBalance": 1e999999}}}]',
        b'[{"securitiesAccount": {"accountNumber": "1", "currentBalances": {"cashBalance": NaN}}}]',
    ],
    ids=["deep-list", "deep-object", "huge-number", "nan"],
)
@pytest.mark.parametrize("source", ["schwab", "ib_gateway"])
def test_pathological_json_is_a_parsing_error_for_every_source(source: str, body: bytes) -> None:
    endpoint = "GET /trader/v1/accounts?fields=positions" if source == "schwab" else "GET /v1/api/portfolio/accounts"
    raw = RawResponse(source, "x", endpoint, datetime.now(UTC), 200, body, "application/json", {})
    parse = parse_schwab if source == "schwab" else parse_gateway
    with pytest.raises(ParsingError):
        parse([raw])


def test_reject_future_allows_the_clock_skew_and_no_more() -> None:
    now = datetime(2025, 6, 12, 12, tzinfo=UTC)

    def snap(at: datetime) -> AccountSnapshot:
        return AccountSnapshot(Account("ib", "U1", "U1", "USD"), at, "test", ())

    reject_future([snap(now + MAX_CLOCK_SKEW)], now, source="ib_flex")
    with pytest.raises(ValidationError, match="future"):
        reject_future([snap(now + MAX_CLOCK_SKEW + timedelta(seconds=1))], now, source="ib_flex")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"access_token":"eyJ0eXAi.abc.def","token_type":"Bearer"}', "eyJ0eXAi.abc.def"),
        ('{"error":"invalid_grant","refresh_token": "RT-123456"}', "RT-123456"),
        ("Authorization: Bearer AbC.dEf-123", "AbC.dEf-123"),
        ("grant_type=authorization_code&code=C0.b2F1dGg%40&redirect_uri=https://127.0.0.1", "C0.b2F1dGg%40"),
        ("client_id=app&client_secret=s3cr3t-VALUE", "s3cr3t-VALUE"),
        ("<FlexStatementResponse><token>123456789012</token></FlexStatementResponse>", "123456789012"),
        ("GetStatement?t=987654321098&q=1", "987654321098"),
    ],
)
def test_scrub_secrets_removes_tokens_and_credentials(text: str, secret: str) -> None:
    scrubbed = scrub_secrets(text)
    assert secret not in scrubbed and "***" in scrubbed


def test_scrub_secrets_keeps_ordinary_text() -> None:
    text = "Order rejected: insufficient buying power for AAPL (code 201)"
    assert scrub_secrets(text) == text
