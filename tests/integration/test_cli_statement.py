"""`portfolio-dashboard statement` for the demo's last complete UK tax year: the PDF renders, its text shows
the CLI's JSON figures, and each table's total is the sum of its printed rows.

Demo history covers the whole tax year (and the day before it, for the opening holdings); a realised trade and
a dividend with tax withheld are added, citing a stored demo response, so every section has rows.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.domain.statement import tax_year_of
from portfolio_dashboard.services.demo_history import seed
from portfolio_dashboard.services.statements import fmt
from tests.unit.test_statement_pdf import gbp_amounts, pdf_text, section

TODAY = date.today()
LAST_TAX_YEAR = tax_year_of(date(TODAY.year - 1, TODAY.month, min(TODAY.day, 28)))


def _first_day() -> date:
    return date(int(LAST_TAX_YEAR[:4]), 4, 6)


@pytest.fixture
def seeded(app):
    app.migrate()
    seed(app, (TODAY - _first_day()).days + 3)
    with app.engine.begin() as conn:
        broker, account, run_id, payload, sha = conn.execute(text(
            """SELECT s.broker, s.broker_account_id, s.run_id, r.id, r.content_sha256 FROM snapshots s
               JOIN raw_payloads r ON r.run_id = s.run_id
               JOIN broker_accounts a ON a.broker = s.broker AND a.broker_account_id = s.broker_account_id
               WHERE a.base_currency = 'USD' LIMIT 1""")).one()
        instrument = conn.execute(text("SELECT id FROM instruments WHERE broker = :b AND currency = 'USD' LIMIT 1"),
                                  {"b": broker}).scalar_one()
        on = datetime(int(LAST_TAX_YEAR[:4]), 9, 15, 15, tzinfo=UTC)
        conn.execute(text(
            """INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity,
                                   price_local, amount_local, amount_gbp, currency, commission, realized_pnl, run_id)
               VALUES (:b, 'T-1', :a, :i, :ts, -10, 150.25, 1502.50, 1126.875, 'USD', -1.00, 302.50, :r)"""),
            {"b": broker, "a": account, "i": instrument, "ts": on, "r": run_id})
        for flow_id, kind, local, gbp in (("D-1", "dividend", "40.00", "30.00"),
                                          ("W-1", "withholding_tax", "-6.00", "-4.50")):
            conn.execute(text(
                """INSERT INTO cash_flows (broker, broker_account_id, broker_flow_id, kind, instrument_id, flow_ts,
                                           currency, amount_local, amount_gbp, raw_payload_id)
                   VALUES (:b, :a, :f, :k, :i, :ts, 'USD', :l, :g, :p)"""),
                {"b": broker, "a": account, "f": flow_id, "k": kind, "i": instrument, "ts": on,
                 "l": Decimal(local), "g": Decimal(gbp), "p": payload})
    return {"sha": sha}


def test_the_pdf_for_the_last_tax_year_shows_the_json_figures_and_sums_its_rows(seeded, tmp_path):
    out = tmp_path / "statement.pdf"
    result = CliRunner().invoke(cli, ["statement", "--tax-year", LAST_TAX_YEAR, "--output", str(out), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["period"]["start"] == _first_day().isoformat()
    assert figures["holdings_start"] > 0 and figures["holdings_end"] > 0
    assert figures["realised_gain_gbp"] == "226.88"  # 302.50 USD at the trade's own 0.75 = 226.875, to the penny
    # the demo's own dividends, withholding and interest of that year, plus the dividend added above
    income = figures["income"]
    assert income["payments"] >= 1 and Decimal(income["gross_gbp"]) >= Decimal("30.00")
    assert Decimal(income["withholding_tax_gbp"]) <= Decimal("-4.50")
    assert Decimal(income["net_gbp"]) == Decimal(income["gross_gbp"]) + Decimal(income["withholding_tax_gbp"])
    assert seeded["sha"] in figures["sources"]
    # the returns over the period and the tax year's capital gains, the same as `returns` and `cgt --json` give
    assert figures["returns"] is not None and (figures["returns"]["twr"] is not None
                                               or figures["returns"]["unavailable"])
    cgt = CliRunner().invoke(cli, ["cgt", "--tax-year", LAST_TAX_YEAR, "--json"], catch_exceptions=False)
    assert figures["capital_gains"]["totals"] == json.loads(cgt.output)["totals"]
    text_ = pdf_text(out.read_bytes())
    for key in ("value_start_gbp", "value_end_gbp", "realised_gain_gbp"):
        assert fmt.money(Decimal(figures[key])) in text_, key
    assert f"Total {income['payments']} {fmt.money(Decimal(income['gross_gbp']))}" in text_
    first, last = date.fromisoformat(figures["period"]["start"]), date.fromisoformat(figures["period"]["end"])
    for start, end, key in ((f"Holdings at {first:%d %B %Y}", f"Holdings at {last:%d %B %Y}", "value_start_gbp"),
                            (f"Holdings at {last:%d %B %Y}", "Flows", "value_end_gbp")):
        lines = section(text_, start, end)
        rows = [line for line in lines if not line.startswith("Total") and gbp_amounts(line)]
        (total_line,) = [line for line in lines if line.startswith("Total")]
        assert sum(gbp_amounts(line)[-1] for line in rows) == gbp_amounts(total_line)[0]
        assert gbp_amounts(total_line)[0] == Decimal(figures[key]).quantize(Decimal("0.01"))


def test_the_csv_bundle_and_a_bad_period(seeded, tmp_path):
    result = CliRunner().invoke(cli, ["statement", "--year", str(TODAY.year - 1), "--format", "csv",
                                      "--output", str(tmp_path / "bundle")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir())
    bad = CliRunner().invoke(cli, ["statement", "--tax-year", "2025-27"])
    assert bad.exit_code == 2
