"""`portfolio-dashboard accounts|classes list|set` and `auth schwab --logout` against a real database."""

import json

import pytest
from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.reprocess import Selection, reprocess


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def captured(app):
    app.migrate()
    capture(TriggerContext(sources=("demo",)), app=app)
    return app


def accounts():
    result = invoke("accounts", "list", "--json")
    assert result.exit_code == 0, result.output
    return {r["account"]: r for r in json.loads(result.output)}


def classes():
    result = invoke("classes", "list", "--json")
    assert result.exit_code == 0, result.output
    return {r["symbol"]: r for r in json.loads(result.output)}


def test_the_capture_stores_the_wrapper_the_broker_label_states(captured):
    rows = accounts()
    got = {k: (r["wrapper"], r["wrapper_source"], r["account_type"]) for k, r in rows.items()}
    assert got == {
        "demo:DEMO-ISA-01": ("ISA", "broker", "Individual ISA"),
        "demo:DEMO-US-01": ("US_TAXABLE", "broker", "US Brokerage (US taxable)"),
        "demo:DEMO-EU-01": ("GIA", "broker", "General Investment Account"),
    }
    text_out = invoke("accounts", "list").output
    assert "demo:DEMO-ISA-01" in text_out
    assert "ISA (broker)" in text_out


def test_the_users_wrapper_and_name_survive_captures_and_reprocess(captured):
    result = invoke("accounts", "set", "demo:DEMO-EU-01", "--wrapper", "sipp", "--name", "My pension")
    assert result.exit_code == 0, result.output
    assert "wrapper SIPP (user)" in result.output
    capture(TriggerContext(sources=("demo",)), app=captured)
    reprocess(captured, Selection(all=True))
    row = accounts()["demo:DEMO-EU-01"]
    assert (row["wrapper"], row["wrapper_source"], row["display_name"]) == ("SIPP", "user", "My pension")
    assert row["name"] == "Demo Euro Account"  # the broker's name is kept beside the user's

    cleared = invoke("accounts", "set", "demo:DEMO-EU-01", "--clear-wrapper", "--name", "")
    assert cleared.exit_code == 0, cleared.output
    row = accounts()["demo:DEMO-EU-01"]
    assert (row["wrapper"], row["wrapper_source"], row["display_name"]) == (None, None, None)
    capture(TriggerContext(sources=("demo",)), app=captured)
    assert accounts()["demo:DEMO-EU-01"]["wrapper_source"] == "broker"  # the broker's label applies again


def test_accounts_set_refuses_what_it_cannot_apply(captured):
    unknown = invoke("accounts", "set", "demo:NOPE", "--wrapper", "ISA")
    assert unknown.exit_code == 1
    assert "no account demo:NOPE" in unknown.output
    bad = invoke("accounts", "set", "demo:DEMO-EU-01", "--wrapper", "PEA")
    assert bad.exit_code == 1
    assert "unknown wrapper 'PEA'" in bad.output
    both = invoke("accounts", "set", "demo:DEMO-EU-01", "--wrapper", "ISA", "--clear-wrapper")
    assert both.exit_code == 1
    assert invoke("accounts", "set", "DEMO-EU-01", "--wrapper", "ISA").exit_code == 1  # no BROKER: part


def test_default_classes_come_from_the_broker_data(captured):
    rows = classes()
    assert (rows["VUSA"]["class"], rows["VUSA"]["source"]) == ("Equity ETF", "default")
    assert (rows["SGLN"]["class"], rows["SGLN"]["subclass"]) == ("Commodity ETF", "Gold")
    assert rows["BND"]["class"] == "Bond ETF"
    assert rows["AAPL"]["class"] == "Equity"
    assert rows["USD"]["class"] == "Cash"


def test_a_users_class_survives_captures_and_reprocess_and_resets(captured):
    result = invoke("classes", "set", "IE00B3XXRP09", "--class", "US equity", "--subclass", "S&P 500")
    assert result.exit_code == 0, result.output
    assert "VUSA: US equity · S&P 500 (yours)" in result.output
    capture(TriggerContext(sources=("demo",)), app=captured)
    reprocess(captured, Selection(all=True))
    row = classes()["VUSA"]
    assert (row["class"], row["subclass"], row["source"]) == ("US equity", "S&P 500", "user")
    assert invoke("classes", "set", "VUSA", "--reset").exit_code == 0
    assert (classes()["VUSA"]["class"], classes()["VUSA"]["source"]) == ("Equity ETF", "default")
    missing = invoke("classes", "set", "ZZZZ", "--class", "Equity")
    assert missing.exit_code == 1
    assert "no instrument 'ZZZZ'" in missing.output


def test_auth_schwab_logout_removes_the_token_file(app):
    path = app.settings.resolved_schwab_token_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    result = invoke("auth", "schwab", "--logout")
    assert result.exit_code == 0, result.output
    assert "Disconnected from Schwab" in result.output
    assert not path.exists()
    again = invoke("auth", "schwab", "--logout")
    assert "was not connected" in again.output
    status = invoke("auth", "schwab", "--status")
    assert status.exit_code == 1
    assert "not logged in" in status.output
