"""The exact record, stored (issue 16): every broker row kept with its status, each run's coverage account, the
reconciliation residual with the broker's own components, currency conversions as cash-flow legs, and a
reprocess that applies all of it to old captures — through the real capture against the fake Flex service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.domain import RunStatus, TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.reprocess import Selection, reprocess
from tests.fakes.ib_flex import FakeFlex
from tests.integration.test_capture_ib_flex import QUERY, TOKEN, flex_source, use_ecb

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "flex"

# A GBP account whose broker total includes 12.50 of dividends accrued but not yet paid: positions 9,000 +
# cash 1,100 + accruals 12.50 = 10,112.50 exactly.
ACCRUALS = """<?xml version="1.0" encoding="UTF-8"?>
<FlexQueryResponse queryName="accruals" type="AF">
<FlexStatements count="1">
<FlexStatement accountId="U9000010" fromDate="20250612" toDate="20250612" period="LastBusinessDay"
 whenGenerated="20250613;010203">
<AccountInformation accountId="U9000010" currency="GBP" />
<EquitySummaryInBase>
<EquitySummaryByReportDateInBase accountId="U9000010" currency="GBP" reportDate="20250612" total="10112.5"
 {accruals} />
</EquitySummaryInBase>
<OpenPositions>
<OpenPosition accountId="U9000010" currency="GBP" fxRateToBase="1" assetCategory="STK" symbol="VWRL"
 conid="100004" multiplier="1" reportDate="20250612" position="100" markPrice="90" positionValue="9000"
 levelOfDetail="SUMMARY" />
</OpenPositions>
<CashReport>
<CashReportCurrency accountId="U9000010" currency="GBP" levelOfDetail="Currency" toDate="20250612"
 endingCash="1100" />
</CashReport>
</FlexStatement>
</FlexStatements>
</FlexQueryResponse>
"""


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.fixture
def flex() -> Iterator[FakeFlex]:
    with FakeFlex(token=TOKEN, query_id=QUERY, statement=corpus("cancel_correct.xml")) as fake:
        yield fake


def run(app: App, flex: FakeFlex) -> Any:
    return capture(TriggerContext(sources=("ib_flex",)), app=app, sources={"ib_flex": flex_source(flex)})


def rows(app: App, sql: str, **params: Any) -> list[Any]:
    with app.engine.connect() as conn:
        return list(conn.execute(text(sql), params).mappings().all())


def stored_of(outcome: Any) -> dict[str, tuple[int, int]]:
    return {line["table"]: (line["stored"], line["already_stored"]) for line in outcome.stored}


def test_cancelled_and_corrected_rows_net_to_what_happened_and_a_rerun_stores_nothing(app: App, flex: FakeFlex) -> None:
    use_ecb(app, None)
    result = run(app, flex)
    assert result.status == RunStatus.SUCCESS, result.error_summary
    trades = {r["broker_trade_id"]: r for r in rows(app, "SELECT * FROM trades")}
    assert {k: r["status"] for k, r in trades.items()} == {
        "9001": "executed", "9002": "cancelled", "9003": "corrected"}
    # the ledger nets to what happened: one purchase of 1,145.93 (not -2.65, not three purchases)
    assert sum(r["amount_local"] for r in trades.values()) == Decimal("-1145.93")
    assert sum(r["quantity"] for r in trades.values()) == 10

    # the coverage account is stored with the run: the parser's rows and storage's side
    [outcome] = result.sources
    coverage = rows(app, "SELECT coverage FROM snapshot_runs WHERE run_id = :r", r=result.run_id)[0]["coverage"]
    lines = {(line["section"], line["kind"]): line for line in coverage["ib_flex"]["lines"]}
    assert lines[("Trades", "trade")]["seen"] == lines[("Trades", "trade")]["parsed"] == 3
    assert all(line["seen"] == line["parsed"] + line["skipped"] for line in lines.values())
    assert stored_of(outcome)["trades"] == (3, 0)
    assert coverage["ib_flex"]["stored"] == outcome.stored

    again = run(app, flex)
    assert again.status == RunStatus.SUCCESS
    [second] = again.sources
    assert stored_of(second)["trades"] == (0, 3)  # already stored: an idempotent re-capture
    assert stored_of(second)["snapshots"][0] == 0
    assert len(rows(app, "SELECT * FROM trades")) == 3


def test_segment_accounts_of_a_consolidated_statement_each_keep_their_rows(app: App, flex: FakeFlex) -> None:
    use_ecb(app, None)
    flex.statement = corpus("consolidated_uk_segments.xml")
    result = run(app, flex)
    assert result.status == RunStatus.SUCCESS, result.error_summary
    assert sorted(result.sources[0].accounts) == ["U9000004", "U9000004F"]
    trades = {r["broker_trade_id"]: r["broker_account_id"] for r in rows(app, "SELECT * FROM trades")}
    assert trades == {"8101": "U9000004", "8102": "U9000004F"}
    cash = rows(app, """SELECT s.broker_account_id, p.quantity FROM positions p
                        JOIN snapshots s ON s.id = p.snapshot_id JOIN instruments i ON i.id = p.instrument_id
                        WHERE i.broker_instrument_id = 'CASH.USD'""")
    assert [(r["broker_account_id"], r["quantity"]) for r in cash] == [("U9000004F", Decimal("57.51"))]


def test_currency_conversions_are_stored_as_one_cash_flow_per_leg(app: App, flex: FakeFlex) -> None:
    use_ecb(app, None)
    flex.statement = corpus("autofx_no_ids.xml")
    result = run(app, flex)
    assert result.status == RunStatus.SUCCESS, result.error_summary
    legs = rows(app, "SELECT * FROM cash_flows WHERE kind = 'fx_conversion' ORDER BY broker_flow_id")
    assert len(legs) == 4
    assert all(leg["broker_flow_id"].endswith((":in", ":out")) for leg in legs)
    by_pair: dict[str, dict[str, Decimal]] = {}
    for leg in legs:
        by_pair.setdefault(leg["broker_flow_id"].rsplit(":", 1)[0], {})[leg["currency"]] = leg["amount_local"]
    # USD.CHF bought 2,000 USD for 1,625 CHF: CHF leaves, USD arrives
    assert {"CHF": Decimal(-1625), "USD": Decimal(2000)} in by_pair.values()
    assert all(sum(1 for a in pair.values() if a < 0) == 1 for pair in by_pair.values())
    # a conversion is never a trade of an instrument
    assert [r["broker_trade_id"] for r in rows(app, "SELECT broker_trade_id FROM trades")] == [
        "ibExecID:0000f1a2.684a0002.01.01"]
    assert stored_of(result.sources[0])["fx conversion legs (cash_flows)"] == (4, 0)
    assert stored_of(run(app, flex).sources[0])["fx conversion legs (cash_flows)"] == (0, 4)


@pytest.mark.parametrize(("accruals", "residual", "warned"), [
    ('dividendAccruals="12.5"', Decimal(0), False),
    ("", Decimal("-12.5"), True),  # without the broker's component the 0.1% tolerance catches the gap
])
def test_reconciliation_uses_the_brokers_accruals_and_stores_the_residual(
        app: App, flex: FakeFlex, accruals: str, residual: Decimal, warned: bool) -> None:
    use_ecb(app, None)
    flex.statement = ACCRUALS.format(accruals=accruals).encode()
    result = run(app, flex)
    assert result.status == RunStatus.SUCCESS, result.error_summary
    [snap] = rows(app, "SELECT * FROM snapshots")
    assert snap["reconcile_residual_gbp"] == residual
    assert snap["reconcile_residual_pct"] == pytest.approx(residual / Decimal("10112.5") * 100)
    assert snap["reconcile_components"] == ({"accrued_dividends": "12.5"} if accruals else {})
    assert any("do not match" in w and "tolerance 0.1%" in w for w in result.warnings) is warned


def test_reprocess_applies_the_fixes_to_an_old_capture_and_a_second_changes_nothing(
        app: App, flex: FakeFlex) -> None:
    """A capture stored by an older parser (segment account, statuses, cash and conversions lost) comes back
    whole from its raw payloads."""
    use_ecb(app, None)
    flex.statement = corpus("consolidated_uk_segments.xml")
    assert run(app, flex).status == RunStatus.SUCCESS
    full = {t: rows(app, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("snapshots", "positions", "trades")}
    with app.engine.begin() as conn:  # what the old parser (ib-flex-1) had stored of the same payloads
        conn.execute(text("UPDATE raw_payloads SET parser_version = 'ib-flex-1'"))
        conn.execute(text("DELETE FROM trades WHERE broker_account_id = 'U9000004F'"))
        conn.execute(text("""DELETE FROM positions p USING instruments i
                             WHERE p.instrument_id = i.id AND i.broker_instrument_id LIKE 'CASH.%'"""))
        conn.execute(text("DELETE FROM positions p USING snapshots s WHERE p.snapshot_id = s.id "
                          "AND s.broker_account_id = 'U9000004F'"))
        conn.execute(text("DELETE FROM snapshots WHERE broker_account_id = 'U9000004F'"))
        conn.execute(text("UPDATE snapshots SET reconcile_residual_gbp = NULL, reconcile_components = '{}'"))
        conn.execute(text("UPDATE snapshot_runs SET coverage = '{}'"))  # the old capture had no account
    app.source_factory = lambda name, settings: flex_source(flex)
    first = reprocess(app, Selection(all=True))
    assert not first.failures, first.failures
    assert first.changed
    after = {t: rows(app, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("snapshots", "positions", "trades")}
    assert after == full
    assert {r["broker_account_id"] for r in rows(app, "SELECT broker_account_id FROM trades")} == {
        "U9000004", "U9000004F"}
    assert all(r["reconcile_residual_gbp"] is not None for r in rows(app, "SELECT * FROM snapshots"))
    [record] = rows(app, "SELECT coverage FROM snapshot_runs")
    assert {line["section"] for line in record["coverage"]["ib_flex"]["lines"]} >= {"OpenPositions", "Trades"}
    second = reprocess(app, Selection(all=True))
    assert not second.changed, second.text()


def test_reprocess_stores_statuses_and_conversions_an_old_parser_lost(app: App, flex: FakeFlex) -> None:
    use_ecb(app, None)
    flex.statement = corpus("cancel_correct.xml")
    assert run(app, flex).status == RunStatus.SUCCESS
    with app.engine.begin() as conn:  # the old parser stored every row as an execution
        conn.execute(text("UPDATE trades SET status = 'executed'"))
        conn.execute(text("UPDATE raw_payloads SET parser_version = 'ib-flex-1'"))
    app.source_factory = lambda name, settings: flex_source(flex)
    assert reprocess(app, Selection(all=True)).trades_updated == 2
    statuses = sorted(r["status"] for r in rows(app, "SELECT status FROM trades"))
    assert statuses == ["cancelled", "corrected", "executed"]
    assert not reprocess(app, Selection(all=True)).changed


def test_the_run_record_and_outcome_round_trip_as_json(app: App, flex: FakeFlex) -> None:
    use_ecb(app, None)
    result = run(app, flex)
    [record] = rows(app, "SELECT outcome, coverage FROM snapshot_runs WHERE run_id = :r", r=result.run_id)
    [outcome] = record["outcome"]
    assert outcome["coverage"] == record["coverage"]["ib_flex"]["lines"]
    json.dumps(record["coverage"])  # plain JSON: the Runs page and the CLI read it as is
