"""End to end: the real CLI (`auth schwab`, `capture --source schwab`, `status`) against the fake Schwab API
and a real embedded PostgreSQL — stored snapshots, positions, cash and trades, the token file's mode, and
that no secret reaches stdout, stderr, the database or the raw payloads.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import FxRate, RunStatus, TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from tests.fakes.schwab import (
    CASH_NUMBER,
    CLIENT_ID,
    CLIENT_SECRET,
    MARGIN_NUMBER,
    REDIRECT_URI,
    FakeSchwab,
    seed_tokens,
)

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "portfolio_dashboard"]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeSchwab]:
    # Plain HTTP on 127.0.0.1: the CLI builds its own client with default verification, so no test CA.
    with FakeSchwab(tls=False) as server:
        yield server


@pytest.fixture
def schwab_env(cli_env: dict[str, str], fake: FakeSchwab) -> dict[str, str]:
    return {
        **cli_env,
        "SCHWAB_CLIENT_ID": CLIENT_ID,
        "SCHWAB_CLIENT_SECRET": CLIENT_SECRET,
        "SCHWAB_REDIRECT_URI": REDIRECT_URI,
        "SCHWAB_API_BASE_URL": fake.base_url,
        "BROKERS": "schwab",
        "PYTHONPATH": str(REPO_ROOT),
    }


def token_file(env: dict[str, str]) -> Path:
    return Path(env["PORTFOLIO_DATA_DIR"]) / "schwab-token.json"


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def store_usd_gbp(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with UnitOfWork(engine) as uow:
            rate = FxRate("USD", "GBP", Decimal("0.79"), datetime.now(UTC) - timedelta(hours=1), "manual")
            uow.repo.upsert_fx_rates([rate])
            uow.commit()
    finally:
        engine.dispose()


def database_text(db_url: str) -> str:
    """Every row of every table as text: what a secret would have to hide in."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
            return "\n".join(
                row for t in tables for row in conn.execute(text(f'SELECT t::text FROM "{t}" t')).scalars()
            )
    finally:
        engine.dispose()


def test_capture_cli_stores_schwab_and_keeps_secrets_out(
    fake: FakeSchwab, schwab_env: dict[str, str], db_url: str
) -> None:
    seed_tokens(fake, token_file(schwab_env), access_expires_in=timedelta(minutes=-1))  # refresh first
    store_usd_gbp(db_url)

    result = cli(schwab_env, "capture", "--source", "schwab")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schwab: ok" in result.stdout
    assert "Schwab login valid for 6d 22h more" in result.stdout
    assert fake.token_calls() == 1
    mode = stat.S_IMODE(token_file(schwab_env).stat().st_mode)
    assert mode == 0o600

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            snaps = conn.execute(
                text(
                    """SELECT broker_account_id, asof_source, total_value_local, total_value_gbp
                       FROM snapshots WHERE broker = 'schwab' ORDER BY 1"""
                )
            ).all()
            assert [(s[0], s[1], s[2]) for s in snaps] == [
                (MARGIN_NUMBER, "http-date", Decimal("22771.50")),
                (CASH_NUMBER, "http-date", Decimal("17544.40")),
            ]
            assert all(s[3] is not None for s in snaps)  # valued in GBP at the stored rate
            positions = dict(
                conn.execute(
                    text(
                        """SELECT i.broker_instrument_id || '@' || s.broker_account_id, p.quantity
                           FROM positions p JOIN snapshots s ON s.id = p.snapshot_id
                           JOIN instruments i ON i.id = p.instrument_id"""
                    )
                ).all()
            )
            assert positions[f"AAPL@{MARGIN_NUMBER}"] == Decimal(50)
            assert positions[f"TSLA@{MARGIN_NUMBER}"] == Decimal(-10)  # the short
            assert positions[f"SWPPX@{CASH_NUMBER}"] == Decimal("100.123")  # the mutual fund
            assert positions[f"CASH.USD@{MARGIN_NUMBER}"] == Decimal("7500.00")
            assert positions[f"CASH.USD@{CASH_NUMBER}"] == Decimal("1234.56")
            isin = conn.execute(text("SELECT isin FROM instruments WHERE broker_instrument_id = 'AAPL'")).scalar()
            assert isin == "US0378331005"
            trades = conn.execute(text("SELECT broker_trade_id FROM trades ORDER BY 1")).scalars().all()
            assert trades == ["80990733204", "80990733310", "81000000002", "81000000003"]
            raws = conn.execute(text("SELECT count(*) FROM raw_payloads")).scalar()
            assert raws == 6  # account numbers, accounts, and per account its trades and its money flows
    finally:
        engine.dispose()

    # A second capture is incremental and idempotent: no new trades, same snapshots or new as-of ones.
    again = cli(schwab_env, "capture", "--source", "schwab")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "new trades" not in again.stdout

    status = cli(schwab_env, "status")
    assert "login: schwab: Schwab login valid for" in status.stdout

    secrets = [CLIENT_SECRET, *fake.issued]
    everything = database_text(db_url)
    for output in (result.stdout, result.stderr, again.stdout, again.stderr, status.stdout, status.stderr, everything):
        for secret in secrets:
            assert secret not in output
    assert "accountNumbers" in everything  # the dump did include the raw payloads


def test_auth_cli_login_by_pasting_the_redirect(fake: FakeSchwab, schwab_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*CLI, "auth", "schwab"],
        env=schwab_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        url = ""
        while not url:
            line = proc.stdout.readline()
            assert line, "the command ended before printing the login link"
            if "/v1/oauth/authorize?" in line:
                url = line.strip()
        redirected = fake.authorize(url)  # the user's browser, after logging in
        out, err = proc.communicate("not a url\n" + redirected + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "not the redirect address" in err  # a bad paste is explained and asked again
    assert "Logged in." in out
    assert "Schwab login valid for 7d 0h more" in out or "Schwab login valid for 6d 23h more" in out
    path = token_file(schwab_env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for secret in [CLIENT_SECRET, *fake.issued[1:]]:  # [0] is the code the user pasted
        assert secret not in out + err

    status = cli(schwab_env, "auth", "schwab", "--status")
    assert status.returncode == 0
    assert "valid for" in status.stdout


def test_revoked_schwab_login_fails_only_schwab(fake: FakeSchwab, db_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        database_url=db_url,
        portfolio_data_dir=tmp_path / "data",
        schwab_client_id=CLIENT_ID,
        schwab_client_secret=CLIENT_SECRET,
        schwab_api_base_url=fake.base_url,
        _env_file=None,
    )
    seed_tokens(fake, settings.resolved_schwab_token_path, access_expires_in=timedelta(minutes=-1))
    fake.revoke_refresh_tokens()
    app = get_app(settings)
    try:
        result = capture(TriggerContext(sources=("schwab", "demo")), app=app)
    finally:
        app.dispose()
    assert result.status == RunStatus.PARTIAL
    outcomes = {o.source: o for o in result.sources}
    assert outcomes["demo"].status == "success"
    schwab = outcomes["schwab"]
    assert schwab.status == "fail"
    assert schwab.error_category == "auth"
    assert "portfolio-dashboard auth schwab" in (schwab.error_message or "")
    assert result.error_summary is not None
    assert "auth schwab" in result.error_summary
