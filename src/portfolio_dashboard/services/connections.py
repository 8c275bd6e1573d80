"""The state of every data source and of the database, for the dashboard's Connections page.

Each source is built through the bootstrap registry and asked for its cheap ``health()``. A source whose
settings are missing reports "not configured"; one whose module is not in this build reports "not available";
a health call that raises or hangs is reported as such, never raised: the page must render whatever the
brokers do. Schwab's OAuth steps come from ``brokers.schwab_auth`` when that module is present.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from portfolio_dashboard.bootstrap import build_source
from portfolio_dashboard.brokers.base import BrokerSource, SourceHealth
from portfolio_dashboard.config import SOURCE_NAMES, Settings
from portfolio_dashboard.errors import ConfigError, PortfolioError
from portfolio_dashboard.storage.engine import describe_url

log = logging.getLogger(__name__)

LABELS = {
    "ib_gateway": "Interactive Brokers — Client Portal gateway",
    "ib_flex": "Interactive Brokers — Flex Web Service",
    "schwab": "Charles Schwab — Trader API",
    "demo": "Demo source (simulated accounts)",
}
SETUP = {
    "ib_gateway": "Set IB_GATEWAY_URL (or IB_HOST and IB_GATEWAY_PORT) to your Client Portal gateway and add "
                  "ib_gateway to BROKERS.",
    "ib_flex": "Set IB_FLEX_TOKEN and IB_FLEX_QUERY_ID and add ib_flex to BROKERS.",
    "schwab": "Set SCHWAB_CLIENT_ID and SCHWAB_CLIENT_SECRET, add schwab to BROKERS, then sign in here.",
    "demo": "Always available.",
}
HEALTH_TIMEOUT_S = 10.0
SCHWAB_AUTH_MODULE = "portfolio_dashboard.brokers.schwab_auth"


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    label: str
    configured: bool  # the settings it needs are present
    enabled: bool  # a capture uses it (BROKERS, or demo when BROKERS is empty)
    health: SourceHealth | None
    problem: str | None  # why there is no health: not configured, not available, an error, a timeout

    @property
    def state(self) -> str:
        """ok / attention / off: a one-word summary for a status badge."""
        if self.health is not None and self.health.reachable and self.health.authenticated:
            return "ok"
        if not self.configured and not self.enabled:
            return "off"
        return "attention"


def is_configured(name: str, settings: Settings) -> bool:
    """Whether the settings a source needs are present (not whether they work: ``health`` says that)."""
    if name == "ib_gateway":
        return settings.resolved_ib_gateway_url is not None
    if name == "ib_flex":
        return settings.ib_flex_token is not None and bool(settings.ib_flex_query_id)
    if name == "schwab":
        return settings.schwab_client_id is not None and settings.schwab_client_secret is not None
    return name == "demo"


def _check(name: str, settings: Settings, factory: Callable[[str, Settings], BrokerSource]) -> SourceState:
    label = LABELS.get(name, name)
    configured = is_configured(name, settings)
    enabled = name in settings.configured_sources
    if not configured and not enabled:
        return SourceState(name, label, False, False, None, f"Not configured. {SETUP.get(name, '')}".strip())
    source = None
    try:
        source = factory(name, settings)
        return SourceState(name, label, configured, enabled, source.health(), None)
    except ConfigError as exc:
        problem = exc.user_message()
        if "not available" not in problem:
            problem = f"Not configured: {problem}"
        return SourceState(name, label, configured, enabled, None, problem)
    except ImportError as exc:
        return SourceState(name, label, configured, enabled, None, f"Not available in this build ({exc.name}).")
    except PortfolioError as exc:
        return SourceState(name, label, configured, enabled, None, exc.user_message())
    except Exception as exc:  # a broken health() must not break the page
        log.exception("%s: health check failed", name)
        return SourceState(name, label, configured, enabled, None, f"health check failed: {type(exc).__name__}: {exc}")
    finally:
        close = getattr(source, "close", None)  # sources holding HTTP clients release them
        if callable(close):
            close()


def source_state(name: str, settings: Settings, *,
                 factory: Callable[[str, Settings], BrokerSource] = build_source) -> SourceState:
    """One source's state now (the IB gateway's login polling asks this every few seconds)."""
    return _check(name, settings, factory)


def source_states(
    settings: Settings,
    *,
    factory: Callable[[str, Settings], BrokerSource] = build_source,
    timeout_s: float = HEALTH_TIMEOUT_S,
) -> list[SourceState]:
    """Every known source's state, checked concurrently; a check taking longer than ``timeout_s`` is reported."""
    pool = ThreadPoolExecutor(max_workers=len(SOURCE_NAMES), thread_name_prefix="health")
    futures = {name: pool.submit(_check, name, settings, factory) for name in SOURCE_NAMES}
    wait(futures.values(), timeout=timeout_s)  # one deadline for all: they run concurrently
    states = []
    for name, future in futures.items():
        if future.done():
            states.append(future.result())
        else:
            states.append(SourceState(name, LABELS.get(name, name), is_configured(name, settings),
                                      name in settings.configured_sources, None,
                                      f"no answer within {timeout_s:g} s — is it running and reachable?"))
    pool.shutdown(wait=False, cancel_futures=True)  # a hung check must not hold the page
    return states


def database_description(url: str, *, embedded: bool) -> str:
    """Where the data lives, for display: never the password."""
    where = describe_url(url)
    return where if not embedded or where.startswith("embedded") else f"embedded PostgreSQL, {where}"


# --- Schwab OAuth (the same two steps as `portfolio-dashboard auth schwab`) ---------------------------------


class NotAvailableError(PortfolioError):
    category = "config"


def _schwab_auth() -> Any:
    try:
        return importlib.import_module(SCHWAB_AUTH_MODULE)
    except ImportError:
        raise NotAvailableError(
            "Schwab sign-in is not available in this build",
            hint="use `portfolio-dashboard auth schwab` from a terminal if your version has it",
        ) from None


def schwab_begin(settings: Settings) -> Any:
    """Step 1: a login request (``.url`` to open in a browser, ``.state`` checked in step 2); no network."""
    return _schwab_auth().begin_login(settings)


def schwab_finish(settings: Settings, login: Any, redirected_url: str) -> str:
    """Step 2: exchange the code in the address Schwab redirected to for tokens; a line saying how long the
    login now lasts. Raises ``AuthError``/``ConfigError`` with what to do (bad paste, expired code...)."""
    if not redirected_url.strip():
        raise ConfigError("paste the full address your browser was sent to after approving access")
    status = _schwab_auth().finish_login(settings, login, redirected_url.strip())
    return str(status.describe())


def schwab_login_left(settings: Settings) -> tuple[float | None, str] | None:
    """``(seconds the refresh token has left, a sentence)`` from the saved tokens (no network); None when this
    build has no Schwab sign-in."""
    try:
        status = _schwab_auth().token_status(settings)
    except NotAvailableError:
        return None
    left = status.refresh_expires_in_s if status.present and status.problem is None else None
    return left, str(status.describe())


def schwab_logout(settings: Settings) -> str:
    """Disconnect Schwab: remove the saved tokens; a sentence saying what happened."""
    removed = _schwab_auth().logout(settings)
    return ("Disconnected from Schwab: the saved login was removed." if removed
            else "Schwab was not connected (no saved login).")
