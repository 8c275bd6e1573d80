"""Schwab OAuth 2 (authorization code grant): log in once a week, refresh every 30 minutes, keep it secret.

The flow a person lives with (``portfolio-dashboard auth schwab``, or the UI calling the same functions):

1. ``begin_login(settings)`` gives the authorize URL (and the ``state`` to check later).
2. The user logs in at Schwab in any browser and is redirected to ``SCHWAB_REDIRECT_URI`` — with a
   ``https://127.0.0.1`` callback the browser shows an error page, which is fine: nothing needs to listen.
3. ``finish_login(settings, login, pasted_url)`` takes the URL from the address bar, checks ``state``,
   exchanges the code at ``/v1/oauth/token`` (HTTP Basic with app key and secret) and saves the tokens.

After that ``SchwabOAuth.access_token()`` hands out a valid access token, refreshing it (and saving the
new pair) shortly before its 30 minutes are up. The refresh token lasts 7 days; when it has lapsed or Schwab
revokes it, every path ends in an ``AuthError`` whose hint names the command that fixes it.

Library use: authlib builds the authorize URL and the ``state`` (schwab-py was read first; it hard-codes
``https://api.schwabapi.com`` so it cannot be pointed at a test server). The token calls go through our
``BrokerHttp`` with ``record=False`` so they share its pacing, retries and error mapping and their bodies —
the tokens — are never recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from pydantic import SecretStr

from portfolio_dashboard.brokers.http import BrokerHttp, RetryPolicy
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import AuthError, ConfigError, SourceError, scrub_secrets
from portfolio_dashboard.local.schwab_tokens import (
    AUTH_COMMAND,
    AUTH_HINT,
    SOURCE,
    TokenSet,
    TokenStatus,
    TokenStore,
    format_duration,
    status_of,
)

__all__ = [
    "AUTH_COMMAND",
    "AUTH_HINT",
    "LoginRequest",
    "SchwabOAuth",
    "TokenStatus",
    "begin_login",
    "finish_login",
    "format_duration",
    "parse_redirect_url",
    "token_status",
]

AUTHORIZE_PATH = "/v1/oauth/authorize"
TOKEN_PATH = "/v1/oauth/token"  # noqa: S105 - an endpoint path, not a secret
# Refresh this long before the access token's expiry so a request never goes out with a dying token.
ACCESS_LEEWAY = timedelta(minutes=2)
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
CREDENTIALS_HINT = "check SCHWAB_CLIENT_ID (app key) and SCHWAB_CLIENT_SECRET against the Schwab developer portal"

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What ``begin_login`` hands to the user (``url``) and keeps for ``finish_login`` (``state``)."""

    url: str
    state: str
    redirect_uri: str


def parse_redirect_url(pasted: str, expected_state: str | None) -> str:
    """The authorization code from the URL the browser was redirected to.

    Schwab codes end in ``@`` sent as ``%40``; the value is percent-decoded but ``+`` is kept literally
    (``parse_qsl`` would turn it into a space and corrupt the code).
    """
    text = pasted.strip()
    if not text:
        raise AuthError("nothing was pasted", source=SOURCE, hint="paste the whole address you were redirected to")
    parts = urlsplit(text)
    if not parts.scheme or not parts.query:
        raise AuthError(
            "that is not the redirect address (expected a URL with ?code=...)",
            source=SOURCE,
            hint="after logging in, copy the entire address from the browser's address bar",
        )
    params: dict[str, str] = {}
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if key and key not in params:
            params[unquote(key)] = unquote(value)
    if "error" in params:
        raise AuthError(
            f"Schwab did not authorise the app ({params['error'][:80]})",
            source=SOURCE,
            hint=f"run `{AUTH_COMMAND}` again and choose Allow",
        )
    if expected_state is not None and params.get("state") != expected_state:
        raise AuthError(
            "the pasted address belongs to a different login attempt (state does not match)",
            source=SOURCE,
            hint="paste the address from the login you just started, or start again",
        )
    code = params.get("code", "")
    if not code:
        raise AuthError(
            "the pasted address has no authorization code",
            source=SOURCE,
            hint="log in and choose Allow, then paste the address the browser ends up on",
        )
    return code


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class SchwabOAuth:
    """The OAuth mechanics for one app key and one token file. Thread-safe."""

    def __init__(
        self,
        *,
        client_id: SecretStr | str,
        client_secret: SecretStr | str,
        redirect_uri: str,
        base_url: str,
        store: TokenStore,
        client: httpx.Client,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._client_id = client_id if isinstance(client_id, SecretStr) else SecretStr(client_id)
        self._client_secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.redirect_uri = redirect_uri
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: TokenSet | None = None
        self.http = BrokerHttp(
            source=SOURCE,
            broker=SOURCE,
            client=client,
            policy=policy or RetryPolicy(),
            classify=self._classify_token_error,
            sleep=sleep,
        )
        # What the token call in flight is about, for the error classifier (calls are serialised by _call_lock).
        self._call_lock = threading.Lock()
        self._in_flight_secrets: tuple[str, ...] = ()
        self._in_flight_grant = ""

    # --- login ------------------------------------------------------------------------------------------
    def begin(self, state: str | None = None) -> LoginRequest:
        state = state or generate_token(32)
        url = prepare_grant_uri(
            f"{self.base_url}{AUTHORIZE_PATH}",
            client_id=self._client_id.get_secret_value(),
            response_type="code",
            redirect_uri=self.redirect_uri,
            state=state,
        )
        return LoginRequest(url=str(url), state=state, redirect_uri=self.redirect_uri)

    def finish(self, login: LoginRequest, pasted_url: str) -> TokenSet:
        """Exchange the pasted redirect's code for tokens and save them (replacing any older login)."""
        code = parse_redirect_url(pasted_url, login.state)
        now = self.clock()
        body = self._token_call(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": login.redirect_uri},
            secrets=(code,),
        )
        tokens = self._tokens_from(body, now, previous=None)
        with self.store.locked():
            self.store.save(tokens)
        with self._lock:
            self._cached = tokens
        return tokens

    # --- use --------------------------------------------------------------------------------------------
    def access_token(self, *, rejected: str | None = None) -> str:
        """A valid access token, refreshed and saved when it is about to expire.

        ``rejected`` is a token the API has just answered 401 to: refresh even though it looks valid —
        unless another process has already replaced it, in which case that newer token is used.
        """
        with self._lock:
            cached = self._cached
            if cached is not None and rejected is None and cached.access_valid(self.clock(), ACCESS_LEEWAY):
                return cached.access_token
            with self.store.locked():
                tokens = self.store.load()
                if tokens is None:
                    raise AuthError(
                        f"not logged in to Schwab (no token file at {self.store.path})", source=SOURCE, hint=AUTH_HINT
                    )
                now = self.clock()
                fresh_enough = tokens.access_valid(now, ACCESS_LEEWAY)
                if not fresh_enough or (rejected is not None and tokens.access_token == rejected):
                    tokens = self._refresh(tokens, now)
                    self.store.save(tokens)
                self._cached = tokens
                return tokens.access_token

    def status(self) -> TokenStatus:
        return status_of(self.store, self.clock())

    # --- token endpoint ---------------------------------------------------------------------------------
    def _refresh(self, tokens: TokenSet, now: datetime) -> TokenSet:
        if tokens.refresh_seconds_left(now) <= 0:
            raise AuthError(
                f"the Schwab refresh token expired on {tokens.refresh_expires_at:%Y-%m-%d %H:%M} UTC "
                "(Schwab allows 7 days between logins)",
                source=SOURCE,
                endpoint=f"POST {TOKEN_PATH}",
                hint=AUTH_HINT,
            )
        body = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            secrets=(tokens.refresh_token, tokens.access_token),
        )
        return self._tokens_from(body, now, previous=tokens)

    def _token_call(self, form: dict[str, str], *, secrets: tuple[str, ...]) -> object:
        with self._call_lock:
            self._in_flight_secrets = (*secrets, self._client_secret.get_secret_value())
            self._in_flight_grant = form["grant_type"]
            try:
                raw = self.http.request(
                    "POST",
                    f"{self.base_url}{TOKEN_PATH}",
                    data=form,
                    auth=(self._client_id.get_secret_value(), self._client_secret.get_secret_value()),
                    headers={"Accept": "application/json"},
                    record=False,  # the body is the tokens themselves
                )
            finally:
                self._in_flight_secrets = ()
        body = raw.json_or_none()
        if not isinstance(body, dict):
            raise AuthError(
                f"Schwab's token endpoint answered with something that is not JSON (HTTP {raw.status_code})",
                source=SOURCE,
                endpoint=raw.endpoint,
                status_code=raw.status_code,
                hint=f"try again later; if it persists, {AUTH_HINT}",
            )
        return body

    def _tokens_from(self, body: object, now: datetime, previous: TokenSet | None) -> TokenSet:
        assert isinstance(body, dict)
        access = body.get("access_token")
        refresh = body.get("refresh_token")
        expires_in = body.get("expires_in")
        if not isinstance(access, str) or not access:
            raise AuthError("Schwab's token response has no access_token", source=SOURCE, hint=AUTH_HINT)
        if not isinstance(refresh, str) or not refresh:
            if previous is None:
                raise AuthError("Schwab's token response has no refresh_token", source=SOURCE, hint=AUTH_HINT)
            refresh = previous.refresh_token
        try:
            lifetime = float(expires_in) if expires_in is not None and not isinstance(expires_in, bool) else 1800.0
        except (TypeError, ValueError):
            lifetime = 1800.0  # Schwab documents 30 minutes; a malformed value must not keep a dead token
        # A refresh that returns the same refresh token does not extend its 7 days; a new one starts them.
        issued = previous.refresh_token_issued_at if previous and previous.refresh_token == refresh else now
        scope = body.get("scope")
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=now + timedelta(seconds=lifetime),
            refresh_token_issued_at=issued,
            token_type=str(body.get("token_type") or "Bearer"),
            scope=scope if isinstance(scope, str) else None,
        )

    def _classify_token_error(self, response: httpx.Response, raw: RawResponse) -> SourceError | None:
        """Every 4xx from the token endpoint is an auth problem; 429 and 5xx keep the shared (retried) mapping.

        Schwab's shapes: ``{"error": "invalid_client", ...}`` for a wrong key/secret, and for a lapsed or
        revoked refresh token ``{"error": "unsupported_token_type", "error_description": "...
        refresh_token_authentication_error ..."}`` (the description nests another JSON document).
        """
        status = response.status_code
        if status < 400 or status == 429 or status >= 500:
            return None
        body = raw.json_or_none()
        code = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        code_text = code if isinstance(code, str) else f"HTTP {status}"

        def auth_error(message: str, hint: str) -> AuthError:
            return AuthError(message, source=SOURCE, endpoint=raw.endpoint, status_code=status, hint=hint)

        if code in CLIENT_ERRORS:
            return auth_error(f"Schwab rejected the app key/secret ({code_text})", CREDENTIALS_HINT)
        if self._in_flight_grant == "refresh_token":
            return auth_error(
                f"Schwab refused the refresh token ({code_text}): it has expired or been revoked", AUTH_HINT
            )
        # The code exchange: Schwab's description says why (e.g. the code's 30 seconds ran out). It names
        # no secret, but is scrubbed of the ones in flight all the same.
        detail = scrub_secrets(_scrub(str(description)[:200], self._in_flight_secrets)) if description else ""
        return auth_error(
            f"Schwab refused the authorization code ({code_text}{': ' + detail if detail else ''})",
            f"codes expire within seconds: run `{AUTH_COMMAND}` again and paste the address promptly",
        )


# --- functions for the CLI and the UI ------------------------------------------------------------------------
def oauth_from_settings(settings: Settings, *, client: httpx.Client, clock: Clock = _utcnow) -> SchwabOAuth:
    if settings.schwab_client_id is None or settings.schwab_client_secret is None:
        raise ConfigError(
            "SCHWAB_CLIENT_ID and SCHWAB_CLIENT_SECRET must be set",
            hint="copy the app key and secret from your app on developer.schwab.com into .env",
        )
    return SchwabOAuth(
        client_id=settings.schwab_client_id,
        client_secret=settings.schwab_client_secret,
        redirect_uri=settings.schwab_redirect_uri,
        base_url=settings.schwab_api_base_url,
        store=TokenStore(settings.resolved_schwab_token_path),
        client=client,
        clock=clock,
    )


def begin_login(settings: Settings) -> LoginRequest:
    """Step 1: the URL to open in a browser, and the state ``finish_login`` checks (no network)."""
    with httpx.Client() as client:
        return oauth_from_settings(settings, client=client).begin()


def finish_login(
    settings: Settings, login: LoginRequest, pasted_url: str, *, client: httpx.Client | None = None
) -> TokenStatus:
    """Step 2: exchange the pasted redirect URL's code for tokens and save them; returns the new status.

    Raises ``AuthError`` (with a hint saying what to do) for a bad paste, a mismatched state or a code
    Schwab refuses, ``ConfigError`` when the app key or secret is not set.
    """
    if client is not None:
        oauth = oauth_from_settings(settings, client=client)
        oauth.finish(login, pasted_url)
        return oauth.status()
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)) as own:
        return finish_login(settings, login, pasted_url, client=own)


def logout(settings: Settings) -> bool:
    """Sign out of Schwab on this machine: remove the token file (True when there was one). Schwab keeps the
    app's authorisation until the refresh token expires; without the file nothing here can use it."""
    return TokenStore(settings.resolved_schwab_token_path).remove()


def token_status(settings: Settings, *, clock: Clock = _utcnow) -> TokenStatus:
    """How long the Schwab login has left, without touching the network."""
    return status_of(TokenStore(settings.resolved_schwab_token_path), clock())
