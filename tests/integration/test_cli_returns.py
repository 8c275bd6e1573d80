"""`portfolio-dashboard returns` and `benchmark` through Typer's CliRunner on a real database (issue 18)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.cli import app as cli
from tests.integration import rows
from tests.integration.returns_rows import flow, nav

LONDON = ZoneInfo("Europe/London")
D = Decimal


def noon(day: int) -> datetime:
    return datetime(2026, 1, day, 12, tzinfo=LONDON)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def book(app: App, engine: Engine) -> Engine:
    """The worked example in ib:U1 (with an IBKR statement), and a Client Portal-only ib:U2."""
    with engine.begin() as conn:
        run = rows.run(conn)
        rows.account(conn, "ib", "U1")
        rows.account(conn, "ib", "U2")
        fund = rows.instrument(conn, "ib", "VWRL", symbol="VWRL")
        for day, value, price in ((1, "1000", "100"), (2, "1410", "101"), (3, "1424.10", "103.02"),
                                  (4, "1238.341", "104.0502")):
            sid = rows.snapshot(conn, run, "ib", "U1", noon(day), value)
            rows.position(conn, sid, fund, "1", price, price, price=price)
            gw = rows.snapshot(conn, run, "ib", "U2", noon(day), "500")
            conn.execute(text("UPDATE snapshots SET source = 'ib_gateway' WHERE id = :i"), {"i": gw})
        flow(conn, "ib", "U1", "deposit", datetime(2026, 1, 2, tzinfo=LONDON), "400")
        flow(conn, "ib", "U1", "withdrawal", noon(4), "-200")
        nav(conn, "ib", "U1", date(2026, 1, 2), date(2026, 1, 4), "2.86")
    return engine


def test_returns_json_has_the_issues_shape(book: Engine) -> None:
    code, out = invoke("returns", "--account", "ib:U1", "--from", "2026-01-02", "--to", "2026-01-04", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert {"from", "to", "currency", "start_value", "end_value", "net_flows", "gain", "twr", "twr_annualised",
            "mwr", "unavailable", "accounts"} <= set(data)
    assert (data["from"], data["to"], data["currency"]) == ("2026-01-02", "2026-01-04", "GBP")
    # money: exact decimal strings; returns: decimal fractions
    assert (data["start_value"], data["end_value"], data["net_flows"], data["gain"]) == (
        "1000", "1238.341", "200", "38.341")
    assert abs(D(str(data["twr"])) - (D(121) / 120 * D("1.0201") - 1)) < D("1e-6")
    assert data["twr_annualised"] is None and data["unavailable"] == []
    assert isinstance(data["mwr"], float)
    [account] = data["accounts"]
    assert (account["broker"], account["broker_account_id"]) == ("ib", "U1")
    assert account["gain"] == "38.341" and account["broker_twr"] == 0.0286
    assert abs(account["broker_twr_difference_pp"]) < 0.05


def test_a_gateway_only_account_is_unavailable_never_zero(book: Engine) -> None:
    code, out = invoke("returns", "--from", "2026-01-02", "--to", "2026-01-04", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["twr"] is None and data["gain"] is None and data["mwr"] is None
    assert data["unavailable"][0].startswith("ib:U2: flows unknown")
    gateway = next(a for a in data["accounts"] if a["broker_account_id"] == "U2")
    assert gateway["twr"] is None and gateway["unavailable"][0].startswith("flows unknown")
    code, out = invoke("returns", "--from", "2026-01-02", "--to", "2026-01-04")
    assert code == 0 and "unavailable:" in out and "flows unknown" in out


def test_named_periods_and_bad_input(book: Engine) -> None:
    code, out = invoke("returns", "--period", "all", "--today", "2026-01-04", "--account", "ib:U1", "--json")
    assert code == 0, out
    assert json.loads(out)["from"] == "2026-01-01"
    assert invoke("returns", "--period", "2w")[0] == 1
    assert invoke("returns", "--account", "U1")[0] == 1
    assert invoke("returns", "--account", "ib:NOPE")[0] == 1
    assert invoke("returns", "--from", "2026-01-05", "--to", "2026-01-01")[0] == 1


def test_benchmark_import_is_idempotent_and_compared(book: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "world.csv"
    csv.write_text("date,close\n2026-01-01,200\n2026-01-02,202\n2026-01-05,210\n\n")
    code, out = invoke("benchmark", "import", "WORLD", str(csv), "--currency", "gbp")
    assert code == 0, out
    assert "3 closes" in out and "3 new" in out
    code, out = invoke("benchmark", "import", "WORLD", str(csv))
    assert "(0 new, 0 updated, 3 unchanged)" in out
    csv.write_text("date,close\n2026-01-01,200\n2026-01-02,202.5\n2026-01-05,210\n")
    assert "(0 new, 1 updated, 2 unchanged)" in invoke("benchmark", "import", "WORLD", str(csv))[1]
    csv.write_text("date,close\n2026-01-01,200\n2026-01-02,202\n2026-01-05,210\n")
    invoke("benchmark", "import", "WORLD", str(csv))
    with book.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM benchmark_prices")).scalar_one() == 3
    code, out = invoke("benchmark", "list")
    assert "WORLD  3 closes  2026-01-01 .. 2026-01-05" in out and "VWRL" in out
    code, out = invoke("returns", "--account", "ib:U1", "--from", "2026-01-02", "--to", "2026-01-04",
                       "--benchmark", "WORLD", "--json")
    bench = json.loads(out)["benchmark"]
    assert bench["twr"] == 0.01 and bench["kind"] == "imported"  # 202/200 − 1: the 2 January close
    assert abs(D(str(bench["difference"])) - (D(121) / 120 * D("1.0201") - 1 - D("0.01"))) < D("1e-6")
    # an instrument we hold, from our own snapshots' prices: 104.0502 / 100 − 1
    code, out = invoke("returns", "--account", "ib:U1", "--from", "2026-01-02", "--to", "2026-01-04",
                       "--benchmark", "VWRL", "--json")
    held = json.loads(out)["benchmark"]
    assert held["kind"] == "held" and held["twr"] == 0.040502


def test_benchmark_import_names_each_bad_line(book: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Close\n2026-01-01,100\n2026-13-01,101\n2026-01-03,abc\n2026-01-04,-5\n")
    result = CliRunner().invoke(cli, ["benchmark", "import", "X", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert lines == ["error: line 3: '2026-13-01' is not a date (use YYYY-MM-DD)",
                     "error: line 4: 'abc' is not a number",
                     "error: line 5: the close must be positive, got -5"]
    headerless = tmp_path / "none.csv"
    headerless.write_text("day,price\n2026-01-01,1\n")
    result = CliRunner().invoke(cli, ["benchmark", "import", "X", str(headerless)])
    assert result.exit_code == 1 and "line 1: the header must name the columns" in result.output
    with book.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM benchmark_prices")).scalar_one() == 0
