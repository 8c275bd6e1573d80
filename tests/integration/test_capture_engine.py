"""The capture workflow on the real embedded PostgreSQL, with hand-written fake sources."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.cli.common import exit_code
from portfolio_dashboard.domain import ParseResult, RunStatus, SourceStatus, TriggerContext, TriggerType
from portfolio_dashboard.errors import AuthError, NetworkError, ParsingError
from portfolio_dashboard.services.capture import capture, reap_interrupted_runs
from tests.fakes.server import FakeServer, Reply
from tests.fakes.sources import ASOF, HttpJsonSource, ScriptedSource, raw, snapshot, usd_rate


def count(engine, table: str, where: str = "true") -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


def good(name: str = "alpha", account: str = "A1") -> ScriptedSource:
    return ScriptedSource(name, result=ParseResult(snapshots=(snapshot(name, account),)))


def test_success_writes_run_raw_snapshot_positions_and_cash(app, engine):
    result = capture(TriggerContext(TriggerType.SCHEDULED, "test"), app=app, sources={"alpha": good()})
    assert result.status == RunStatus.SUCCESS
    assert exit_code(result.status) == 0
    (outcome,) = result.sources
    assert outcome.snapshots_written == 1
    assert outcome.positions_written == 2  # one holding + GBP cash as a position
    with engine.connect() as conn:
        run = conn.execute(text("SELECT status, trigger_type, triggered_by, schema_version, finished_at, "
                                "error_summary FROM snapshot_runs")).one()
        assert run.status == "success" and run.trigger_type == "scheduled" and run.triggered_by == "test"
        assert run.schema_version == "0001" or run.schema_version.startswith("0")
        assert run.finished_at is not None and run.error_summary is None
        snap = conn.execute(text("SELECT asof_ts, total_value_local, total_value_gbp, fx_complete FROM snapshots")).one()
        assert snap.asof_ts == ASOF
        assert snap.total_value_gbp == Decimal("125.00")  # 10 x 2.50 + 100 cash
        assert snap.fx_complete
        cash = conn.execute(text("SELECT i.asset_class, p.market_value_gbp FROM positions p "
                                 "JOIN instruments i ON i.id = p.instrument_id WHERE i.asset_class = 'cash'")).one()
        assert cash.market_value_gbp == Decimal("100")
    assert count(engine, "raw_payloads") == 1


def test_run_is_visible_as_running_while_sources_fetch(app, engine):
    seen: list[str] = []

    def look() -> None:
        with engine.connect() as conn:
            seen.append(conn.execute(text("SELECT status FROM snapshot_runs")).scalar_one())

    src = ScriptedSource("alpha", result=ParseResult(snapshots=(snapshot("alpha"),)), before_fetch=look)
    capture(app=app, sources={"alpha": src})
    assert seen == ["running"]


def test_one_source_failing_gives_partial_and_keeps_the_other(app, engine):
    bad = ScriptedSource("beta", fetch_error=AuthError("refresh token expired", source="beta",
                                                        hint="run `portfolio-dashboard auth schwab`"))
    result = capture(app=app, sources={"alpha": good(), "beta": bad})
    assert result.status == RunStatus.PARTIAL and exit_code(result.status) == 2
    assert "beta: auth: refresh token expired — run `portfolio-dashboard auth schwab`" in result.error_summary
    assert count(engine, "snapshots", "broker = 'alpha'") == 1
    assert count(engine, "positions") == 2
    assert count(engine, "raw_payloads", "broker = 'beta'") == 1  # the failed source's response is kept
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM snapshot_runs")).scalar_one() == "partial"


def test_all_failing_gives_fail(app, engine):
    result = capture(app=app, sources={
        "a": ScriptedSource("a", fetch_error=NetworkError("refused", source="a")),
        "b": ScriptedSource("b", parse_error=ParsingError("truncated", source="b")),
    })
    assert result.status == RunStatus.FAIL and exit_code(result.status) == 1
    assert {o.error_category for o in result.sources} == {"network", "parsing"}
    assert count(engine, "snapshots") == 0


def test_parse_failure_keeps_raw_payload_even_when_not_json(app, engine):
    html = raw("b", b"<html><body>502 Bad Gateway</body></html>", "GET /portfolio", 200)
    src = ScriptedSource("b", responses=[html], parse_error=ParsingError("not JSON", source="b"))
    result = capture(app=app, sources={"b": src})
    assert result.sources[0].error_category == "parsing"
    assert result.sources[0].raw_payloads == 1
    with engine.connect() as conn:
        row = conn.execute(text("SELECT payload_json, body_text, content_sha256 FROM raw_payloads")).one()
    assert row.payload_json is None and "502 Bad Gateway" in row.body_text and len(row.content_sha256) == 64


def test_unexpected_exception_in_parse_is_categorised_not_raised(app):
    src = ScriptedSource("b", parse_error=KeyError("positions"))
    result = capture(app=app, sources={"b": src})
    assert result.status == RunStatus.FAIL
    assert result.sources[0].error_category == "parsing"


def test_retry_after_transient_errors_over_real_http(app, engine):
    server = FakeServer()
    body = {"account": "H1", "asof": ASOF.isoformat(), "positions": [["9", "NINE", "2", "3"]], "cash": 1}
    server.route("GET", "/portfolio", lambda req: Reply.json(body))
    server.fail_next("GET", "/portfolio", Reply(status=503), Reply(status=429, headers={"Retry-After": "0"}))
    with server:
        result = capture(app=app, sources={"httpjson": HttpJsonSource(server.base_url)})
    assert result.status == RunStatus.SUCCESS
    assert result.sources[0].retries == 2
    assert server.count("GET", "/portfolio") == 3
    assert count(engine, "raw_payloads") == 3  # the two failed attempts are kept too
    assert count(engine, "snapshots") == 1


def test_second_identical_capture_adds_no_snapshot_or_position(app, engine):
    first = capture(app=app, sources={"alpha": good()})
    second = capture(app=app, sources={"alpha": good()})
    assert first.sources[0].snapshots_written == 1
    assert second.status == RunStatus.SUCCESS
    assert second.sources[0].snapshots_written == 0 and second.sources[0].snapshots_existing == 1
    assert count(engine, "snapshots") == 1 and count(engine, "positions") == 2
    assert count(engine, "instruments") == 2 and count(engine, "broker_accounts") == 1
    assert count(engine, "snapshot_runs") == 2


def test_two_concurrent_captures_neither_fail_nor_duplicate(app, engine):
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        src = ScriptedSource("alpha", result=ParseResult(snapshots=(snapshot("alpha", "A1"), snapshot("alpha", "A2"))),
                             before_fetch=lambda: barrier.wait(timeout=10))
        results.append(capture(app=app, sources={"alpha": src}))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status for r in results] == [RunStatus.SUCCESS, RunStatus.SUCCESS]
    assert sum(r.sources[0].snapshots_written for r in results) == 2
    assert sum(r.sources[0].snapshots_existing for r in results) == 2
    assert count(engine, "snapshots") == 2 and count(engine, "positions") == 4


def test_run_left_running_by_a_dead_process_is_reaped(app, engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO snapshot_runs (trigger_type, status, schema_version) "
                          "VALUES ('scheduled', 'running', '0001')"))
    assert count(engine, "snapshot_runs", "status = 'running'") == 1
    capture(app=app, sources={"alpha": good()})
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, error_summary FROM snapshot_runs WHERE trigger_type = 'scheduled'")).one()
    assert row.status == "fail" and "interrupted" in row.error_summary


def test_a_live_run_is_not_reaped(app, engine):
    """A run whose capture still holds its lock (a concurrent capture) must not be marked interrupted."""
    started = threading.Event()
    release = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(10)

    t = threading.Thread(target=lambda: capture(app=app, sources={"s": ScriptedSource("s", before_fetch=slow)}))
    t.start()
    assert started.wait(10)
    assert reap_interrupted_runs(engine) == []
    release.set()
    t.join(10)
    assert count(engine, "snapshot_runs", "status = 'running'") == 0


def test_positions_not_matching_total_is_a_recorded_warning(app, engine):
    snap = snapshot("alpha", total="999.00")  # positions + cash = 125
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(snap,)))})
    assert result.status == RunStatus.SUCCESS
    assert any("do not match the broker's total" in w for w in result.warnings)
    with engine.connect() as conn:
        run_warnings = conn.execute(text("SELECT warnings FROM snapshot_runs")).scalar_one()
        snap_warnings = conn.execute(text("SELECT warnings FROM snapshots")).scalar_one()
    assert any("do not match" in w for w in run_warnings)
    assert any("do not match" in w for w in snap_warnings)


def test_foreign_currency_uses_a_stored_rate_referenced_by_the_position(app, engine):
    snap = snapshot("alpha", currency="USD", cash=(("USD", "100"),))
    src = ScriptedSource("alpha", result=ParseResult(snapshots=(snap,), fx_rates=(usd_rate(),)))
    capture(app=app, sources={"alpha": src})
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT p.market_value_local, p.market_value_gbp, f.rate, f.provider FROM positions p "
                                 "JOIN fx_rates f ON f.id = p.fx_rate_id")).all()
        total = conn.execute(text("SELECT total_value_gbp, reported_total_gbp FROM snapshots")).one()
    assert len(rows) == 2
    assert all(r.market_value_gbp == r.market_value_local * Decimal("0.8") and r.provider == "fake" for r in rows)
    assert total.total_value_gbp == Decimal("100.00") and total.reported_total_gbp == Decimal("100.00")


def test_no_rate_leaves_gbp_null_and_says_so(app, engine):
    snap = snapshot("alpha", currency="JPY", positions=(("J1", "TOYOTA", "100", "2500"),), cash=())
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(snap,)))})
    assert result.status == RunStatus.SUCCESS
    assert any("no JPY->GBP rate" in w for w in result.warnings)
    with engine.connect() as conn:
        s = conn.execute(text("SELECT total_value_gbp, fx_complete, total_value_local FROM snapshots")).one()
        p = conn.execute(text("SELECT market_value_gbp, fx_rate_id FROM positions")).one()
    assert s.total_value_gbp is None and s.fx_complete is False and s.total_value_local == Decimal(250000)
    assert p.market_value_gbp is None and p.fx_rate_id is None


def test_stale_rate_is_used_with_a_warning(app, engine):
    snap = snapshot("alpha", currency="USD", cash=())
    old = usd_rate(asof=ASOF - timedelta(days=9))
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(snap,),
                                                                                            fx_rates=(old,)))})
    assert any("9 days from the as-of" in w for w in result.warnings)
    assert count(engine, "positions", "market_value_gbp IS NOT NULL") == 1


def test_invalid_snapshot_is_rejected_whole_with_raw_kept(app, engine):
    from portfolio_dashboard.domain import AccountSnapshot, Position

    snap = snapshot("alpha")
    broken = AccountSnapshot(snap.account, snap.asof_ts, snap.asof_source,
                             (Position(snap.positions[0].instrument, Decimal("NaN"), Decimal(1), Decimal(1)),),
                             snap.cash, snap.total_value_local)
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(broken,)))})
    assert result.sources[0].error_category == "validation"
    assert count(engine, "snapshots") == 0 and count(engine, "positions") == 0
    assert count(engine, "raw_payloads") == 1


def test_database_write_failure_rolls_back_the_whole_source(app, engine):
    """A failure inside the write transaction leaves no half snapshot (but the raw payloads are kept)."""
    snap = snapshot("alpha")
    # A position whose price is non-finite slips past parse into a DB write only if validation is bypassed;
    # simulate a write failure instead with a trigger that rejects the second table written.
    with engine.begin() as conn:
        conn.execute(text("""CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$
                             LANGUAGE plpgsql"""))
        conn.execute(text("CREATE TRIGGER boom BEFORE INSERT ON positions FOR EACH ROW EXECUTE FUNCTION boom()"))
    result = capture(app=app, sources={"alpha": ScriptedSource("alpha", result=ParseResult(snapshots=(snap,)))})
    assert result.status == RunStatus.FAIL
    assert result.sources[0].error_category == "db"
    assert count(engine, "snapshots") == 0 and count(engine, "instruments") == 0
    assert count(engine, "raw_payloads") == 1


@pytest.mark.parametrize("status", [SourceStatus.SUCCESS])
def test_outcome_is_stored_per_source(app, engine, status):
    capture(app=app, sources={"alpha": good()})
    with engine.connect() as conn:
        outcome = conn.execute(text("SELECT outcome FROM snapshot_runs")).scalar_one()
    assert outcome[0]["source"] == "alpha" and outcome[0]["status"] == status
    assert outcome[0]["snapshots_written"] == 1 and "fetch_seconds" in outcome[0]
