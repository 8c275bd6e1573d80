"""One account at one broker-provided instant, and what a broker's parse returns."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from portfolio_dashboard.domain.accounts import Account
from portfolio_dashboard.domain.coverage import CoverageLine
from portfolio_dashboard.domain.flows import CashFlow, CorporateAction, DividendAccrual, NavChange
from portfolio_dashboard.domain.fx import FxRate
from portfolio_dashboard.domain.instruments import cash_instrument
from portfolio_dashboard.domain.positions import CashBalance, Position
from portfolio_dashboard.domain.raw import RawResponse
from portfolio_dashboard.domain.trades import FxConversion, Trade


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account: Account
    asof_ts: datetime  # broker-provided, timezone-aware
    asof_source: str  # where the as-of came from, e.g. "summary.timestamp", "http-date", "flex-report-date"
    positions: tuple[Position, ...]
    cash: tuple[CashBalance, ...] = ()
    total_value_local: Decimal | None = None  # as the broker reported it, in account.base_currency
    # Components the broker includes in its total beyond positions and cash (in account.base_currency), so
    # reconciliation can compare like with like: IB equity summary dividendAccruals / interestAccruals,
    # Schwab balances accruedInterest.
    accrued_dividends_local: Decimal | None = None
    accrued_interest_local: Decimal | None = None
    # The response this snapshot's as-of and total were read from (stored as ``snapshots.raw_payload_id``), so a
    # figure can be traced to the exact bytes the broker sent. Not part of equality: two parses of the same
    # state are the same snapshot whichever response object they came from.
    source_raw: RawResponse | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.asof_ts.tzinfo is None:
            raise ValueError("AccountSnapshot.asof_ts must be timezone-aware")

    @property
    def key(self) -> str:
        return snapshot_key(self.account.broker, self.account.broker_account_id, self.asof_ts)

    def all_positions(self) -> tuple[Position, ...]:
        """Positions plus one position per cash currency on the broker's cash instrument."""
        cash_positions = tuple(
            Position(
                instrument=cash_instrument(self.account.broker, c.currency),
                quantity=c.amount,
                price_local=Decimal(1),
                market_value_local=c.amount,
            )
            for c in self.cash
        )
        return self.positions + cash_positions


def snapshot_key(broker: str, broker_account_id: str, asof_ts: datetime) -> str:
    """Deterministic idempotency key: broker, account and the broker's as-of in UTC at full precision.

    Deliberately excludes the run id (the Data Persistence Plan's example includes it, which would make a
    retried capture of the same broker state store it twice).
    """
    if asof_ts.tzinfo is None:
        raise ValueError("as-of must be timezone-aware")
    return f"{broker}|{broker_account_id}|{asof_ts.astimezone(UTC).isoformat(timespec='microseconds')}"


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Everything one source's raw responses mean."""

    snapshots: tuple[AccountSnapshot, ...] = ()
    fx_rates: tuple[FxRate, ...] = ()
    trades: tuple[Trade, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    fx_conversions: tuple[FxConversion, ...] = ()  # currency conversions: cash moves, never instrument trades
    coverage: tuple[CoverageLine, ...] = ()  # per section: rows seen, parsed, skipped (with reasons)
    cash_flows: tuple[CashFlow, ...] = ()
    corporate_actions: tuple[CorporateAction, ...] = ()
    nav_changes: tuple[NavChange, ...] = ()
    dividend_accruals: tuple[DividendAccrual, ...] = ()
