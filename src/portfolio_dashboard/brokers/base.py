"""The protocol every broker source follows.

A source is two halves so that raw responses can be stored before anything is interpreted and re-parsed
later (``portfolio-dashboard reprocess``):

* ``fetch(record, ctx)`` talks to the broker and hands every response to ``record`` *as it arrives* — also the
  ones that turn out to be errors — so the capture engine keeps them even when fetch raises half-way.
* ``parse(raws)`` is pure: the recorded responses in, canonical snapshots, rates and trades out. It must
  not do I/O and must work on responses loaded back from ``raw_payloads``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from portfolio_dashboard.domain import FxRate, ParseResult, RawResponse

Recorder = Callable[[RawResponse], None]


def _no_trades(broker: str, broker_account_id: str) -> datetime | None:
    return None


@dataclass(frozen=True, slots=True)
class FetchContext:
    """What a fetch may know about stored state, without touching the database itself."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # newest stored trade time for (broker, broker_account_id): incremental trade fetches start there
    newest_trade_ts: Callable[[str, str], datetime | None] = _no_trades
    # newest stored cash-flow time for (broker, broker_account_id): incremental flow fetches start there
    newest_flow_ts: Callable[[str, str], datetime | None] = _no_trades


@dataclass(slots=True)
class SourceHealth:
    """A cheap status check for the Connections page and ``status``."""

    source: str
    reachable: bool
    authenticated: bool
    detail: str
    accounts: list[str] = field(default_factory=list)
    login_url: str | None = None
    credential_expires_in_s: float | None = None  # e.g. Schwab refresh token lifetime left


@runtime_checkable
class BrokerSource(Protocol):
    name: str  # source name: "ib_gateway", "ib_flex", "schwab", "demo"
    broker: str  # broker stored on rows: "ib", "schwab", "demo"
    parser_version: str  # bump when parse() output changes; recorded on raw payloads and snapshots

    def fetch(self, record: Recorder, ctx: FetchContext) -> None: ...

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult: ...

    def health(self) -> SourceHealth: ...


@runtime_checkable
class RetryCounting(Protocol):
    """Sources that count their HTTP retries expose them so a run can report them."""

    retries: int


@runtime_checkable
class CredentialReporting(Protocol):
    """Sources whose login lapses (Schwab's 7-day refresh token) say how long it has left.

    ``credential_note()`` is one line for the capture summary and ``status`` (no network); it also updates
    ``credential_expires_in_s`` (``None`` when not logged in, negative when lapsed).
    """

    credential_expires_in_s: float | None

    def credential_note(self) -> str | None: ...


class ReferenceRates(Protocol):
    """A public reference provider: fetch (recording raw responses) and parse, like a broker source."""

    name: str

    def load(self, record: Callable[[RawResponse], None]) -> Sequence[FxRate]: ...
