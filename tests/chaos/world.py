"""The fake brokers a chaos campaign runs against, and the real sources pointed at them.

One set of fakes serves a whole campaign (every request on 127.0.0.1): the IB Client Portal gateway (two
accounts, one of them in USD with a fund only ``/trsrv/secdef`` describes), Schwab (two accounts with
trades), IB Flex (a two-account statement) and the ECB feed as the FX reference. Each capture gets freshly
built sources with short timeouts and fast retry policies, and new broker as-ofs (the gateway's timestamps,
the Flex report day), so every capture writes new snapshots instead of finding them stored.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from portfolio_dashboard.bootstrap import SourceReference
from portfolio_dashboard.brokers.base import BrokerSource
from portfolio_dashboard.brokers.ecb import EcbRates
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.ib_flex import USER_AGENT, IbFlexSource, PollPolicy
from portfolio_dashboard.brokers.ib_gateway import IbGatewaySource
from portfolio_dashboard.brokers.schwab import SchwabSource
from portfolio_dashboard.brokers.schwab_auth import SchwabOAuth
from portfolio_dashboard.domain import FxRate
from portfolio_dashboard.local.schwab_tokens import TokenStore
from tests.chaos.faults import (
    CLIENT_TIMEOUT_S,
    ENRICHMENT,
    KEEPALIVE,
    PROBE,
    REFERENCE,
    Fault,
    Target,
    flex_codes,
    flex_statement_faults,
    ib_accounts_faults,
    ib_ledger_faults,
    ib_positions_faults,
    ib_summary_faults,
    schwab_accounts_faults,
    schwab_numbers_faults,
    schwab_transactions_faults,
)
from tests.fakes.ecb import DAILY, TYPICAL, FakeEcb
from tests.fakes.flex_statement import GENERATED, PREVIOUS_DAY, REPORT_DAY, sample_accounts, statement_xml
from tests.fakes.ib_flex import PREFIX, FakeFlex
from tests.fakes.ib_gateway import API, FakeIbGateway, Holding, isa_account, usd_account
from tests.fakes.schwab import CASH_HASH, CLIENT_ID, CLIENT_SECRET, MARGIN_HASH, REDIRECT_URI, FakeSchwab, seed_tokens
from tests.fakes.server import FakeServer

FLEX_TOKEN = "chaos-flex-token-4815162342"
FLEX_QUERY = "1234567"
SOURCES = ("ib_gateway", "schwab", "ib_flex")
POLICY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.02, max_total=15.0)


class Sleeper:
    """Sleeps at most ``cap`` seconds but records every wait asked for (to check Retry-After is honoured)."""

    def __init__(self, cap: float = 0.02) -> None:
        self.cap = cap
        self.asked: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.asked.append(seconds)
        time.sleep(min(max(seconds, 0.0), self.cap))


def closed_port_url(scheme: str = "https") -> str:
    """A loopback URL nothing listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}"


def usd_account_with_fund() -> Any:
    """The fake's USD account plus a fund whose rows never carry name/exchange (fetch must ask secdef)."""
    account = usd_account()
    account.holdings.append(
        Holding(9408, "VFIAX", "VANGUARD 500 INDEX ADMIRAL", "USD", "FUNDSERV", Decimal("3.512"), Decimal("552.31"),
                Decimal("400"), asset_class="FUND", type="", always_thin=True)
    )
    return account


def shifted_statement(days: int) -> bytes:
    """The sample Flex statement moved ``days`` later: new report dates, so new snapshots."""
    delta = timedelta(days=days)
    accounts = []
    for acct in sample_accounts():
        accounts.append(dataclasses.replace(
            acct,
            totals={day + delta: total for day, total in acct.totals.items()},
            rates=[(day + delta, a, b, r) for day, a, b, r in acct.rates],
        ))
    return statement_xml(accounts, from_date=PREVIOUS_DAY + delta, to_date=REPORT_DAY + delta,
                         generated=GENERATED + delta)


def _ctx(ca_path: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=ca_path) if ca_path else True


class World:
    def __init__(self, data_dir: Path, *, tls: bool = True) -> None:
        self.data_dir = data_dir
        self.gateway = FakeIbGateway([isa_account(), usd_account_with_fund()], enforce_pacing=False)
        # tls=False: Schwab and Flex on plain http, for a CLI process that verifies with the system's CAs
        self.schwab = FakeSchwab(tls=tls)
        self.flex = FakeFlex(token=FLEX_TOKEN, query_id=FLEX_QUERY, statement=shifted_statement(0), tls=tls)
        today = date.today()
        self.ecb = FakeEcb({today - timedelta(days=i): TYPICAL for i in range(3)})
        self.token_path = data_dir / "schwab-token.json"
        self.captures = 0

    def __enter__(self) -> World:
        for fake in (self.gateway, self.schwab, self.flex, self.ecb):
            fake.__enter__()
        seed_tokens(self.schwab, self.token_path)
        return self

    def __exit__(self, *exc: object) -> None:
        for fake in (self.gateway, self.schwab, self.flex, self.ecb):
            fake.__exit__(None, None, None)

    @property
    def servers(self) -> dict[str, FakeServer]:
        return {"ib_gateway": self.gateway.server, "schwab": self.schwab.server, "ib_flex": self.flex.server,
                "ecb": self.ecb.server}

    # --- what can be faulted --------------------------------------------------------------------------------
    def targets(self) -> dict[str, list[tuple[Target, list[Fault]]]]:
        """Per source: every path a capture requests, with the payload faults that apply to it."""
        ib: list[tuple[Target, list[Fault]]] = [
            (Target("ib_gateway", "POST", API + "/iserver/auth/status", PROBE), []),
            (Target("ib_gateway", "POST", API + "/tickle", KEEPALIVE), []),
            (Target("ib_gateway", "GET", API + "/portfolio/accounts"), ib_accounts_faults()),
            (Target("ib_gateway", "GET", API + "/trsrv/secdef", ENRICHMENT), []),
            (Target("ib_gateway", "GET", API + "/iserver/exchangerate", ENRICHMENT), []),
        ]
        for account in self.gateway.accounts:
            ib += [
                (Target("ib_gateway", "GET", f"{API}/portfolio/{account}/positions/0"), ib_positions_faults()),
                (Target("ib_gateway", "GET", f"{API}/portfolio/{account}/summary"), ib_summary_faults()),
                (Target("ib_gateway", "GET", f"{API}/portfolio/{account}/ledger"), ib_ledger_faults()),
            ]
        schwab: list[tuple[Target, list[Fault]]] = [
            (Target("schwab", "GET", "/trader/v1/accounts/accountNumbers"), schwab_numbers_faults()),
            (Target("schwab", "GET", "/trader/v1/accounts"), schwab_accounts_faults()),
        ]
        for account_hash in (MARGIN_HASH, CASH_HASH):
            schwab.append((Target("schwab", "GET", f"/trader/v1/accounts/{account_hash}/transactions"),
                           schwab_transactions_faults()))
        codes = flex_codes()
        flex: list[tuple[Target, list[Fault]]] = [
            (Target("ib_flex", "GET", PREFIX + "/SendRequest", body="xml"), codes),
            (Target("ib_flex", "GET", PREFIX + "/GetStatement", body="xml"), codes + flex_statement_faults()),
        ]
        ecb = [(Target("ecb", "GET", DAILY, REFERENCE, body="xml"), [])]
        return {"ib_gateway": ib, "schwab": schwab, "ib_flex": flex, "ecb": ecb}

    # --- per capture ----------------------------------------------------------------------------------------
    def next_capture(self) -> None:
        """New broker as-ofs for the next capture."""
        self.captures += 1
        self.gateway.timestamp_ms = int(time.time()) * 1000 + self.captures
        self.flex.statement = shifted_statement(-self.captures)  # earlier report days: new, past as-ofs

    def build(self, refused: set[str], sleepers: dict[str, Sleeper]) -> dict[str, BrokerSource]:
        dead = closed_port_url()
        gateway = IbGatewaySource(
            dead if "ib_gateway" in refused else self.gateway.url, verify=self.gateway.ca_path,
            timeout_s=CLIENT_TIMEOUT_S, sleep=sleepers["ib_gateway"], retry_policy=POLICY, rate_per_s=1000.0,
            thin_reread_wait_s=0.0,
        )
        schwab_url = dead if "schwab" in refused else self.schwab.base_url
        client = httpx.Client(verify=_ctx(self.schwab.ca_path), timeout=CLIENT_TIMEOUT_S)
        oauth = SchwabOAuth(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI,
                            base_url=schwab_url, store=TokenStore(self.token_path), client=client,
                            sleep=sleepers["schwab"], policy=POLICY)
        schwab = SchwabSource(oauth=oauth, base_url=schwab_url, client=client, sleep=sleepers["schwab"],
                              policy=POLICY, rate_per_s=1000.0)
        flex = IbFlexSource(
            FLEX_TOKEN, FLEX_QUERY, (dead if "ib_flex" in refused else self.flex.server.base_url) + PREFIX,
            client=httpx.Client(verify=_ctx(self.flex.server.ca_path), timeout=CLIENT_TIMEOUT_S,
                                headers={"User-Agent": USER_AGENT}),
            sleep=sleepers["ib_flex"], retry=POLICY, rate_per_s=1000.0,
            poll=PollPolicy(first_wait=0.0, initial_wait=0.01, max_wait=0.02, max_total=10.0, max_polls=6),
        )
        return {"ib_gateway": gateway, "schwab": schwab, "ib_flex": flex}

    def env(self) -> dict[str, str]:
        """Settings for a real CLI process capturing the three sources from these fakes (tls=False)."""
        return {
            "BROKERS": ",".join(SOURCES),
            "IB_GATEWAY_URL": self.gateway.url,
            "IB_GATEWAY_VERIFY": self.gateway.ca_path,
            "SCHWAB_CLIENT_ID": CLIENT_ID,
            "SCHWAB_CLIENT_SECRET": CLIENT_SECRET,
            "SCHWAB_REDIRECT_URI": REDIRECT_URI,
            "SCHWAB_API_BASE_URL": self.schwab.base_url,
            "SCHWAB_TOKEN_PATH": str(self.token_path),
            "IB_FLEX_TOKEN": FLEX_TOKEN,
            "IB_FLEX_QUERY_ID": FLEX_QUERY,
            "IB_FLEX_BASE_URL": self.flex.base_url,
            "ECB_RATES_URL": self.ecb.daily_url,
        }

    def reference(self, refused: bool, sleeper: Sleeper) -> Any:
        url = closed_port_url("http") + DAILY if refused else self.ecb.daily_url
        client = httpx.Client(timeout=CLIENT_TIMEOUT_S)
        return lambda settings: SourceReference(EcbRates(url, client=client, sleep=sleeper, retry=POLICY))


def seed_rates() -> list[FxRate]:
    """Manual rates a day old, so every source can be valued even when the brokers' own rates fail."""
    at = datetime.now(UTC) - timedelta(days=1)
    return [FxRate(c, "GBP", Decimal(r), at, "manual") for c, r in (("USD", "0.79"), ("EUR", "0.86"), ("CHF", "0.9"))]
