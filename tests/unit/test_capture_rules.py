"""The capture's rules without PostgreSQL: one source's capture against the in-memory ``FakeStore``, and the
run lifecycle's status rule and failure summary (services/runs.py). The same rules against a real server
are covered by tests/integration/test_capture_engine.py and test_spool_capture.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.domain import FxRate, ParseResult, RunStatus, SourceOutcome, SourceStatus
from portfolio_dashboard.errors import DatabaseUnavailableError, NetworkError
from portfolio_dashboard.local.spool import RunSpooler, Spool
from portfolio_dashboard.services import runs
from portfolio_dashboard.services.capture_source import SpoolStore, capture_source
from portfolio_dashboard.services.fx import FxChain
from tests.fakes.sources import ScriptedSource, snapshot
from tests.fakes.store import FakeStore

RUN = uuid.UUID(int=1)


def _chain() -> FxChain:
    return FxChain("GBP", timedelta(days=5))


def _capture(store: FakeStore, source: ScriptedSource, spooler: RunSpooler | None = None,
             run_id: uuid.UUID = RUN) -> SourceOutcome:
    return capture_source(store, run_id, source.name, source, _chain(), FetchContext(), Decimal("0.01"), "GBP",
                          None, spooler)


def _spooler(tmp_path: Path) -> RunSpooler:
    meta = runs.new_run("manual", "test", ["fake"])
    return RunSpooler(Spool(tmp_path / "spool"), meta)


def _ok_source(name: str = "fake") -> ScriptedSource:
    return ScriptedSource(name, result=ParseResult(snapshots=[snapshot(name)]))


def test_a_good_source_is_stored_in_one_write() -> None:
    store = FakeStore()
    outcome = _capture(store, _ok_source())
    assert outcome.status == SourceStatus.SUCCESS
    assert (outcome.snapshots_written, outcome.snapshots_existing, outcome.raw_payloads) == (1, 0, 1)
    assert outcome.accounts == ["ACC1"] and store.writes == 1


def test_the_same_broker_state_twice_is_stored_once() -> None:
    # the idempotency key is broker + account + the broker's as-of, not the run: a retried capture adds nothing
    store = FakeStore()
    _capture(store, _ok_source())
    again = _capture(store, _ok_source(), run_id=uuid.UUID(int=2))
    assert again.status == SourceStatus.SUCCESS
    assert (again.snapshots_written, again.snapshots_existing) == (0, 1)
    assert list(store.snapshots.values()) == [RUN]  # kept as first stored


def test_a_failed_fetch_keeps_its_responses_and_says_why() -> None:
    store = FakeStore()
    source = ScriptedSource("fake", fetch_error=NetworkError("connection reset", source="fake",
                                                             endpoint="GET /portfolio"))
    outcome = _capture(store, source)
    assert outcome.status == SourceStatus.FAIL and outcome.error_category == "network"
    assert outcome.error_message is not None and outcome.error_message.endswith("[GET /portfolio]")
    assert outcome.raw_payloads == 1 and len(store.raws) == 1  # what makes the failure debuggable
    assert store.writes == 0


def test_a_parser_crash_is_a_parsing_failure_with_the_responses_kept() -> None:
    store = FakeStore()
    outcome = _capture(store, ScriptedSource("fake", parse_error=KeyError("positions")))
    assert outcome.status == SourceStatus.FAIL and outcome.error_category == "parsing"
    assert len(store.raws) == 1 and store.snapshots == {}


def test_a_rejected_write_stores_the_responses_alone() -> None:
    store = FakeStore(reject_writes=True)
    outcome = _capture(store, _ok_source())
    assert outcome.status == SourceStatus.FAIL and outcome.error_category == "db"
    assert store.snapshots == {} and len(store.raws) == 1


def test_an_unreachable_database_spools_the_source(tmp_path: Path) -> None:
    store = FakeStore(unavailable=True)
    spooler = _spooler(tmp_path)
    try:
        outcome = _capture(store, _ok_source(), spooler)
    finally:
        spooler.close()
    assert outcome.status == SourceStatus.SPOOLED
    assert outcome.error_message is not None and "1 response(s) spooled locally" in outcome.error_message
    assert spooler.entries == 1 and spooler.lost == 0
    assert store.raws == []


def test_a_database_unreachable_from_the_start_spools_through_the_same_pipeline(tmp_path: Path) -> None:
    """The spool-only store: the source is fetched, parsed and validated (not valued: no stored rates), every
    response is spooled for the replay to parse again, and the run's end goes to the spool's manifest."""
    store = SpoolStore("connection refused")
    spooler = _spooler(tmp_path)
    usd = ScriptedSource("fake", result=ParseResult(snapshots=[snapshot("fake", currency="USD")]))
    try:
        outcome = capture_source(store, RUN, usd.name, usd, _chain(), FetchContext(), Decimal("0.01"), "GBP",
                                 None, spooler)
        with pytest.raises(DatabaseUnavailableError, match="connection refused"):
            store.finish_run(RUN, status="fail", finished_at=datetime.now(UTC), error_summary=None, outcomes=[],
                             warnings=[])
    finally:
        spooler.close()
    assert outcome.status == SourceStatus.SPOOLED
    assert outcome.error_category == "db"
    assert outcome.error_message == "database unreachable: connection refused; 1 response(s) spooled locally"
    assert outcome.accounts == ["ACC1"]
    assert not any("rate" in w.lower() for w in outcome.warnings)  # not valued, so no missing-rate warning
    (entry,) = Spool(tmp_path / "spool").load(spooler.directory).entries
    assert entry.kind == "parse" and len(entry.raws) == 1


def test_a_source_failing_with_the_database_unreachable_from_the_start_spools_its_responses(tmp_path: Path) -> None:
    spooler = _spooler(tmp_path)
    source = ScriptedSource("fake", fetch_error=NetworkError("timed out", source="fake"))
    try:
        outcome = capture_source(SpoolStore("connection refused"), RUN, source.name, source, _chain(),
                                 FetchContext(), Decimal("0.01"), "GBP", None, spooler)
    finally:
        spooler.close()
    assert outcome.status == SourceStatus.FAIL and outcome.error_category == "network"
    entries = Spool(tmp_path / "spool").load(spooler.directory).entries
    assert [e.kind for e in entries] == ["raws"]  # the fetch failed: a replay stores them as they are


def test_without_a_spool_an_unreachable_database_is_a_failure() -> None:
    outcome = _capture(FakeStore(unavailable=True), _ok_source())
    assert outcome.status == SourceStatus.FAIL


@pytest.mark.parametrize(("statuses", "expected"), [
    ([SourceStatus.SUCCESS, SourceStatus.SUCCESS], RunStatus.SUCCESS),
    ([SourceStatus.SUCCESS, SourceStatus.FAIL], RunStatus.PARTIAL),
    ([SourceStatus.SUCCESS, SourceStatus.SPOOLED], RunStatus.PARTIAL),
    ([SourceStatus.FAIL, SourceStatus.SPOOLED], RunStatus.FAIL),
    ([SourceStatus.FAIL], RunStatus.FAIL),
])
def test_the_run_status_rule(statuses: list[SourceStatus], expected: RunStatus) -> None:
    outcomes = [SourceOutcome(f"s{i}", s) for i, s in enumerate(statuses)]
    assert runs.status_of(outcomes) == expected
    # a replay reads the same outcomes back as JSON objects: the same rule applies
    assert runs.status_of([{"source": o.source, "status": str(o.status)} for o in outcomes]) == expected


def test_a_partial_run_from_two_sources_against_the_fake() -> None:
    store = FakeStore()
    good = _capture(store, _ok_source("good"))
    bad = _capture(store, ScriptedSource("bad", fetch_error=NetworkError("timed out", source="bad")))
    assert runs.status_of([good, bad]) == RunStatus.PARTIAL
    assert runs.failure_summary([good, bad]) == "bad: network: timed out"


def test_the_failure_summary_names_every_failed_source() -> None:
    outcomes = [SourceOutcome("a", SourceStatus.SUCCESS),
                SourceOutcome("b", SourceStatus.FAIL, "auth", "token expired"),
                {"source": "c", "status": "spooled", "error_category": "db", "error_message": "away"}]
    assert runs.failure_summary(outcomes) == "b: auth: token expired; c: db: away"
    assert runs.failure_summary(outcomes[:1]) is None


def test_own_fx_rates_value_a_foreign_account() -> None:
    store = FakeStore()
    rate = FxRate("USD", "GBP", Decimal("0.8"), datetime(2026, 6, 30, 15, 0, tzinfo=UTC), "fake")
    source = ScriptedSource("fake", result=ParseResult(snapshots=[snapshot(currency="USD", cash=())],
                                                       fx_rates=[rate]))
    outcome = _capture(store, source)
    assert outcome.status == SourceStatus.SUCCESS and outcome.warnings == []
    assert outcome.positions_written == 1  # valued (a missing rate would have warned)
