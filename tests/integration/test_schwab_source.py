"""The schwab source over real HTTPS against the fake Schwab Trader API (no database here)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portfolio_dashboard.brokers.base import BrokerSource, FetchContext, RetryCounting
from portfolio_dashboard.brokers.schwab import SchwabSource
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import AuthError, ParsingError
from tests.fakes.schwab import (
    CASH_HASH,
    CASH_NUMBER,
    CLIENT_SECRET,
    MARGIN_HASH,
    MARGIN_NUMBER,
    FakeSchwab,
    build_source,
    redirect_code,
    seed_tokens,
)
from tests.fakes.server import Reply

TX_PATH = "/trader/v1/accounts/{}/transactions"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeSchwab]:
    with FakeSchwab() as server:
        yield server


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "schwab-token.json"


def run(source: SchwabSource, ctx: FetchContext | None = None) -> list[RawResponse]:
    raws: list[RawResponse] = []
    source.fetch(raws.append, ctx or FetchContext())
    return raws


def assert_no_secret(fake: FakeSchwab, raws: list[RawResponse], *extra: str) -> None:
    secrets = [CLIENT_SECRET, *fake.issued, *extra]
    for raw in raws:
        blob = raw.body.decode("utf-8", "replace") + raw.endpoint + repr(raw.headers)
        for secret in secrets:
            assert secret not in blob, f"a secret leaked into {raw.endpoint}"


def tx_windows(fake: FakeSchwab, account_hash: str, *, flows: bool = False) -> list[tuple[str, str]]:
    """The trade (or, with ``flows``, the money-flow) transaction windows asked for."""
    return [
        (r.param("startDate") or "", r.param("endDate") or "")
        for r in fake.server.requests
        if r.path == TX_PATH.format(account_hash) and (r.param("types") != "TRADE") == flows
    ]


# --- login ------------------------------------------------------------------------------------------------------
def test_login_flow_then_capture(fake: FakeSchwab, token_path: Path) -> None:
    source = build_source(fake, token_path)
    login = source.oauth.begin()
    redirected = fake.authorize(login.url)  # the user logging in at Schwab in a browser
    assert redirect_code(redirected).endswith("%40")
    source.oauth.finish(login, redirected)
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_path.parent.stat().st_mode) == 0o700
    assert source.oauth.status().refresh_expires_in_s == pytest.approx(7 * 86400, abs=60)
    result = source.parse(run(source))
    assert len(result.snapshots) == 2


def test_login_code_is_single_use_and_state_checked(fake: FakeSchwab, token_path: Path) -> None:
    source = build_source(fake, token_path)
    login = source.oauth.begin()
    redirected = fake.authorize(login.url)
    with pytest.raises(AuthError, match="different login attempt"):
        source.oauth.finish(source.oauth.begin(), redirected)  # a newer login's state
    source.oauth.finish(login, redirected)
    with pytest.raises(AuthError, match="authorization code") as err:
        source.oauth.finish(login, redirected)
    assert "auth schwab" in (err.value.hint or "")


# --- a full capture -------------------------------------------------------------------------------------------
def test_full_capture(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    source = build_source(fake, token_path)
    assert isinstance(source, BrokerSource)
    assert isinstance(source, RetryCounting)
    raws = run(source)
    assert [r.endpoint.split("?")[0] for r in raws] == [
        "GET /trader/v1/accounts/accountNumbers",
        "GET /trader/v1/accounts",
        f"GET {TX_PATH.format(MARGIN_HASH)}",  # trades
        f"GET {TX_PATH.format(MARGIN_HASH)}",  # money flows
        f"GET {TX_PATH.format(CASH_HASH)}",
        f"GET {TX_PATH.format(CASH_HASH)}",
    ]
    assert raws[1].endpoint == "GET /trader/v1/accounts?fields=positions"
    # every account's snapshot is read from the accounts response (stored as snapshots.raw_payload_id)
    assert {s.source_raw.endpoint if s.source_raw else None for s in source.parse(raws).snapshots} == {
        "GET /trader/v1/accounts?fields=positions"}
    assert all(r.status_code == 200 and "date" in r.headers for r in raws)
    assert "schwab-client-correlid" in raws[1].headers
    assert all(r.headers.get("Authorization", "").startswith("Bearer ") for r in fake.server.requests[1:])
    assert fake.token_calls() == 0
    assert_no_secret(fake, raws)

    result = source.parse(raws)
    snaps = {s.account.broker_account_id: s for s in result.snapshots}
    assert set(snaps) == {MARGIN_NUMBER, CASH_NUMBER}
    assert {s.asof_source for s in result.snapshots} == {"http-date"}
    assert snaps[MARGIN_NUMBER].total_value_local is not None
    # First capture: one year back, so the 400-day-old trade and the dividend are not among them.
    assert sorted(t.broker_trade_id for t in result.trades) == [
        "80990733204",
        "80990733310",
        "81000000002",
        "81000000003",
    ]
    for account_hash in (MARGIN_HASH, CASH_HASH):
        ((start, end),) = tx_windows(fake, account_hash)
        span = datetime.fromisoformat(end) - datetime.fromisoformat(start)
        assert span == timedelta(days=365)
    request = next(r for r in fake.server.requests if r.path == TX_PATH.format(MARGIN_HASH))
    assert request.param("types") == "TRADE"
    assert source.credential_expires_in_s == pytest.approx(7 * 86400 - 3600, abs=60)


def test_later_captures_start_a_week_before_the_newest_trade(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    source = build_source(fake, token_path)
    now = datetime.now(UTC)
    newest = {MARGIN_NUMBER: now - timedelta(days=21), CASH_NUMBER: None}
    ctx = FetchContext(now=now, newest_trade_ts=lambda broker, acct: newest[acct] if broker == "schwab" else None)
    trades = source.parse(run(source, ctx)).trades
    ((start, _),) = tx_windows(fake, MARGIN_HASH)
    assert datetime.fromisoformat(start) == (now - timedelta(days=28)).replace(
        microsecond=now.microsecond // 1000 * 1000
    )
    assert {t.broker_trade_id for t in trades if t.broker_account_id == MARGIN_NUMBER} == {"80990733310"}


def test_a_long_gap_is_fetched_in_windows_of_at_most_a_year(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    source = build_source(fake, token_path)
    now = datetime.now(UTC)
    ctx = FetchContext(now=now, newest_trade_ts=lambda broker, acct: now - timedelta(days=500))
    trades = source.parse(run(source, ctx)).trades  # the fake rejects any window over a year
    assert len(tx_windows(fake, CASH_HASH)) == 2
    assert "81000000001" in {t.broker_trade_id for t in trades}


def test_full_transaction_pages_are_split(token_path: Path) -> None:
    with FakeSchwab(max_transactions=2) as fake:
        seed_tokens(fake, token_path)
        source = build_source(fake, token_path, max_transactions=2)
        trades = source.parse(run(source)).trades
        assert {t.broker_trade_id for t in trades} == {"80990733204", "80990733310", "81000000002", "81000000003"}
        assert len(tx_windows(fake, MARGIN_HASH)) > 1


# --- tokens during a capture ----------------------------------------------------------------------------------
def test_expired_access_token_is_refreshed_first(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path, access_expires_in=timedelta(minutes=-5))
    before = token_path.read_text()
    source = build_source(fake, token_path)
    raws = run(source)
    assert fake.token_calls() == 1
    assert [r.status_code for r in raws] == [200] * 6
    assert token_path.read_text() != before
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    assert_no_secret(fake, raws)


def test_access_token_rejected_early_is_refreshed_and_the_call_repeated(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    fake.expire_access_tokens()  # Schwab-side: the token looks valid to us but is dead
    source = build_source(fake, token_path)
    raws = run(source)
    assert [r.status_code for r in raws][:2] == [401, 200]
    assert fake.token_calls() == 1
    assert len(source.parse(raws).snapshots) == 2


def test_expired_refresh_token_is_an_auth_error_naming_the_command(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path, access_expires_in=timedelta(minutes=-5))
    fake.revoke_refresh_tokens()
    source = build_source(fake, token_path)
    raws: list[RawResponse] = []
    with pytest.raises(AuthError) as err:
        source.fetch(raws.append, FetchContext())
    assert err.value.category == "auth"
    assert "portfolio-dashboard auth schwab" in str(err.value)
    assert raws == []  # the token call is never recorded
    assert fake.token_calls() == 1


def test_refresh_token_past_seven_days_fails_before_any_request(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path, access_expires_in=timedelta(minutes=-5), issued_ago=timedelta(days=7, hours=1))
    source = build_source(fake, token_path)
    with pytest.raises(AuthError, match="expired on"):
        run(source)
    assert fake.server.requests == []
    assert source.credential_expires_in_s is not None
    assert source.credential_expires_in_s < 0


# --- faults -------------------------------------------------------------------------------------------------------
def test_429_then_success_is_retried_and_recorded(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    fake.server.fail_next(
        "GET",
        "/trader/v1/accounts",
        Reply.json({"errors": [{"title": "Too Many Requests"}]}, status=429, headers={"Retry-After": "0"}),
    )
    fake.server.fail_next("GET", TX_PATH.format(CASH_HASH), Reply.text("Service Unavailable", 503))
    source = build_source(fake, token_path)
    raws = run(source)
    assert [r.status_code for r in raws] == [200, 429, 200, 200, 200, 503, 200, 200]
    assert source.retries == 2
    assert len(source.parse(raws).snapshots) == 2


def test_malformed_accounts_json_is_kept_and_fails_parse(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    fake.server.fail_next(
        "GET", "/trader/v1/accounts", Reply.text('[{"securitiesAccount": {"accountNu', 200, "application/json")
    )
    source = build_source(fake, token_path)
    raws = run(source)
    assert raws[1].body.startswith(b'[{"securitiesAccount"')
    with pytest.raises(ParsingError, match="not JSON") as err:
        source.parse(raws)
    assert err.value.endpoint == "GET /trader/v1/accounts?fields=positions"


def test_malformed_account_numbers_fail_fetch_with_the_raw_recorded(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    fake.server.fail_next(
        "GET", "/trader/v1/accounts/accountNumbers", Reply.text("<html>oops</html>", 200, "text/html")
    )
    source = build_source(fake, token_path)
    raws: list[RawResponse] = []
    with pytest.raises(ParsingError):
        source.fetch(raws.append, FetchContext())
    assert [r.body for r in raws] == [b"<html>oops</html>"]


def test_bad_request_is_a_validation_error_with_schwabs_message(fake: FakeSchwab, token_path: Path) -> None:
    seed_tokens(fake, token_path)
    fake.server.fail_next(
        "GET",
        "/trader/v1/accounts",
        Reply.json({"message": "Invalid fields", "errors": ["fields must be positions"]}, status=400),
    )
    source = build_source(fake, token_path)
    with pytest.raises(Exception, match="Invalid fields; fields must be positions") as err:
        run(source)
    assert getattr(err.value, "category", None) == "validation"


# --- health -------------------------------------------------------------------------------------------------------
def test_health(fake: FakeSchwab, token_path: Path) -> None:
    source = build_source(fake, token_path)
    missing = source.health()
    assert not missing.authenticated
    assert "portfolio-dashboard auth schwab" in missing.detail
    assert fake.server.requests == []

    seed_tokens(fake, token_path, issued_ago=timedelta(days=2))
    ok = source.health()
    assert ok.reachable
    assert ok.authenticated
    assert ok.accounts == [MARGIN_NUMBER, CASH_NUMBER]
    assert ok.credential_expires_in_s == pytest.approx(5 * 86400, abs=60)
    assert "valid for 4d 23h" in ok.detail

    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    revoked = source.health()
    assert revoked.reachable
    assert not revoked.authenticated
    assert "auth schwab" in revoked.detail


def test_credential_note(fake: FakeSchwab, token_path: Path) -> None:
    source = build_source(fake, token_path)
    assert "auth schwab" in (source.credential_note() or "")
    seed_tokens(fake, token_path, issued_ago=timedelta(days=6, hours=12))
    note = source.credential_note() or ""
    assert note.startswith("Schwab login valid for 11h")
    assert "soon" in note


# --- two processes refreshing at once ---------------------------------------------------------------------------
CHILD = """
import sys, time
from pathlib import Path
import httpx, ssl
from portfolio_dashboard.brokers.schwab_auth import SchwabOAuth
from portfolio_dashboard.local.schwab_tokens import TokenStore
from tests.fakes.schwab import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

base_url, ca_path, token_path, go = sys.argv[1:5]
oauth = SchwabOAuth(
    client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI, base_url=base_url,
    store=TokenStore(Path(token_path)), client=httpx.Client(verify=ssl.create_default_context(cafile=ca_path)),
)
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.005)
try:
    print("ok", oauth.access_token(), flush=True)
except Exception as exc:
    print("error", exc, flush=True)
"""


def test_two_processes_refreshing_at_once_keep_the_rotated_token(token_path: Path, tmp_path: Path) -> None:
    with FakeSchwab(rotate_refresh=True) as fake:  # each refresh invalidates the refresh token it used
        seed_tokens(fake, token_path, access_expires_in=timedelta(minutes=-5))
        go = tmp_path / "go"
        assert fake.ca_path is not None
        argv = [sys.executable, "-c", CHILD, fake.base_url, fake.ca_path, str(token_path), str(go)]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT) for _ in range(2)]
        try:
            for p in procs:
                assert p.stdout is not None
                assert p.stdout.readline().strip() == "ready"
            go.touch()  # both are loaded: let them refresh at the same moment
            results = [p.communicate(timeout=60)[0].split() for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        assert [r[0] for r in results] == ["ok", "ok"], results
        assert results[0][1] == results[1][1]  # the second process used the token the first one saved
        assert fake.token_calls() == 1
        source = build_source(fake, token_path)
        assert len(source.parse(run(source)).snapshots) == 2  # the saved refresh token is the live one


def test_no_secret_in_logs_or_errors_even_at_debug(
    fake: FakeSchwab, token_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    source = build_source(fake, token_path)
    login = source.oauth.begin()
    source.oauth.finish(login, fake.authorize(login.url))
    fake.server.fail_next("POST", "/v1/oauth/token", Reply.json({"error": "server_error"}, status=503))
    fake.server.fail_next("GET", "/trader/v1/accounts", Reply(status=429, headers={"Retry-After": "0"}))
    fake.expire_access_tokens()
    raws = run(source)  # 401 -> refresh (503, retried) -> repeat; 429 retried
    messages = []
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    with pytest.raises(AuthError) as err:
        run(source)
    messages.append(str(err.value))
    health = source.health()
    messages.append(health.detail)
    blob = caplog.text + "\n".join(messages) + repr(source.oauth.store.load()) + repr(health)
    assert "retrying" in caplog.text  # the retries were logged — without their secrets
    for secret in [CLIENT_SECRET, *fake.issued]:
        assert secret not in blob
    assert_no_secret(fake, raws)


def test_close_releases_the_client(fake: FakeSchwab, token_path: Path) -> None:
    source = build_source(fake, token_path)
    source.close()
    assert source.client.is_closed
