"""End to end: ``capture --source ib_flex`` against the fake Flex service and fake ECB feed, on a real
embedded PostgreSQL database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from portfolio_dashboard.bootstrap import SourceReference
from portfolio_dashboard.brokers.ecb import EcbRates
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.ib_flex import IbFlexSource, PollPolicy
from portfolio_dashboard.domain import RunStatus, TriggerContext
from portfolio_dashboard.services.capture import capture
from tests.fakes.ecb import FakeEcb
from tests.fakes.flex_statement import (
    GENERATED,
    REPORT_DAY,
    FlexAccount,
    FlexPosition,
    sample,
    statement_xml,
)
from tests.fakes.ib_flex import FakeFlex

TOKEN = "785212416354837261536281"
QUERY = "987654"
NY = ZoneInfo("America/New_York")
REPORT_ASOF = datetime(2026, 11, 20, 20, 20, tzinfo=NY)
TABLES = ("snapshots", "positions", "trades", "fx_rates", "instruments", "broker_accounts")


def noop(_: float) -> None:
    return None


def flex_source(flex: FakeFlex) -> IbFlexSource:
    return IbFlexSource(
        TOKEN, QUERY, flex.base_url, sleep=noop,
        poll=PollPolicy(first_wait=0.0, initial_wait=0.01, max_wait=0.01, max_total=5.0),
        retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01, max_total=5.0),
    )


def use_ecb(app, url: str | None) -> None:
    """The FX chain's public fallback: the fake ECB feed (never the real one), or none at all."""
    app.reference_factory = lambda settings: None if url is None else SourceReference(
        EcbRates(url, sleep=noop, retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01))
    )


def run(app, flex: FakeFlex):
    return capture(TriggerContext(sources=("ib_flex",)), app=app, sources={"ib_flex": flex_source(flex)})


def rows(app, sql: str, **params):
    with app.engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def counts(app) -> dict[str, int]:
    return {t: rows(app, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}


@pytest.fixture
def flex() -> Iterator[FakeFlex]:
    with FakeFlex(token=TOKEN, query_id=QUERY, statement=sample()) as fake:
        fake.in_progress = 2
        yield fake


def test_capture_stores_positions_cash_totals_rates_and_trades(app, flex):
    use_ecb(app, None)
    result = run(app, flex)
    assert result.status == RunStatus.SUCCESS, result.error_summary
    [outcome] = result.sources
    assert outcome.accounts == ["U1234567", "U7654321"]
    assert (outcome.snapshots_written, outcome.trades_written) == (3, 2)
    assert outcome.retries >= 2  # the two "in progress" answers

    snaps = {(r["broker_account_id"], r["asof_ts"]): r for r in rows(app, "SELECT * FROM snapshots")}
    gbp = snaps[("U1234567", REPORT_ASOF)]
    assert (gbp["source"], gbp["asof_source"], gbp["account_currency"]) == ("ib_flex", "flex-report-date", "GBP")
    # positions + cash at IBKR's own rates reconcile exactly with EquitySummaryInBase
    assert gbp["total_value_local"] == Decimal("22405.25")
    assert gbp["total_value_gbp"] == gbp["reported_total_gbp"] == Decimal("22405.25")
    assert gbp["fx_complete"] is True
    assert not any("do not match" in w for w in gbp["warnings"])
    # the day before: only IBKR's NAV for that report date (a backfill row) — its total, no holdings
    earlier = snaps[("U1234567", datetime(2026, 11, 19, 20, 20, tzinfo=NY))]
    assert earlier["total_value_gbp"] == earlier["reported_total_gbp"] == Decimal("21950.10")
    assert rows(app, "SELECT count(*) AS n FROM positions WHERE snapshot_id = :i", i=earlier["id"])[0]["n"] == 0
    # every snapshot names the statement it was read from (the one FlexQueryResponse, not a status poll)
    read_from = rows(app, """SELECT r.run_id, r.body_text FROM snapshots s JOIN raw_payloads r
                             ON r.id = s.raw_payload_id""")
    assert len(read_from) == len(snaps) and all("<FlexQueryResponse" in r["body_text"] for r in read_from)
    assert {r["run_id"] for r in read_from} == {result.run_id}
    assert not any("do not match" in w for w in result.warnings), result.warnings
    usd = snaps[("U7654321", REPORT_ASOF)]
    assert usd["total_value_local"] == Decimal(4500)
    assert usd["total_value_gbp"] == usd["reported_total_gbp"] == Decimal("3600")

    held = rows(app, """SELECT i.broker_instrument_id, i.symbol, i.isin, i.cusip, i.figi, i.asset_class,
                               p.quantity, p.market_value_local, p.market_value_gbp, f.provider
                        FROM positions p JOIN snapshots s ON s.id = p.snapshot_id
                        JOIN instruments i ON i.id = p.instrument_id LEFT JOIN fx_rates f ON f.id = p.fx_rate_id
                        WHERE s.broker_account_id = 'U1234567' AND s.asof_ts = :at""", at=REPORT_ASOF)
    by_id = {r["broker_instrument_id"]: r for r in held}
    assert set(by_id) == {"265598", "128854", "14204", "CASH.GBP", "CASH.USD", "CASH.EUR"}
    aapl = by_id["265598"]
    assert (aapl["isin"], aapl["cusip"], aapl["figi"]) == ("US0378331005", "037833100", "BBG000B9XRY4")
    assert (aapl["market_value_gbp"], aapl["provider"]) == (Decimal("7600.0"), "ib_flex")
    assert by_id["128854"]["asset_class"] == "etf"
    assert by_id["CASH.EUR"]["market_value_gbp"] == Decimal("-85.00")

    rates = {(r["source_ccy"], r["target_ccy"], r["asof_ts"]): r["rate"]
             for r in rows(app, "SELECT * FROM fx_rates WHERE provider = 'ib_flex'")}
    assert rates[("USD", "GBP", REPORT_ASOF)] == Decimal("0.8")
    assert rates[("GBP", "USD", REPORT_ASOF)] == Decimal("1.25")

    trades = {r["broker_trade_id"]: r for r in rows(app, "SELECT * FROM trades")}
    assert set(trades) == {"71001", "71002"}  # transactionID: unique per broker row
    sale = trades["71002"]
    assert (sale["quantity"], sale["amount_local"], sale["realized_pnl"], sale["currency"]) == (
        Decimal(-5), Decimal(1105), Decimal(105), "EUR"
    )
    assert sale["amount_gbp"] == Decimal("939.25")  # 1105 EUR at IBKR's 0.85

    # the token is nowhere in what was stored
    stored = rows(app, "SELECT endpoint, body_text FROM raw_payloads WHERE source = 'ib_flex'")
    assert len(stored) == 4
    assert all(TOKEN not in r["endpoint"] and TOKEN not in (r["body_text"] or "") for r in stored)


def test_rerunning_stores_nothing_new(app, flex):
    use_ecb(app, None)
    assert run(app, flex).status == RunStatus.SUCCESS
    before = counts(app)
    again = run(app, flex)
    assert again.status == RunStatus.SUCCESS
    [outcome] = again.sources
    assert (outcome.snapshots_written, outcome.snapshots_existing, outcome.trades_written) == (0, 3, 0)
    assert counts(app) == before


def test_the_cli_capture_source_ib_flex(cli_env, flex):
    """The real command a scheduler runs, in its own process, configured only through the environment."""
    with FakeEcb({REPORT_DAY: {"USD": "1.0506", "GBP": "0.83"}}) as ecb:
        env = {**cli_env, "IB_FLEX_TOKEN": TOKEN, "IB_FLEX_QUERY_ID": QUERY, "IB_FLEX_BASE_URL": flex.base_url,
               "ECB_RATES_URL": ecb.daily_url}
        flex.in_progress = 0
        done = subprocess.run(
            [sys.executable, "-m", "portfolio_dashboard", "capture", "--source", "ib_flex", "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
    assert done.returncode == 0, done.stderr
    run_json = json.loads(done.stdout)
    [outcome] = run_json["sources"]
    assert (outcome["source"], outcome["status"], outcome["snapshots_written"]) == ("ib_flex", "success", 3)
    assert TOKEN not in done.stdout and TOKEN not in done.stderr


def test_expired_token_fails_the_run_with_what_to_do(app, flex):
    use_ecb(app, None)
    flex.send_errors.append("1012")
    result = run(app, flex)
    assert result.status == RunStatus.FAIL
    assert "auth" in (result.error_summary or "") and "IB_FLEX_TOKEN" in (result.error_summary or "")
    assert rows(app, "SELECT count(*) AS n FROM raw_payloads")[0]["n"] == 1  # the failure is kept


# --- the ECB fallback -----------------------------------------------------------------------------------------

def usd_only_statement() -> bytes:
    """A USD account with no ConversionRates: IBKR gave nothing to convert its dollars to pounds with."""
    acct = FlexAccount(
        "U5550001", "USD", "Dollars only", {REPORT_DAY: "5000"},
        positions=[FlexPosition("272093", "MSFT", "MICROSOFT CORP", "USD", "10", "400", "4000", "1")],
        cash={"USD": "1000"},
        sections=("AccountInformation", "EquitySummaryInBase", "OpenPositions", "CashReport"),
    )
    return statement_xml([acct], from_date=REPORT_DAY, to_date=REPORT_DAY, generated=GENERATED)


def test_a_usd_only_account_is_converted_at_the_ecb_cross_rate(app, flex):
    flex.statement = usd_only_statement()
    with FakeEcb({REPORT_DAY: {"USD": "1.0506", "GBP": "0.83", "JPY": "162.37"}}) as ecb:
        use_ecb(app, ecb.daily_url)
        result = run(app, flex)
    assert result.status == RunStatus.SUCCESS, result.error_summary
    assert not any("rate" in w for w in result.warnings), result.warnings
    [snap] = rows(app, "SELECT * FROM snapshots")
    usd_gbp = Decimal("0.7900247478")  # 0.83 / 1.0506
    assert snap["fx_complete"] is True
    assert snap["total_value_gbp"] == Decimal(5000) * usd_gbp
    used = rows(app, """SELECT DISTINCT f.source_ccy, f.target_ccy, f.rate, f.provider FROM positions p
                        JOIN fx_rates f ON f.id = p.fx_rate_id""")
    assert [dict(r) for r in used] == [{"source_ccy": "USD", "target_ccy": "GBP", "rate": usd_gbp, "provider": "ecb"}]
    assert rows(app, "SELECT count(*) AS n FROM raw_payloads WHERE source = 'ecb'")[0]["n"] == 1


def test_a_stale_ecb_rate_is_used_with_a_warning(app, flex):
    flex.statement = usd_only_statement()
    with FakeEcb({datetime(2026, 11, 9).date(): {"USD": "1.06", "GBP": "0.848"}}) as ecb:
        use_ecb(app, ecb.daily_url)
        result = run(app, flex)
    assert result.status == RunStatus.SUCCESS
    assert any("USD->GBP" in w and "days from the as-of" in w for w in result.warnings), result.warnings
    [snap] = rows(app, "SELECT * FROM snapshots")
    assert snap["total_value_gbp"] == Decimal(5000) * Decimal("0.8")
    assert any("days from the as-of" in w for w in snap["warnings"])


def test_an_unreachable_ecb_keeps_the_snapshot_without_gbp_values_and_says_why(app, flex):
    flex.statement = usd_only_statement()
    use_ecb(app, "http://127.0.0.1:9/stats/eurofxref/eurofxref-daily.xml")
    result = run(app, flex)
    assert result.status == RunStatus.SUCCESS
    assert any("fx reference rates unavailable" in w and "cannot reach" in w for w in result.warnings)
    assert any("no USD->GBP rate" in w for w in result.warnings)
    [snap] = rows(app, "SELECT * FROM snapshots")
    assert snap["total_value_local"] == Decimal(5000)
    assert snap["total_value_gbp"] is None and snap["fx_complete"] is False
    values = rows(app, "SELECT market_value_local, market_value_gbp FROM positions")
    assert len(values) == 2 and all(v["market_value_gbp"] is None for v in values)
