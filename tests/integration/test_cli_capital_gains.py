"""`portfolio-dashboard cgt …` and `import flex` with CliRunner against a real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text
from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.services.demo_history import seed
from tests.fakes.flex_statement import sample

DISPOSAL_KEYS = {"date", "symbol", "isin", "quantity", "proceeds_gbp", "cost_gbp", "gain_gbp", "matches"}
TOTAL_KEYS = {"disposals", "proceeds_gbp", "allowable_costs_gbp", "gains_gbp", "losses_gbp", "net_gain_gbp",
              "annual_exempt_amount_gbp", "losses_brought_forward_gbp", "taxable_gain_gbp"}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def cgt_json(*args: str) -> dict:
    result = invoke("cgt", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cgt_on_the_demo_history(app):
    seed(app, 3, end=datetime(2026, 11, 2, tzinfo=UTC))
    doc = cgt_json("--tax-year", "2024-25")
    assert doc["tax_year"] == "2024-25"
    assert doc["complete"] is True, doc["needs_review"]
    assert {d["symbol"] for d in doc["disposals"]} == {"MSFT", "NVDA", "AAPL", "BND"}
    for disposal in doc["disposals"]:
        assert set(disposal) >= DISPOSAL_KEYS
        assert Decimal(disposal["proceeds_gbp"]) - Decimal(disposal["cost_gbp"]) == Decimal(disposal["gain_gbp"])
    aapl = next(d for d in doc["disposals"] if d["symbol"] == "AAPL")
    # The bed and breakfast: 20 of the 40 sold on 15 Jan 2025 are the shares bought back on 5 Feb
    assert [(m["rule"], m["quantity"], m["acquired"]) for m in aapl["matches"]] == [
        ("30-day", "20", "2025-02-05"), ("s104", "20", None)]
    assert aapl["trades"][0]["raw_payload_hash"]
    assert set(doc["totals"]) >= TOTAL_KEYS
    totals = doc["totals"]
    assert Decimal(totals["proceeds_gbp"]) - Decimal(totals["allowable_costs_gbp"]) == Decimal(
        totals["gains_gbp"]) - Decimal(totals["losses_gbp"])
    assert totals["annual_exempt_amount_gbp"] == "3000.00"
    assert "before_2024_10_30" in totals
    assert {p["symbol"]: p["quantity"] for p in doc["pools"]} == {
        "AAPL": "60", "BND": "80", "MSFT": "35", "NVDA": "120", "VOO": "20"}
    assert doc["excluded_sheltered_trades"] == 0
    # the same-day rule in 2025-26: VOO sold and bought on 2 June 2025
    voo = next(d for d in cgt_json("--tax-year", "2025-26")["disposals"] if d["symbol"] == "VOO")
    assert voo["matches"][0]["rule"] == "same-day"

    table = invoke("cgt", "--tax-year", "2024-25").output
    assert "Capital gains, tax year 2024-25 (complete)" in table
    assert "Allowable costs (including purchase price)" in table
    assert "30-day" in table and "Section 104 pools at 5 April (5)" in table


def test_pool_losses_and_whatif_commands(app):
    seed(app, 2, end=datetime(2026, 11, 2, tzinfo=UTC))
    result = invoke("cgt", "losses", "set", "2024-25", "250.50")
    assert result.exit_code == 0 and "stored" in result.output
    assert "unchanged" in invoke("cgt", "losses", "set", "2024-25", "250.50").output
    assert cgt_json("--tax-year", "2024-25")["totals"]["losses_brought_forward_gbp"] == "250.50"

    result = invoke("cgt", "pool", "set", "US9219378356", "--quantity", "0", "--cost", "0", "--as-of", "2020-01-01")
    assert result.exit_code == 0, result.output
    assert "BND" in result.output
    assert invoke("cgt", "pool", "set", "NOPE", "--quantity", "1", "--cost", "1", "--as-of", "2020-01-01"
                  ).exit_code == 1

    result = invoke("cgt", "whatif", "MSFT", "5", "300", "--on", "2026-11-03", "--json")
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.output)
    assert (estimate["tax_year"], estimate["symbol"], estimate["proceeds_gbp"]) == ("2026-27", "MSFT", "1500.00")
    assert [m["rule"] for m in estimate["matches"]] == ["s104"]
    # 5 of the 35-share pool: proceeds less a seventh of the pool's cost
    pool_cost = next(p for p in cgt_json("--tax-year", "2025-26")["pools"] if p["symbol"] == "MSFT")["cost_gbp"]
    expected = Decimal(1500) - Decimal(estimate["matches"][0]["cost_gbp"])
    assert Decimal(estimate["gain_gbp"]) == expected
    assert abs(Decimal(estimate["matches"][0]["cost_gbp"]) - Decimal(pool_cost) / 7) < Decimal("0.01")
    assert "exempt amount left" in invoke("cgt", "whatif", "MSFT", "5", "300", "--on", "2026-11-03").output
    assert invoke("cgt", "--tax-year", "24-25").exit_code == 1


def test_import_flex_stores_a_downloaded_statement_once(app, tmp_path):
    app.reference_factory = lambda settings: None  # never the real ECB
    statement = tmp_path / "U1234567_2026.xml"
    statement.write_bytes(sample())
    result = invoke("import", "flex", str(statement))
    assert result.exit_code == 0, result.output
    with app.engine.connect() as conn:
        runs = conn.execute(text("SELECT trigger_type, triggered_by FROM snapshot_runs")).all()
        counts = conn.execute(text("SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM raw_payloads), "
                                   "(SELECT count(*) FROM snapshots)")).one()
        endpoint = conn.execute(text("SELECT endpoint FROM raw_payloads WHERE source = 'ib_flex'")).scalar()
    assert [tuple(r) for r in runs] == [("import", "import flex U1234567_2026.xml")]
    assert counts[0] == 2 and counts[1] >= 1 and counts[2] >= 1
    assert endpoint == "IMPORT file:U1234567_2026.xml"

    again = invoke("import", "flex", str(statement))
    assert again.exit_code == 0
    assert "already imported" in again.output
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM raw_payloads")).scalar() == counts[1]

    # The imported trades are in the capital gains: the SAP sale has no known cost (incomplete, not zero cost)
    doc = cgt_json("--tax-year", "2026-27")
    [sap] = doc["disposals"]
    assert (sap["symbol"], sap["gain_gbp"], doc["complete"]) == ("SAP", None, False)
    assert any("has no wrapper set" in item["reason"] for item in doc["needs_review"])
    aapl = next(p for p in doc["pools"] if p["symbol"] == "AAPL")
    assert aapl == {"symbol": "AAPL", "isin": "US0378331005", "quantity": "10", "cost_gbp": "1516.80",
                    "complete": True}  # (10 x 189.50 + 1 commission) USD at IBKR's own 0.8


def test_import_flex_refuses_a_file_that_is_not_a_statement(app, tmp_path):
    bad = tmp_path / "notes.xml"
    bad.write_text("<html>hello</html>")
    result = CliRunner().invoke(cli, ["import", "flex", str(bad)])
    assert result.exit_code == 1
    assert "not a Flex statement" in result.output
