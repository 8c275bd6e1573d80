"""`fx set` warns about a manual rate far from the stored ones around its date; `fx delete PAIR@DATE`
removes a manual rate (and only a manual one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from typer.testing import CliRunner, Result

from portfolio_dashboard.cli import app as cli_app
from portfolio_dashboard.domain import FxRate, ParseResult
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from tests.fakes.sources import ScriptedSource, snapshot

DAY = datetime(2026, 6, 29, tzinfo=UTC)


def fx(*args: str) -> Result:
    return CliRunner().invoke(cli_app, ["fx", *args])


def store_ecb(app, *rates: tuple[int, str]) -> None:
    app.migrate()
    with UnitOfWork(app.engine) as uow:
        # the ECB publishes GBP per... stored as the pair the test names; one stored the other way round too
        uow.repo.upsert_fx_rates([FxRate("USD", "GBP", Decimal(r), DAY + timedelta(days=d), "ecb")
                                  for d, r in rates])
        uow.repo.upsert_fx_rates([FxRate("GBP", "USD", Decimal("1.2658"), DAY + timedelta(days=2), "ecb")])
        uow.commit()


def test_set_warns_when_far_from_the_rates_around_its_date(app):
    store_ecb(app, (-3, "0.7890"), (-1, "0.7912"), (1, "0.7925"))
    close = fx("set", "USD/GBP=0.79@2026-06-29")
    assert close.exit_code == 0, close.output
    assert "warning" not in close.stderr
    inverted = fx("set", "GBP/USD=0.79@2026-06-29")  # the pair typed the wrong way round
    assert inverted.exit_code == 0, inverted.output  # stored as asked...
    assert "1 manual rate(s) stored" in inverted.stdout
    assert "warning: GBP/USD=0.79 on 2026-06-29 is 37% away from the stored rates within 7 days" in inverted.stderr
    assert "(1.26183 to 1.26743); check it (an inverted pair would be 1.26582)" in inverted.stderr  # the ECB's rates inverted, and the one stored GBP->USD
    assert "fx delete GBP/USD@2026-06-29" in inverted.stderr
    slipped = fx("set", "USD/GBP=0.839@2026-07-01")  # a digit slipped: 6 % off
    assert "is 6% away" in slipped.stderr
    lonely = fx("set", "CHF/GBP=0.9@2026-06-29")  # nothing stored to compare with: no warning
    assert lonely.exit_code == 0 and "warning" not in lonely.stderr


def test_delete_removes_a_manual_rate_and_says_what_used_it(app, engine):
    assert fx("set", "USD/GBP=0.75@2026-06-29").exit_code == 0
    snap = snapshot("alpha", currency="USD", cash=())  # as of 2026-06-30: valued with the manual rate
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(snap,)))})
    assert result.status == "success"
    with engine.begin() as conn:  # a broker's rate of the same pair and day is never a manual one
        conn.execute(text("INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, provider, rate) "
                          "VALUES ('2026-06-29 12:00+00', 'USD', 'GBP', 'ib', 0.7912)"))

    deleted = fx("delete", "usd/gbp@2026-06-29")
    assert deleted.exit_code == 0, deleted.output
    assert "deleted 1 manual rate(s) USD/GBP@2026-06-29" in deleted.stdout
    assert "1 stored row(s) were valued with it" in deleted.stderr
    assert "reprocess --since 2026-06-30" in deleted.stderr
    with engine.connect() as conn:
        providers = conn.execute(text("SELECT provider FROM fx_rates WHERE source_ccy = 'USD'")).scalars().all()
        linked = conn.execute(text("SELECT count(*) FROM positions WHERE fx_rate_id IS NOT NULL")).scalar_one()
    assert providers == ["ib"] and linked == 0
    assert "manual" not in fx("list").stdout

    again = fx("delete", "USD/GBP@2026-06-29")
    assert again.exit_code == 1
    assert "no manual USD/GBP rate on 2026-06-29" in again.stderr
    for bad in ("USD/GBP", "USD/GBP@yesterday", "USD/XXX@2026-06-29"):
        out = fx("delete", bad)
        assert out.exit_code == 2, (bad, out.output)
        assert len(out.stderr.strip().splitlines()) == 1
