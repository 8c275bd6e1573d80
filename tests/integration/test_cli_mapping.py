"""`portfolio-dashboard mapping list|review|set|reset` against a real database."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.domain import AssetClass, Instrument
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

IB_AAPL = Instrument("ib", "265598", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", exchange="NASDAQ")  # gateway
SCHWAB_AAPL = Instrument("schwab", "037833100", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", cusip="037833100")
IB_VUSA = Instrument("ib", "128831206", "VUSA", "VANGUARD S&P 500 UCITS ETF", AssetClass.ETF, "GBP",
                     isin="IE00B3XXRP09", exchange="LSEETF")


@pytest.fixture
def seeded(app):
    app.migrate()
    for inst in (IB_AAPL, SCHWAB_AAPL, IB_VUSA):
        with UnitOfWork(app.engine) as uow:
            ids = uow.repo.upsert_instruments([inst])
            assign_global_instruments(uow.connection, ids, {inst.key: inst})
            uow.commit()
    return app


def invoke(*args):
    return CliRunner().invoke(cli, ["mapping", *args], catch_exceptions=False)


def listed(*args):
    result = invoke("list", "--json", *args)
    assert result.exit_code == 0, result.output
    return {f"{r['broker']}:{r['broker_instrument_id']}": r for r in json.loads(result.output)}


def test_list_shows_every_instrument_with_its_global_instrument(seeded):
    rows = listed()
    assert set(rows) == {"ib:265598", "schwab:037833100", "ib:128831206"}
    assert rows["schwab:037833100"]["global_instrument_id"] == rows["ib:265598"]["global_instrument_id"]
    assert rows["schwab:037833100"]["merged_with"] == ["ib:265598 AAPL (NASDAQ, USD)"]
    assert (rows["schwab:037833100"]["mapping_source"], rows["schwab:037833100"]["confidence"]) == ("heuristic", "0.6")
    assert set(listed("--broker", "schwab")) == {"schwab:037833100"}
    text_out = invoke("list").output
    assert "schwab:037833100" in text_out
    assert "heuristic" in text_out
    assert "APPLE INC" in text_out


def test_review_lists_heuristic_mappings_below_the_threshold(seeded):
    result = invoke("review", "--json")
    assert result.exit_code == 0
    assert [r["broker_instrument_id"] for r in json.loads(result.output)] == ["037833100"]
    assert json.loads(invoke("review", "--json", "--below", "0.5").output) == []
    assert "is merged with: ib:265598 AAPL (NASDAQ, USD)" in invoke("review").output
    bad = invoke("review", "--below", "lots")
    assert bad.exit_code == 2  # a usage mistake
    assert "--below must be a number" in bad.output


def test_set_new_then_adopt_another_instrument_then_global_id_then_reset(seeded):
    split = invoke("set", "schwab", "037833100", "--new")
    assert split.exit_code == 0, split.output
    rows = listed()
    assert rows["schwab:037833100"]["mapping_source"] == "manual"
    assert rows["schwab:037833100"]["global_instrument_id"] != rows["ib:265598"]["global_instrument_id"]

    adopt = invoke("set", "schwab", "037833100", "ib:128831206")  # deliberately wrong, then fixed below
    assert adopt.exit_code == 0, adopt.output
    assert listed()["schwab:037833100"]["global_instrument_id"] == rows["ib:128831206"]["global_instrument_id"]

    prefix = rows["ib:265598"]["global_instrument_id"][:8]
    assert invoke("set", "schwab", "037833100", prefix).exit_code == 0
    after = listed()
    assert after["schwab:037833100"]["global_instrument_id"] == rows["ib:265598"]["global_instrument_id"]
    assert after["schwab:037833100"]["evidence"] == "manual"
    assert json.loads(invoke("review", "--json").output) == []  # confirmed by hand: nothing left to review

    reset = invoke("reset", "schwab", "037833100")
    assert reset.exit_code == 0, reset.output
    assert "heuristic, symbol" in reset.output
    assert listed()["schwab:037833100"]["mapping_source"] == "heuristic"


@pytest.mark.parametrize(("args", "message", "code"), [
    (("set", "schwab", "nope", "--new"), "no instrument schwab:nope", 1),
    (("set", "schwab", "037833100"), "give either a TARGET or --new", 2),  # usage mistakes exit 2
    (("set", "schwab", "037833100", "abc", "--new"), "give either a TARGET or --new", 2),
    (("set", "schwab", "037833100", "zz"), "is not a global instrument id", 1),
    (("set", "schwab", "037833100", "ib:404"), "no instrument ib:404", 1),
    (("set", "schwab", "037833100", "00000000-0000-0000-0000-000000000000"), "no global instrument", 1),
])
def test_set_errors_say_what_to_do(seeded, args, message, code):
    result = invoke(*args)
    assert result.exit_code == code
    assert message in result.output


@pytest.mark.parametrize("command", ["list", "review", "set", "reset"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, ["mapping", command, "--help"])
    assert result.exit_code == 0
    assert len(result.output.split("Usage:")[1]) > 100


def test_the_installed_cli_has_the_mapping_commands(seeded, cli_env):
    out = subprocess.run([sys.executable, "-m", "portfolio_dashboard", "mapping", "list", "--json"], env=cli_env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 3
