"""The values the returns arithmetic works on (pure; see docs/returns.md for the definitions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# The flow kinds (issue 17's ``cash_flows.kind``) that move money across the boundary of an account. Dividends,
# interest, fees and withholding tax stay inside the account and are therefore part of its return.
EXTERNAL_KINDS: frozenset[str] = frozenset({"deposit", "withdrawal", "transfer_in", "transfer_out"})


def is_external(kind: str) -> bool:
    """True for the flow kinds that are money in or out of the account rather than part of its return."""
    return kind in EXTERNAL_KINDS


def external_flows(rows: Iterable[tuple[str, datetime, Decimal | None]]) -> tuple[ExternalFlow, ...]:
    """The external flows among ``(kind, flow_ts, amount)`` rows (e.g. ``cash_flows`` with ``amount_gbp``), in
    time order; an amount of ``None`` (no rate) is kept so the periods containing it are withheld."""
    return tuple(sorted(ExternalFlow(ts, amount) for kind, ts, amount in rows if is_external(kind)))


@dataclass(frozen=True, slots=True, order=True)
class Valuation:
    """What an account (or the portfolio) was worth at a moment: the last snapshot of a day, in one currency.

    ``ts`` should be timezone-aware and expressed in the zone whose calendar days the periods use (Europe/London),
    because periods are resolved by ``ts.date()``.
    """

    ts: datetime
    value: Decimal


@dataclass(frozen=True, slots=True, order=True)
class ExternalFlow:
    """Money (or securities at market value) moved into the account (positive) or out of it (negative).

    ``amount`` is ``None`` when the flow could not be valued in the series' currency (no FX rate): returns over any
    period containing it are then withheld rather than computed as if it had not happened.
    """

    ts: datetime
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """A series' valuations as two columns, moments and values in time order (cheaper than ``Valuation`` objects
    at thousands of days), and its external flows."""

    stamps: tuple[datetime, ...]
    values: tuple[Decimal, ...]
    flows: tuple[ExternalFlow, ...]
    # For a thinned series (some valuations left out, see docs/returns.md "Since inception, thinned"): element k
    # says whether valuations k and k + 1 were neighbours in the full history. None: nothing was left out.
    adjacent: tuple[bool, ...] | None = None


@dataclass(frozen=True, slots=True)
class ReturnResult:
    """The figures for one period. A figure is ``None`` when withheld; ``unavailable`` then says why.

    ``start``/``end`` are the period's first and last calendar days. ``start_value`` is the valuation the period
    starts from (the close before ``start``, or the first valuation when the history begins on ``start``);
    ``end_value`` the last valuation on or before ``end``. Returns are decimal fractions (0.0523 = 5.23%).
    """

    start: date
    end: date
    start_value: Decimal | None
    end_value: Decimal | None
    net_flows: Decimal | None
    gain: Decimal | None
    twr: Decimal | None
    twr_annualised: Decimal | None  # only for periods longer than one year; None otherwise
    mwr: Decimal | None
    unavailable: tuple[str, ...] = field(default=())
    start_ts: datetime | None = None  # the moments of the valuations actually used
    end_ts: datetime | None = None

    @property
    def available(self) -> bool:
        return not self.unavailable


@dataclass(frozen=True, slots=True)
class AccountSeries:
    """One account's (or one scope's) valuations and external flows in a single currency, oldest first."""

    valuations: tuple[Valuation, ...]
    flows: tuple[ExternalFlow, ...]
    flows_known: bool = True  # False for a source that cannot report flows (the Client Portal gateway)
