"""`fx set` stores manual rates that a capture then uses; `fx list` shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text
from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli_app
from portfolio_dashboard.domain import ParseResult
from portfolio_dashboard.services.capture import capture
from tests.fakes.sources import ScriptedSource, snapshot


def test_manual_rate_is_stored_listed_and_used_by_a_capture(app, engine):
    runner = CliRunner()
    asof = datetime(2026, 6, 29, tzinfo=UTC)
    out = runner.invoke(cli_app, ["fx", "set", f"USD/GBP=0.75@{asof.date().isoformat()}"])
    assert out.exit_code == 0, out.output
    assert "1 manual rate(s) stored" in out.output
    listed = runner.invoke(cli_app, ["fx", "list", "--pair", "GBP/USD"])
    assert "USD->GBP  0.75  manual" in listed.output
    snap = snapshot("alpha", currency="USD", cash=())  # as of 2026-06-30: one day after the manual rate
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(snap,)))})
    assert result.status == "success"
    with engine.connect() as conn:
        row = conn.execute(text("SELECT p.market_value_gbp, f.provider FROM positions p "
                                "JOIN fx_rates f ON f.id = p.fx_rate_id")).one()
    assert row.provider == "manual"
    assert row.market_value_gbp == Decimal("25.00") * Decimal("0.75")


def test_bad_manual_rate_is_a_clear_error(app):
    out = CliRunner().invoke(cli_app, ["fx", "set", "USD/XXX=1"])
    assert out.exit_code == 2  # a usage mistake
    assert "not an ISO 4217 currency code" in out.output
