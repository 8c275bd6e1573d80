"""Schwab OAuth mechanics: the authorize URL, the pasted redirect, the token file, refresh rules.

The token endpoint is an ``httpx.MockTransport`` here (a hand-written handler, not a mock object); the
real-HTTP flow against the fake Schwab server is in ``tests/integration/test_schwab_source.py``.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.schwab_auth import (
    SchwabOAuth,
    TokenStatus,
    format_duration,
    parse_redirect_url,
    token_status,
)
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.errors import AuthError
from portfolio_dashboard.local.schwab_tokens import TokenSet, TokenStore

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
SECRET = "app-secret-value-7f3a"
BASE = "https://schwab.test"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class TokenEndpoint:
    """A scripted ``/v1/oauth/token``: answers from ``replies`` in order, then issues fresh tokens."""

    def __init__(self, *, rotate: bool = False) -> None:
        self.calls: list[dict[str, str]] = []
        self.replies: list[httpx.Response] = []
        self.rotate = rotate
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.calls.append(form)
            assert request.url.path == "/v1/oauth/token"
            assert request.headers["authorization"].startswith("Basic ")
            if self.replies:
                return self.replies.pop(0)
            n = len(self.calls)
            refresh = (
                f"refresh-{n}" if self.rotate or form["grant_type"] == "authorization_code" else form["refresh_token"]
            )
            body = {"expires_in": 1800, "token_type": "Bearer", "scope": "api", "access_token": f"access-{n}"}
            body["refresh_token"] = refresh
            return httpx.Response(200, json=body)


def make_oauth(tmp_path: Path, endpoint: TokenEndpoint, clock: Clock) -> SchwabOAuth:
    return SchwabOAuth(
        client_id="app-key",
        client_secret=SECRET,
        redirect_uri="https://127.0.0.1",
        base_url=BASE,
        store=TokenStore(tmp_path / "tokens" / "schwab-token.json"),
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
        clock=clock,
        sleep=lambda s: None,
        policy=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0, max_total=5),
    )


def seed(oauth: SchwabOAuth, *, expires_at: datetime, issued: datetime, access: str = "access-0") -> None:
    oauth.store.save(TokenSet(access, "refresh-0", expires_at, issued))


# --- the authorize URL and the pasted redirect -------------------------------------------------------------
def test_authorize_url_uses_configured_base_and_carries_state(tmp_path: Path) -> None:
    oauth = make_oauth(tmp_path, TokenEndpoint(), Clock(T0))
    login = oauth.begin()
    parts = urlsplit(login.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/v1/oauth/authorize"
    assert query == {
        "response_type": "code",
        "client_id": "app-key",
        "redirect_uri": "https://127.0.0.1",
        "state": login.state,
    }
    assert len(login.state) >= 20
    assert oauth.begin().state != login.state


def test_redirect_code_is_percent_decoded_but_plus_is_kept() -> None:
    url = "https://127.0.0.1/?code=C0.b2F1dGgy.AbC%2Bd+e%40&session=1a2b&state=xyz"
    assert parse_redirect_url(f"  {url}\n", "xyz") == "C0.b2F1dGgy.AbC+d+e@"


@pytest.mark.parametrize(
    ("pasted", "expected", "message"),
    [
        ("https://127.0.0.1/?code=abc%40&state=other", "xyz", "different login attempt"),
        ("https://127.0.0.1/?code=abc%40", "xyz", "different login attempt"),
        ("https://127.0.0.1/?session=1&state=xyz", "xyz", "no authorization code"),
        ("https://127.0.0.1/?code=&state=xyz", "xyz", "no authorization code"),
        ("https://127.0.0.1/?error=access_denied&state=xyz", "xyz", "did not authorise"),
        ("C0.abc@", "xyz", "not the redirect address"),
        ("   ", "xyz", "nothing was pasted"),
    ],
)
def test_bad_pastes_are_clear_auth_errors(pasted: str, expected: str, message: str) -> None:
    with pytest.raises(AuthError, match=message) as err:
        parse_redirect_url(pasted, expected)
    assert err.value.hint


# --- the token file -----------------------------------------------------------------------------------------
def test_token_file_is_0600_in_a_0700_directory_and_written_atomically(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "new-dir" / "schwab-token.json")
    tokens = TokenSet("acc", "ref", T0 + timedelta(minutes=30), T0, scope="api")
    store.save(tokens)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in store.path.parent.iterdir()] == ["schwab-token.json"]  # no temp file left behind
    assert store.load() == tokens
    store.save(TokenSet("acc2", "ref", T0 + timedelta(minutes=60), T0))
    loaded = store.load()
    assert loaded is not None
    assert loaded.access_token == "acc2"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    data = json.loads(store.path.read_text())
    assert set(data) >= {"access_token", "refresh_token", "expires_at", "refresh_token_issued_at"}


def test_existing_user_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # noqa: S103 - the point of the test
    TokenStore(shared / "t.json").save(TokenSet("a", "r", T0, T0))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "t.json").stat().st_mode) == 0o600


def test_tokens_never_show_in_repr() -> None:
    tokens = TokenSet("ACCESS-SECRET", "REFRESH-SECRET", T0, T0)
    assert "SECRET" not in repr(tokens)
    assert "SECRET" not in str(tokens)


def test_damaged_or_missing_token_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    assert store.load() is None
    store.path.write_text('{"access_token": "x"}')
    with pytest.raises(AuthError, match="damaged") as err:
        store.load()
    assert "portfolio-dashboard auth schwab" in (err.value.hint or "")


# --- refresh ------------------------------------------------------------------------------------------------
def test_valid_access_token_needs_no_network(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 + timedelta(minutes=20), issued=T0 - timedelta(days=1))
    assert oauth.access_token() == "access-0"
    assert oauth.access_token() == "access-0"
    assert endpoint.calls == []


def test_refreshes_before_expiry_and_keeps_refresh_lifetime(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    oauth = make_oauth(tmp_path, endpoint, clock)
    issued = T0 - timedelta(days=2)
    seed(oauth, expires_at=T0 + timedelta(seconds=60), issued=issued)  # inside the 2-minute leeway
    assert oauth.access_token() == "access-1"
    assert endpoint.calls == [{"grant_type": "refresh_token", "refresh_token": "refresh-0"}]
    saved = oauth.store.load()
    assert saved is not None
    assert saved.expires_at == T0 + timedelta(minutes=30)
    assert saved.refresh_token_issued_at == issued  # same refresh token: its 7 days do not restart
    assert stat.S_IMODE(oauth.store.path.stat().st_mode) == 0o600
    clock.now = T0 + timedelta(minutes=10)
    assert oauth.access_token() == "access-1"
    assert len(endpoint.calls) == 1


def test_rotated_refresh_token_is_saved_with_a_new_issue_time(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(rotate=True), Clock(T0)
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 - timedelta(minutes=1), issued=T0 - timedelta(days=6))
    oauth.access_token()
    saved = oauth.store.load()
    assert saved is not None
    assert saved.refresh_token == "refresh-1"
    assert saved.refresh_token_issued_at == T0


def test_rejected_token_is_refreshed_even_if_it_looks_valid(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 + timedelta(minutes=20), issued=T0)
    assert oauth.access_token(rejected="access-0") == "access-1"
    # A different token in the file means another process already refreshed: use it, no second refresh.
    assert oauth.access_token(rejected="access-0") == "access-1"
    assert len(endpoint.calls) == 1


def test_expired_refresh_token_is_an_auth_error_without_a_request(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 - timedelta(hours=1), issued=T0 - timedelta(days=7, minutes=1))
    with pytest.raises(AuthError, match="expired") as err:
        oauth.access_token()
    assert err.value.category == "auth"
    assert "portfolio-dashboard auth schwab" in err.value.user_message()
    assert endpoint.calls == []


def test_revoked_refresh_token_names_the_fix_and_no_secret(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    inner = (
        '{"error_description":"Exception while authenticating refresh token [tokenDigest=abc=, '
        'Exception=Failed refresh token authentication]","error":"refresh_token_authentication_error"}'
    )
    endpoint.replies = [
        httpx.Response(
            400, json={"error": "unsupported_token_type", "error_description": f'400 Bad Request: "{inner}"'}
        )
    ]
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 - timedelta(minutes=1), issued=T0 - timedelta(days=1))
    with pytest.raises(AuthError) as err:
        oauth.access_token()
    text = str(err.value)
    assert "refresh token" in text
    assert "portfolio-dashboard auth schwab" in text
    assert "refresh-0" not in text
    assert "access-0" not in text
    assert SECRET not in text
    assert len(endpoint.calls) == 1  # an auth error is never retried


def test_wrong_app_credentials_point_at_the_settings(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    endpoint.replies = [httpx.Response(401, json={"error": "invalid_client", "error_description": "Unauthorized"})]
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 - timedelta(minutes=1), issued=T0)
    with pytest.raises(AuthError, match="app key/secret") as err:
        oauth.access_token()
    assert "SCHWAB_CLIENT_SECRET" in (err.value.hint or "")


def test_token_endpoint_outage_is_retried(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    endpoint.replies = [httpx.Response(503, text="down"), httpx.Response(429, headers={"Retry-After": "0"})]
    oauth = make_oauth(tmp_path, endpoint, clock)
    seed(oauth, expires_at=T0 - timedelta(minutes=1), issued=T0)
    assert oauth.access_token() == "access-3"
    assert oauth.http.retries == 2


def test_no_token_file_says_how_to_log_in(tmp_path: Path) -> None:
    oauth = make_oauth(tmp_path, TokenEndpoint(), Clock(T0))
    with pytest.raises(AuthError, match="not logged in") as err:
        oauth.access_token()
    assert "portfolio-dashboard auth schwab" in (err.value.hint or "")


def test_concurrent_threads_refresh_once(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(rotate=True), Clock(T0)
    oauths = [make_oauth(tmp_path, endpoint, clock) for _ in range(4)]  # separate instances, one file
    seed(oauths[0], expires_at=T0 - timedelta(minutes=1), issued=T0)
    results: list[str] = []
    barrier = threading.Barrier(len(oauths))

    def run(o: SchwabOAuth) -> None:
        barrier.wait()
        results.append(o.access_token())

    threads = [threading.Thread(target=run, args=(o,)) for o in oauths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["access-1"] * 4
    assert len(endpoint.calls) == 1


def test_code_exchange_saves_tokens_and_status(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    oauth = make_oauth(tmp_path, endpoint, clock)
    login = oauth.begin()
    oauth.finish(login, f"https://127.0.0.1/?code=C0.xyz%40&session=s&state={login.state}")
    assert endpoint.calls == [
        {"grant_type": "authorization_code", "code": "C0.xyz@", "redirect_uri": "https://127.0.0.1"}
    ]
    status = oauth.status()
    assert status.usable
    assert status.refresh_expires_in_s == pytest.approx(7 * 86400)
    assert status.access_expires_in_s == pytest.approx(1800)
    assert "7d 0h" in status.describe()


def test_rejected_code_explains_and_scrubs(tmp_path: Path) -> None:
    endpoint, clock = TokenEndpoint(), Clock(T0)
    endpoint.replies = [
        httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "Bad authorization code C0.xyz@ expired"}
        )
    ]
    oauth = make_oauth(tmp_path, endpoint, clock)
    login = oauth.begin()
    with pytest.raises(AuthError, match="authorization code") as err:
        oauth.finish(login, f"https://127.0.0.1/?code=C0.xyz%40&state={login.state}")
    assert "C0.xyz@" not in str(err.value)
    assert not oauth.store.exists()


# --- status -------------------------------------------------------------------------------------------------
def test_status_descriptions(tmp_path: Path) -> None:
    settings = load_settings(portfolio_data_dir=tmp_path, _env_file=None)
    missing = token_status(settings)
    assert not missing.present
    assert "portfolio-dashboard auth schwab" in missing.describe()
    TokenStore(settings.resolved_schwab_token_path).save(
        TokenSet("a", "r", T0 + timedelta(minutes=30), T0 - timedelta(days=6, hours=20))
    )
    soon = token_status(settings, clock=lambda: T0)
    assert soon.usable
    assert soon.describe().startswith("Schwab login valid for 4h 0m more")
    assert "soon" in soon.describe()
    gone = token_status(settings, clock=lambda: T0 + timedelta(days=1))
    assert not gone.usable
    assert "expired 20h 0m ago" in gone.describe()
    assert TokenStatus("p", True, problem="damaged").describe().startswith("damaged")


def test_format_duration() -> None:
    assert format_duration(5 * 86400 + 3 * 3600 + 59) == "5d 3h"
    assert format_duration(3 * 3600 + 12 * 60) == "3h 12m"
    assert format_duration(59) == "0m"
    assert format_duration(-5) == "0m"
