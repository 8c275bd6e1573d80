"""End to end: the real `portfolio-dashboard capture --source ib_gateway` CLI against the fake gateway over
HTTPS (verified with the test's own CA via IB_GATEWAY_VERIFY), writing to a real embedded PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from portfolio_dashboard.storage.engine import make_engine
from tests.fakes.ib_gateway import SESSION_ID, FakeIbGateway, general_account, isa_account

# The broker's as-of: now (with milliseconds), since /iserver/exchangerate rates are timed by the HTTP Date.
TS_MS = int(time.time()) * 1000 + 123


def _capture(env: dict[str, str], gw: FakeIbGateway) -> subprocess.CompletedProcess[str]:
    env = {
        **env,
        "IB_GATEWAY_URL": gw.url,
        "IB_GATEWAY_VERIFY": gw.ca_path,
        "ECB_RATES_URL": "http://127.0.0.1:9/eurofxref-daily.xml",  # never the internet
    }
    return subprocess.run(
        [sys.executable, "-m", "portfolio_dashboard", "capture", "--source", "ib_gateway", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_cli_capture_stores_the_gateway_accounts(cli_env: dict[str, str], db_url: str) -> None:
    with FakeIbGateway([isa_account(), general_account()], timestamp_ms=TS_MS) as gw:
        proc = _capture(cli_env, gw)
        requests = len(gw.server.requests)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)
    assert run["status"] == "success"
    assert run["warnings"] == []  # reconciled, every rate found, nothing skipped
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            snaps = conn.execute(
                text(
                    "SELECT broker_account_id, asof_ts, asof_source, account_currency, total_value_local,"
                    " total_value_gbp, reported_total_gbp, fx_complete, source FROM snapshots ORDER BY 1"
                )
            ).all()
            positions = dict(
                conn.execute(
                    text(
                        "SELECT s.broker_account_id, count(*) FROM positions p"
                        " JOIN snapshots s ON s.id = p.snapshot_id GROUP BY 1"
                    )
                ).all()
            )
            missing_gbp = conn.execute(text("SELECT count(*) FROM positions WHERE market_value_gbp IS NULL")).scalar()
            rates = conn.execute(text("SELECT source_ccy, target_ccy, provider FROM fx_rates")).all()
            raws = conn.execute(text("SELECT endpoint, payload_json::text, body_text FROM raw_payloads")).all()
            etf = conn.execute(
                text("SELECT asset_class, broker_asset_class, exchange FROM instruments WHERE symbol = 'VUSA'")
            ).one()
    finally:
        engine.dispose()

    assert [s.broker_account_id for s in snaps] == ["U1234567", "U7654321"]
    for s in snaps:
        assert s.asof_ts == datetime.fromtimestamp(TS_MS / 1000, tz=UTC)
        assert s.asof_source == "summary.netliquidation.timestamp"
        assert (s.account_currency, s.source, s.fx_complete) == ("GBP", "ib_gateway", True)
        parts = positions[s.broker_account_id]
        assert abs(Decimal(s.total_value_gbp) - Decimal(s.reported_total_gbp)) <= Decimal("0.01") * parts
    # 8 holdings + GBP and USD cash; 130 holdings + GBP and EUR cash
    assert positions == {"U1234567": 10, "U7654321": 132}
    assert missing_gbp == 0
    assert {("USD", "GBP", "ib"), ("EUR", "GBP", "ib"), ("CHF", "GBP", "ib")} <= set(rates)
    assert len(raws) == requests  # every response the gateway gave is stored
    assert all(SESSION_ID not in (r.payload_json or r.body_text or "") for r in raws)
    assert tuple(etf) == ("etf", "STK", "LSEETF")


def test_cli_capture_when_not_logged_in_fails_with_a_login_hint(cli_env: dict[str, str], db_url: str) -> None:
    with FakeIbGateway([isa_account()]) as gw:
        gw.logged_in = False
        url = gw.url
        proc = _capture(cli_env, gw)
    assert proc.returncode == 1
    run = json.loads(proc.stdout)
    outcome = run["sources"][0]
    assert outcome["error_category"] == "auth"
    assert f"log in to the IBKR Client Portal gateway at {url}" in outcome["error_message"]
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT status_code FROM raw_payloads")).scalars().all()
    finally:
        engine.dispose()
    assert stored == [401]  # the failed answer is kept for diagnosis
