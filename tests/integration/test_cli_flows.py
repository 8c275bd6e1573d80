"""`portfolio-dashboard flows` and `income` against a real database seeded with the demo's history."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from portfolio_dashboard.brokers.demo_flows import DEPOSITS, ISA
from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.services import demo_history

END = datetime(2026, 6, 30, 18, tzinfo=UTC)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def seeded(app):  # type: ignore[no-untyped-def]
    demo_history.seed(app, 120, end=END)
    return app


def test_flows_json_lists_the_isa_deposits_with_exact_decimals(seeded) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(invoke("flows", "--account", f"demo:{ISA}", "--kind", "deposit", "--from", "2026-04-01",
                            "--to", "2026-06-30", "--json"))
    monthly = next(amount for acct, _ccy, amount in DEPOSITS if acct == ISA)
    assert [f["flow_ts"][:10] for f in out] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    for f in out:
        assert f["kind"] == "deposit" and f["broker"] == "demo" and f["broker_account_id"] == ISA
        assert Decimal(f["amount_local"]) == monthly and Decimal(f["amount_gbp"]) == monthly  # GBP: no rate
        assert f["currency"] == "GBP" and f["raw_payload_id"] and f["run_id"] and f["fx_rate_id"] is None
        assert set(f) >= {"id", "broker_flow_id", "symbol", "isin", "quantity", "description", "instrument_id"}


def test_flow_symbols_are_listed_for_dividends(seeded) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(invoke("flows", "--kind", "dividend", "--json"))
    assert out and all(f["symbol"] for f in out)
    assert {"VUSA", "MSFT"} <= {f["symbol"] for f in out}


def test_income_json_adds_up_to_the_listed_income_flows(seeded) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(invoke("flows", "--from", "2026-04-06", "--to", "2027-04-05", "--json"))
    income_kinds = {"dividend", "payment_in_lieu", "interest", "withholding_tax"}
    expected: dict[str, Decimal] = {}
    for f in listed:
        if f["kind"] in income_kinds:
            expected[f["kind"]] = expected.get(f["kind"], Decimal(0)) + Decimal(f["amount_gbp"])
    out = json.loads(invoke("income", "--tax-year", "2026-27", "--json"))
    assert (out["from"], out["to"]) == ("2026-04-06", "2027-04-05")
    assert {k: Decimal(v) for k, v in out["by_kind"].items()} == expected
    assert isinstance(out["total_gbp"], str) and Decimal(out["total_gbp"]) == sum(expected.values())
    assert Decimal(out["by_kind"]["withholding_tax"]) < 0  # US and German tax withheld
    # April's interest is paid on the 3rd, before the tax year starts on the 6th
    assert [m["month"] for m in out["by_month"]] == ["2026-05", "2026-06"]
    assert sum(Decimal(m["amount_gbp"]) for m in out["by_month"]) == Decimal(out["total_gbp"])
    symbols = {i["symbol"] for i in out["by_instrument"]}
    assert {"VUSA", "VWRL", "MSFT", "AAPL", "SAP"} <= symbols


def test_income_by_dates_and_a_deposit_is_never_income(seeded) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(invoke("income", "--from", "2026-04-01", "--to", "2026-04-30", "--json"))
    assert (out["from"], out["to"]) == ("2026-04-01", "2026-04-30")
    assert set(out["by_kind"]) == {"interest"}  # April: the monthly interest only; the deposit is not income
    text_out = invoke("income", "--from", "2026-04-01", "--to", str(date(2026, 4, 30)))
    assert "net" in text_out and "interest" in text_out


def test_bad_options_are_refused(app) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["income", "--tax-year", "2025-27"])
    assert result.exit_code == 2 and "tax year" in result.output
    result = CliRunner().invoke(cli, ["flows", "--kind", "gift"])
    assert result.exit_code == 2
