"""Logging in to Schwab (OAuth with a person in the loop): the use case behind ``portfolio-dashboard auth schwab``.

The broker module owns the protocol; this is the service boundary the CLI calls, so the CLI depends on use
cases and never on a broker's internals. Imported only when a login runs: it loads the OAuth stack.
"""

from __future__ import annotations

from portfolio_dashboard.brokers.schwab_auth import (
    LoginRequest,
    begin_login,
    finish_login,
    parse_redirect_url,
    token_status,
)

__all__ = ["LoginRequest", "begin_login", "finish_login", "parse_redirect_url", "token_status"]
