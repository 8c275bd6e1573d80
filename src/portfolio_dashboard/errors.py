"""Every error Portfolio Dashboard raises on purpose, in one tree.

    PortfolioError                      base of everything below
    ├── ConfigError                     a setting is missing or malformed (never contains a secret's value)
    ├── SourceError                     a broker or data source failed; carries source, endpoint, category
    │   ├── AuthError          "auth"        not logged in, token expired/revoked; never retried
    │   ├── NetworkError       "network"     refused/reset/timeout, 5xx; retried with backoff
    │   │   └── DeadlineError                 cut off at the capture's overall deadline; not retried
    │   ├── RateLimitError     "rate_limit"  429 / broker throttling; retried, honouring Retry-After
    │   ├── ParsingError       "parsing"     a body we cannot read (truncated, HTML, wrong shape); not retried
    │   └── ValidationError    "validation"  readable but wrong (bad price, unknown currency); not retried
    ├── DatabaseError          "db"          PostgreSQL unreachable or a write failed
    │   └── DatabaseUnavailableError         cannot connect (host named, password never)
    └── DataDirectoryError     "db"          PORTFOLIO_DATA_DIR read-only, full or unusable (the folder named);
                                             not a DatabaseError: spooling would fail in the same folder

``ConfigError`` is raised before any command starts (``config.load_settings``): the CLI prints its one line
(the setting, what is wrong, an example of a right value) and exits 2; no run row is written, nothing spooled.

``category`` is the plan's error category and is what a run records in ``error_summary``. ``hint`` is the
action a user can take ("run `portfolio-dashboard auth schwab`"). ``retryable`` tells the HTTP layer
whether a backoff-and-retry may help.
"""

from __future__ import annotations

import re
from typing import ClassVar


class PortfolioError(Exception):
    category: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def user_message(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        return self.user_message()


class ConfigError(PortfolioError):
    category = "config"


class SourceError(PortfolioError):
    category = "source"

    def __init__(
        self,
        message: str,
        *,
        source: str,
        endpoint: str | None = None,
        status_code: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.source = source
        self.endpoint = endpoint
        self.status_code = status_code

    def __str__(self) -> str:
        where = f" [{self.endpoint}]" if self.endpoint else ""
        return f"{self.source}: {self.category}: {self.user_message()}{where}"


class AuthError(SourceError):
    category = "auth"


class NetworkError(SourceError):
    category = "network"
    retryable = True


class DeadlineError(NetworkError):
    """The capture's overall deadline (``CAPTURE_TIMEOUT_S``) passed: no time is left to retry in."""

    retryable = False


class RateLimitError(SourceError):
    category = "rate_limit"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ParsingError(SourceError):
    category = "parsing"


class ValidationError(SourceError):
    category = "validation"


class DatabaseError(PortfolioError):
    category = "db"


class DatabaseUnavailableError(DatabaseError):
    retryable = True


class NotFoundError(PortfolioError):
    """Something named on the command line (a run id, a rate) does not exist: a failure, not a usage mistake."""

    category = "not_found"


class DataDirectoryError(PortfolioError):
    category = "db"


CATEGORIES = ("auth", "network", "rate_limit", "parsing", "validation", "db")


# --- secrets out of error text -------------------------------------------------------------------------------
# Brokers echo requests back, and an OAuth error body can hold the very token or client secret that was sent: every
# message built from a response body, every log line, run record and alert passes through ``scrub_secrets``.
REDACTED = "***"

# names of fields whose values are secrets (not secrets themselves)
_SECRET_KEYS = "|".join(
    (
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "client_id",
        "code",
        "token",
        "password",
        "secret",
        "api_key",
        "apikey",
        "authorization",
        "session",
        "t",
    )
)
_PATTERNS = (
    # "Authorization: Bearer abc", "Bearer abc", "Basic abc"
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/=]{4,}"),
    # JSON: "access_token": "abc"
    re.compile(rf'(?i)("(?:{_SECRET_KEYS})"\s*:\s*")[^"]*(")'),
    # form/query: access_token=abc&...  (also ``code=`` of an OAuth redirect, Flex's ``t=`` token)
    re.compile(rf"(?i)(?<![A-Za-z0-9_])((?:{_SECRET_KEYS})=)[^&\s\"'<>]+"),
    # XML: <access_token>abc</access_token>
    re.compile(rf"(?i)(<(?:{_SECRET_KEYS})>)[^<]*(</)"),
)


def scrub_secrets(text: str) -> str:
    """``text`` with tokens, bearer/basic credentials, client secrets and ``code=`` values replaced by ``***``."""
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PATTERNS[3].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
