"""`mapping reset` gives an instrument back its ORIGINAL global id, not a new one (issue 22)."""

import json

from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.domain import AssetClass, Instrument
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

IB_VUSA = Instrument("ib", "128831206", "VUSA", "VANGUARD S&P 500 UCITS ETF", AssetClass.ETF, "GBP",
                     isin="IE00B3XXRP09", exchange="LSEETF")
IB_AAPL = Instrument("ib", "265598", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", exchange="NASDAQ")
SCHWAB_AAPL = Instrument("schwab", "037833100", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", cusip="037833100")
BARE = Instrument("ib", "999001", "ODD", None, AssetClass.OTHER, "USD")  # nothing to match on


def globals_by_instrument() -> dict[str, str]:
    out = CliRunner().invoke(cli, ["mapping", "list", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return {f"{r['broker']}:{r['broker_instrument_id']}": r["global_instrument_id"] for r in json.loads(out.output)}


def mapping(*args: str) -> str:
    out = CliRunner().invoke(cli, ["mapping", *args], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.output


def test_reset_restores_the_original_global_id(app):
    app.migrate()
    for inst in (IB_VUSA, IB_AAPL, SCHWAB_AAPL, BARE):
        with UnitOfWork(app.engine) as uow:
            ids = uow.repo.upsert_instruments([inst])
            assign_global_instruments(uow.connection, ids, {inst.key: inst})
            uow.commit()
    original = globals_by_instrument()
    for key in ("ib:128831206", "ib:999001", "schwab:037833100"):
        broker, _, ident = key.partition(":")
        # its own identity (deleted when it leaves it alone), another instrument's, its own again, then reset
        mapping("set", broker, ident, "--new")
        mapping("set", broker, ident, "ib:265598")
        assert globals_by_instrument()[key] == original["ib:265598"]
        mapping("set", broker, ident, "--new")
        said = mapping("reset", broker, ident)
        assert original[key] in said
        assert globals_by_instrument() == original, key  # everything as it was, ids included
