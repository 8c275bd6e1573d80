"""Regressions in spool replay found by the chaos campaigns (tests/chaos)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portfolio_dashboard.bootstrap import SourceReference
from portfolio_dashboard.brokers.ecb import EcbRates
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.domain import ParseResult
from portfolio_dashboard.local.spool import RunMeta, RunSpooler, Spool
from portfolio_dashboard.services import replay
from portfolio_dashboard.services.replay import replay_pending
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from tests.fakes.ecb import TYPICAL, FakeEcb
from tests.fakes.sources import ASOF, ScriptedSource, raw, snapshot


class DiesAfterTheEntry(UnitOfWork):
    """The database goes away once the run row and the entry are committed (the third transaction)."""

    opened = 0

    def __enter__(self) -> UnitOfWork:
        DiesAfterTheEntry.opened += 1
        if DiesAfterTheEntry.opened > 2:
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return super().__enter__()


def test_reference_raws_fetched_by_a_replay_commit_with_the_entry_that_used_them(app, monkeypatch) -> None:
    """Found by the PostgreSQL-restart campaign: FX reference responses a replay fetched were stored in a
    transaction of their own after the run's entries; a database lost in between kept the rates without the
    responses they came from."""
    usd = ScriptedSource("usdsrc", result=ParseResult(snapshots=(snapshot("usdsrc", "A1", currency="USD",
                                                                          cash=(("USD", "100"),)),)))
    app.source_factory = lambda name, settings: usd
    meta = RunMeta(uuid.uuid4(), "manual", "test", ("usdsrc",), datetime.now(UTC), "host", 1, "0", "0003")
    spooler = RunSpooler(Spool(app.settings.spool_dir), meta)
    spooler.spool_source("usdsrc", "1", [raw("usdsrc", '{"ok": true}')], kind="parse",
                         outcome={"source": "usdsrc", "status": "spooled"})
    spooler.close()
    with FakeEcb({ASOF.date() - timedelta(days=i): TYPICAL for i in range(3)} | {date.today(): TYPICAL}) as ecb:
        app.reference_factory = lambda settings: SourceReference(
            EcbRates(ecb.hist_url, sleep=lambda s: None, retry=RetryPolicy(max_attempts=1)))
        monkeypatch.setattr(replay, "UnitOfWork", DiesAfterTheEntry)
        with pytest.raises(OperationalError):
            replay_pending(app)
    with app.engine.connect() as conn:
        sources = conn.execute(text("SELECT source FROM raw_payloads ORDER BY 1")).scalars().all()
        used = conn.execute(text("SELECT count(*) FROM positions p JOIN fx_rates f ON f.id = p.fx_rate_id "
                                 "WHERE f.provider = 'ecb'")).scalar_one()
    assert used > 0  # the entry was stored, valued at the ECB's rate...
    assert sources == ["ecb", "usdsrc"]  # ...and the ECB's response with it


def test_a_run_killed_before_spooling_every_source_does_not_replay_as_success(app) -> None:
    """Regression (found by the kill campaign): a capture SIGKILLed while writing the spool left entries for
    some of its sources and no run manifest; the replay closed the run as ``success``."""
    done = ScriptedSource("alpha", result=ParseResult(snapshots=(snapshot("alpha", "A1"),)))
    app.source_factory = lambda name, settings: done
    meta = RunMeta(uuid.uuid4(), "scheduled", "test", ("alpha", "beta"), datetime.now(UTC), "host", 1, "0", "0003")
    spooler = RunSpooler(Spool(app.settings.spool_dir), meta)
    spooler.spool_source("alpha", "1", [raw("alpha", '{"ok": true}')], kind="parse",
                         outcome={"source": "alpha", "status": "spooled"})
    spooler.close()  # ... and the process died: no run manifest, nothing for "beta"
    report = replay_pending(app)
    assert report.runs[0].status == "partial"
    with app.engine.connect() as conn:
        status, outcome, summary = conn.execute(text("SELECT status, outcome, error_summary FROM snapshot_runs")).one()
    assert status == "partial"
    assert {o["source"]: o["status"] for o in outcome} == {"alpha": "success", "beta": "fail"}
    assert "beta" in summary and "interrupted" in summary
