"""Nothing valued with made-up data, no secret kept, no hostile body stored as data (issue 16) — through the real
capture against the fake Schwab, Client Portal gateway and Flex servers, on a real PostgreSQL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import BrokerSource
from portfolio_dashboard.domain import FxRate, RunStatus, TriggerContext
from portfolio_dashboard.logs import setup_logging
from portfolio_dashboard.services.alerts import Message
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.demo_history import clear, seed
from portfolio_dashboard.services.monitoring import collect, run_alerts
from portfolio_dashboard.storage.reads import audit
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from tests.fakes.ib_flex import FakeFlex
from tests.fakes.ib_gateway import FakeIbGateway, VirtualClock, general_account
from tests.fakes.schwab import CLIENT_SECRET, FakeSchwab, build_source, seed_tokens
from tests.fakes.server import Reply
from tests.integration.test_capture_ib_flex import QUERY, TOKEN, flex_source, use_ecb
from tests.integration.test_ib_gateway import make_source

DEEP = 200_000


def rows(app: App, sql: str, **params: Any) -> list[Any]:
    with app.engine.connect() as conn:
        return list(conn.execute(text(sql), params).mappings().all())


def run(app: App, name: str, source: BrokerSource) -> Any:
    return capture(TriggerContext(sources=(name,)), app=app, sources={name: source})


@pytest.fixture
def schwab() -> Iterator[FakeSchwab]:
    with FakeSchwab() as fake:
        yield fake


# --- provenance ---------------------------------------------------------------------------------------------
def test_a_stored_demo_rate_never_values_a_real_account(app: App, schwab: FakeSchwab, tmp_path: Path) -> None:
    """The demo's simulated USD rate once overstated a Schwab account by 14.7%: now its GBP value stays empty,
    with a warning, until a real rate is known."""
    use_ecb(app, None)
    with UnitOfWork(app.engine) as uow:
        uow.repo.upsert_fx_rates([FxRate("USD", "GBP", Decimal("0.9"), datetime.now(UTC) - timedelta(hours=1),
                                         "demo")])
        uow.commit()
    seed_tokens(schwab, tmp_path / "token.json")
    result = run(app, "schwab", build_source(schwab, tmp_path / "token.json"))
    assert result.status == RunStatus.SUCCESS, result.error_summary
    snaps = rows(app, "SELECT * FROM snapshots WHERE broker = 'schwab'")
    assert snaps and all(s["total_value_gbp"] is None and s["fx_complete"] is False for s in snaps)
    assert not rows(app, """SELECT 1 FROM positions p JOIN fx_rates f ON f.id = p.fx_rate_id
                            WHERE f.provider LIKE '%demo%'""")
    assert any("no USD->GBP rate available" in w for w in result.warnings), result.warnings


def test_demo_rates_still_value_the_demo_and_demo_clear_removes_them(app: App) -> None:
    seed(app, 3)
    assert rows(app, "SELECT count(*) AS n FROM fx_rates WHERE provider LIKE 'demo%'")[0]["n"] > 0
    assert all(s["fx_complete"] for s in rows(app, "SELECT fx_complete FROM snapshots"))
    clear(app)
    assert rows(app, "SELECT count(*) AS n FROM fx_rates WHERE provider LIKE '%demo%'")[0]["n"] == 0


# --- secrets ------------------------------------------------------------------------------------------------
def test_a_401_body_echoing_the_token_reaches_no_sink(app: App, schwab: FakeSchwab, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Log, run record, raw_payloads, alert, dashboard (the Runs page's read model) and the CLI's summary."""
    use_ecb(app, None)
    seed_tokens(schwab, tmp_path / "token.json")
    schwab.echo_token_in_401 = True
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("portfolio_dashboard").level
    setup_logging()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    root.handlers.append(caplog.handler)
    try:
        result = run(app, "schwab", build_source(schwab, tmp_path / "token.json"))
    finally:
        root.handlers[:], level, ours = saved
        root.setLevel(level)
        logging.getLogger("portfolio_dashboard").setLevel(ours)
    assert result.status == RunStatus.FAIL
    assert result.sources[0].error_category == "auth"
    secrets = [CLIENT_SECRET, *schwab.issued]
    assert any(s.startswith("I0.access-") for s in secrets)

    raws = rows(app, "SELECT * FROM raw_payloads")
    refused = [r for r in raws if r["status_code"] == 401]
    assert refused, "the refused responses are kept (minus the secret values)"
    assert all(r["redacted"] for r in refused)
    assert all("***" in str(r["payload_json"] or r["body_text"]) for r in refused)
    [record] = rows(app, "SELECT * FROM snapshot_runs")
    alerts: list[Message] = []
    app.settings = app.settings.model_copy(update={"alert_urls": "pdtest://ops"})
    run_alerts(app, collect(app, datetime.now(UTC), timedelta(days=1), with_health=False),
               notifier=lambda m: alerts.append(m) or True)
    assert alerts
    with app.engine.connect() as conn:  # what the Runs page shows: runs, outcome, every raw payload's body
        page: list[Any] = list(audit.runs(conn, Scope(), 10))
        for line in list(page):
            page += [audit.raw_payload(conn, meta.id) for meta in audit.run_payloads(conn, line.run_id)]
    sinks = {
        "log (formatted)": stream.getvalue(),
        "log (records)": "\n".join(r.getMessage() for r in caplog.records),
        "run record": repr(dict(record)),
        "raw_payloads": repr([dict(r) for r in raws]),
        "alert": "\n".join(f"{m.title}\n{m.body}" for m in alerts),
        "dashboard": repr(page),
        "capture summary": f"{result.error_summary} {result.warnings} {result.sources}",
    }
    assert "Schwab rejected" in sinks["run record"]
    for sink, blob in sinks.items():
        for secret in secrets:
            assert secret not in blob, f"a secret reached the {sink}"
            assert secret.rstrip("@") not in blob, f"a secret reached the {sink}"


# --- pathological bodies -------------------------------------------------------------------------------------
DEEP_JSON = b"[" * DEEP + b"]" * DEEP
HUGE_NUMBER_JSON = b'{"accountNumber": 1' + b"0" * 100_000 + b'}'


def assert_parsing_failure_kept(app: App, result: Any, body: bytes) -> None:
    assert result.status == RunStatus.FAIL
    [outcome] = result.sources
    assert outcome.error_category == "parsing", outcome
    assert outcome.raw_payloads >= 1
    kept = rows(app, "SELECT body_text, payload_json, content_sha256 FROM raw_payloads")
    assert any(r["body_text"] is not None and len(r["body_text"]) == len(body) for r in kept), \
        "the hostile body is stored (as text) for the record"


@pytest.mark.parametrize("body", [DEEP_JSON, HUGE_NUMBER_JSON], ids=["deep", "huge-number"])
def test_schwab_pathological_json(app: App, schwab: FakeSchwab, tmp_path: Path, body: bytes) -> None:
    use_ecb(app, None)
    seed_tokens(schwab, tmp_path / "token.json")
    schwab.server.fail_next("GET", "/trader/v1/accounts/accountNumbers",
                            Reply(200, body, {"Content-Type": "application/json"}))
    result = run(app, "schwab", build_source(schwab, tmp_path / "token.json"))
    assert_parsing_failure_kept(app, result, body)


@pytest.mark.parametrize("body", [DEEP_JSON, HUGE_NUMBER_JSON], ids=["deep", "huge-number"])
def test_gateway_pathological_json(app: App, body: bytes) -> None:
    use_ecb(app, None)
    clock = VirtualClock()
    with FakeIbGateway([general_account()], clock=clock) as gateway:
        gateway.fail_next("GET", "/portfolio/accounts", Reply(200, body, {"Content-Type": "application/json"}))
        result = run(app, "ib_gateway", make_source(gateway, clock))
    assert_parsing_failure_kept(app, result, body)


DEEP_XML = (b'<?xml version="1.0"?><FlexQueryResponse><FlexStatements count="1">' + b"<a>" * DEEP
            + b"</a>" * DEEP + b"</FlexStatements></FlexQueryResponse>")
HUGE_XML = (b'<?xml version="1.0"?><FlexQueryResponse><FlexStatements count="1"><FlexStatement accountId="U1" '
            b'fromDate="20250612" toDate="20250612" whenGenerated="20250613;010203"><AccountInformation '
            b'accountId="U1" currency="USD"/><EquitySummaryInBase><EquitySummaryByReportDateInBase accountId="U1" '
            b'reportDate="20250612" total="1' + b"0" * 100_000 + b'"/></EquitySummaryInBase><OpenPositions/>'
            b'<CashReport/></FlexStatement></FlexStatements></FlexQueryResponse>')


@pytest.mark.parametrize("body", [DEEP_XML, HUGE_XML], ids=["deep", "huge-number"])
def test_flex_pathological_xml(app: App, body: bytes) -> None:
    use_ecb(app, None)
    with FakeFlex(token=TOKEN, query_id=QUERY, statement=body) as flex:
        result = run(app, "ib_flex", flex_source(flex))
    assert result.status == RunStatus.FAIL
    [outcome] = result.sources
    assert outcome.error_category in ("parsing", "validation"), outcome
    kept = rows(app, "SELECT body_text FROM raw_payloads WHERE body_text LIKE '%FlexQueryResponse%'")
    assert any(len(r["body_text"]) == len(body) for r in kept)
