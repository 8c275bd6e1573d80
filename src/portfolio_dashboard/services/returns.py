"""Returns for a filter and a period (issue 18): per account, broker, wrapper and total, in GBP and in each
account's own currency, with IBKR's own TWR beside ours for Flex accounts.

The read model (``storage.reads.returns``) gives each account's daily closes and external flows; the arithmetic
is ``domain.returns``. Each scope's ``ReturnSeries`` is prepared once (a scope of one account reuses the
account's), so every further period costs two prefix lookups and one XIRR.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection

from portfolio_dashboard.domain.returns import (
    DEFAULT_MAX_GAP,
    FLOWS_UNKNOWN,
    IBKR_STATEMENT_ZONE,
    PERIOD_NAMES,
    BrokerComparison,
    MonthlyReturn,
    ReturnResult,
    ReturnSeries,
    SeriesColumns,
    combine_columns,
    compare_with_broker,
    custom_period,
    resolve_period,
)
from portfolio_dashboard.domain.returns.portfolio import account_reasons
from portfolio_dashboard.storage.reads.returns import (
    UNASSIGNED_WRAPPER,
    AccountHistory,
    NavChange,
    ReturnsFilter,
    Window,
    account_histories,
    inception_histories,
    portfolio_zone,
)
from portfolio_dashboard.storage.reads.returns_inception import Inception

# The names of the period that starts at inception (``resolve_period`` accepts each).
SINCE_INCEPTION = frozenset({"all", "inception", "since-inception"})

__all__ = ["PERIOD_NAMES", "AccountReturns", "PreparedReturns", "ReturnsFilter", "ReturnsReport", "Window",
           "broker_twr", "period_window", "prepare", "prepare_period", "returns_report"]


@dataclass(frozen=True, slots=True)
class AccountReturns:
    broker: str
    broker_account_id: str
    name: str | None
    wrapper: str | None
    currency: str | None  # the account's own currency
    gbp: ReturnResult
    local: ReturnResult | None  # the same period in the account's own currency
    broker_twr: Decimal | None  # IBKR's ChangeInNAV TWR over the same dates, as a fraction
    comparison: BrokerComparison | None  # ours (account currency) against the broker's


@dataclass(frozen=True, slots=True)
class ReturnsReport:
    period: str  # a name of PERIOD_NAMES, or "custom"
    start: date
    end: date
    currency: str
    total: ReturnResult
    accounts: list[AccountReturns]
    brokers: dict[str, ReturnResult] = field(default_factory=dict)
    wrappers: dict[str, ReturnResult] = field(default_factory=dict)


def broker_twr(navs: Sequence[NavChange], valued_days: Iterable[date], start: date, end: date) -> Decimal | None:
    """IBKR's TWR over ``start``..``end``, chained from its statements (``nav_changes``) when they tile it.

    A statement covering exactly the period is used as is. Otherwise consecutive statements are chained,
    (1 + a)(1 + b) − 1, as IBKR links its own sub-periods; days left uncovered between, before or after them
    are allowed only when the account was not valued on them (weekends, holidays), so a missing statement
    never passes for a flat day. ``None`` when the statements do not cover the period.
    """
    for nav in navs:
        if nav.from_date == start and nav.to_date == end:
            return nav.twr
    days = sorted(valued_days)
    inside = [n for n in navs if start <= n.from_date and n.to_date <= end]
    if not inside:
        return None

    def valued_between(first: date, last: date) -> bool:
        k = bisect_left(days, first)
        return k < len(days) and days[k] <= last

    cursor = start
    product = Decimal(1)
    while True:
        following = [n for n in inside if n.from_date >= cursor]
        if not following:
            break
        nearest = min(n.from_date for n in following)
        if nearest > cursor and valued_between(cursor, nearest - timedelta(days=1)):
            return None
        nav = max((n for n in following if n.from_date == nearest), key=lambda n: n.to_date)
        product *= 1 + nav.twr
        cursor = nav.to_date + timedelta(days=1)
        if cursor > end:
            break
    if cursor == start or (cursor <= end and valued_between(cursor, end)):
        return None
    return product - 1


def statement_twr(navs: Sequence[NavChange], series: ReturnSeries, ours: ReturnResult) -> Decimal | None:
    """IBKR's TWR between the two valuations our figure used.

    IBKR's statement dates are its own calendar days (US Eastern: a Flex close is stamped 20:20 New York,
    already the next day in London), so the valuations are turned into IBKR's days before the statements are
    matched: the broker's period runs from the day after the start valuation's day to the end valuation's day.
    """
    if ours.start_ts is None or ours.end_ts is None:
        return None
    first = ours.start_ts.astimezone(IBKR_STATEMENT_ZONE).date() + timedelta(days=1)
    last = ours.end_ts.astimezone(IBKR_STATEMENT_ZONE).date()
    if first > last:
        return None
    days = (ts.astimezone(IBKR_STATEMENT_ZONE).date() for ts in series.stamps)
    return broker_twr(navs, days, first, last)


def _withhold(result: ReturnResult, reasons: list[str]) -> ReturnResult:
    return ReturnResult(result.start, result.end, result.start_value, result.end_value, None, None, None, None,
                        None, tuple(reasons) + result.unavailable, result.start_ts, result.end_ts)


class PreparedReturns:
    """The filter's accounts with their series prepared, for any number of periods, charts and heat-maps."""

    def __init__(self, histories: Sequence[AccountHistory], today: date,
                 window: Window | Inception | None = None) -> None:
        self.histories = list(histories)
        self.today = today
        # read for the periods inside a Window only, or for one period from inception (thinned); None: everything
        self.window = window
        self._gbp: dict[str, ReturnSeries] = {}
        self._local: dict[str, ReturnSeries] = {}
        for h in self.histories:
            self._gbp[h.key] = ReturnSeries.from_columns(
                h.stamps_gbp, h.values_gbp, h.flows_gbp, flows_known=h.flows_known, adjacent=h.adjacent)
        self._by_key = {h.key: h for h in self.histories}
        self._scopes: dict[frozenset[str], ReturnSeries] = {}

    def local_series(self, key: str) -> ReturnSeries:
        """An account's series in its own currency, prepared on first use (the Overview never needs it); a GBP
        account's is its GBP series."""
        series = self._local.get(key)
        if series is None:
            h = self._by_key[key]
            series = self._gbp[key] if h.currency == "GBP" else ReturnSeries.from_columns(
                h.stamps_local, h.values_local, h.flows_local, flows_known=h.flows_known, adjacent=h.adjacent)
            self._local[key] = series
        return series

    @property
    def inception(self) -> date | None:
        firsts = [s.inception for s in self._gbp.values() if s.inception is not None]
        return min(firsts) if firsts else None

    def resolve(self, period: str | None, start: date | None = None, end: date | None = None) -> tuple[str, date, date]:
        """``(name, first day, last day)`` for a named period, or a custom one when ``start`` is given."""
        if start is not None or end is not None:
            if start is None and isinstance(self.window, Window):
                raise ValueError("a range without a first day starts at inception: prepare the whole history")
            first = start or self.inception or self.today
            return self._inside("custom", *custom_period(first, end or self.today))
        name = (period or "ytd").strip().lower()
        if name in SINCE_INCEPTION and isinstance(self.window, Window):
            raise ValueError(f"the period {name!r} starts at inception: prepare the whole history")
        inception = self.inception or self.today
        return self._inside(name, *resolve_period(name, self.today, inception))

    def _inside(self, name: str, first: date, last: date) -> tuple[str, date, date]:
        if isinstance(self.window, Inception):
            if first != (self.inception or self.today) or last != self.window.last:
                raise ValueError(f"returns were read from inception to {self.window.last} only, "
                                 f"not for {first}..{last}")
        elif self.window is not None and not (self.window.first <= first and last <= self.window.last):
            raise ValueError(f"returns were read for {self.window.first}..{self.window.last}, "
                             f"not for {first}..{last}")
        return name, first, last

    def scope_series(self, keys: Iterable[str]) -> ReturnSeries:
        """The combined GBP series of some accounts (an account alone is its own series)."""
        wanted = frozenset(keys)
        if len(wanted) == 1:
            return self._gbp[next(iter(wanted))]
        series = self._scopes.get(wanted)
        if series is None:
            parts = [self._gbp[k] for k in sorted(wanted)]
            combined = combine_columns([SeriesColumns(p.stamps, p.values, p.flows, p.adjacent) for p in parts])
            series = ReturnSeries.from_columns(combined.stamps, combined.values, combined.flows, flows_known=True,
                                               adjacent=combined.adjacent)
            self._scopes[wanted] = series
        return series

    def scope_result(self, keys: Sequence[str], start: date, end: date, results: dict[str, ReturnResult],
                     max_gap: timedelta) -> ReturnResult:
        """A scope's figures, withheld when an account in it is unreliable over the period (domain rule)."""
        if not keys:
            return ReturnResult(start, end, None, None, None, None, None, None, None, ("no accounts in the filter",))
        total = self.scope_series(keys).period(start, end, max_gap=max_gap)
        if len(keys) == 1:
            return results[keys[0]]
        shared: list[str] = []
        for key in keys:
            reasons = account_reasons(key, self._gbp[key], results[key], start, end)
            series = self._gbp[key]
            # An account with unknown flows that opens inside the period reports only that it opened late, yet
            # every flow after its opening is still unknown: the scope cannot be right either.
            late = f"{key}: {FLOWS_UNKNOWN}"
            if not series.flows_known and series.inception is not None and series.inception <= end \
                    and late not in reasons:
                reasons.append(late)
            shared += reasons
        return _withhold(total, shared) if shared else total

    def report(self, period: str | None = "ytd", start: date | None = None, end: date | None = None, *,
               max_gap: timedelta = DEFAULT_MAX_GAP) -> ReturnsReport:
        name, first, last = self.resolve(period, start, end)
        self._same_gap(max_gap)
        results = {h.key: self._gbp[h.key].period(first, last, max_gap=max_gap) for h in self.histories}
        accounts = []
        for h in self.histories:
            local_series = self.local_series(h.key)
            local = results[h.key] if local_series is self._gbp[h.key] else local_series.period(
                first, last, max_gap=max_gap)
            theirs = statement_twr(h.nav_changes, local_series, local) if h.nav_changes and local else None
            ours = local.twr if local is not None else None
            accounts.append(AccountReturns(
                h.broker, h.broker_account_id, h.name, h.wrapper, h.currency, results[h.key], local, theirs,
                compare_with_broker(ours, theirs) if theirs is not None else None))
        keys = [h.key for h in self.histories]
        brokers: dict[str, list[str]] = {}
        wrappers: dict[str, list[str]] = {}
        for h in self.histories:
            brokers.setdefault(h.broker, []).append(h.key)
            wrappers.setdefault(h.wrapper or UNASSIGNED_WRAPPER, []).append(h.key)
        return ReturnsReport(
            period=name, start=first, end=last, currency="GBP",
            total=self.scope_result(keys, first, last, results, max_gap),
            accounts=accounts,
            brokers={b: self.scope_result(k, first, last, results, max_gap) for b, k in sorted(brokers.items())},
            wrappers={w: self.scope_result(k, first, last, results, max_gap) for w, k in sorted(wrappers.items())},
        )

    def total(self, period: str | None = "ytd", start: date | None = None, end: date | None = None, *,
              max_gap: timedelta = DEFAULT_MAX_GAP) -> ReturnResult:
        """Only the whole filter's figures (the Overview's headline): no own-currency or group series."""
        _name, first, last = self.resolve(period, start, end)
        self._same_gap(max_gap)
        results = {h.key: self._gbp[h.key].period(first, last, max_gap=max_gap) for h in self.histories}
        return self.scope_result([h.key for h in self.histories], first, last, results, max_gap)

    def _same_gap(self, max_gap: timedelta) -> None:
        if isinstance(self.window, Inception) and max_gap != self.window.max_gap:
            raise ValueError(f"returns were read for a {self.window.max_gap.days}-day gap limit, not {max_gap.days}")

    def cumulative(self, start: date, end: date) -> list[tuple[datetime, Decimal | None]]:
        """The whole filter's cumulative TWR at each valuation of the period (for the chart)."""
        if isinstance(self.window, Inception):
            raise ValueError("a chart needs every valuation: prepare the whole history")
        self._inside("custom", start, end)
        if not self.histories:
            return []
        return self.scope_series([h.key for h in self.histories]).cumulative(start, end)

    def monthly(self, *, max_gap: timedelta = DEFAULT_MAX_GAP) -> list[MonthlyReturn]:
        """The whole filter's TWR per calendar month (for the heat-map)."""
        if self.window is not None:
            raise ValueError("monthly returns cover the whole history: prepare it without a window")
        if not self.histories:
            return []
        keys = [h.key for h in self.histories]
        months = self.scope_series(keys).monthly(max_gap=max_gap)
        unknown = [h.key for h in self.histories if not h.flows_known]
        if not unknown or len(keys) == 1:
            return months
        # the combined series cannot know that an account's flows are unknown: withhold every month (the rule
        # scope_result applies to periods)
        reason = f"{unknown[0]}: flows unknown"
        return [MonthlyReturn(m.year, m.month, None, (reason, *m.unavailable)) for m in months]


def local_today(conn: Connection) -> date:
    return datetime.now(portfolio_zone(conn)).date()


def prepare(conn: Connection, flt: ReturnsFilter | None = None, *, today: date | None = None,
            until: datetime | None = None, window: Window | None = None) -> PreparedReturns:
    """Read the filter's accounts once and prepare their series (``today`` defaults to the portfolio zone's).

    ``until`` is the time machine's moment: only valuations, flows and statements stored for moments at or
    before it are read, and "today" (where named periods end) is its day in the portfolio zone. ``window``
    reads only what the periods inside it need (see ``period_window``); the whole history without one.
    """
    day = _end_day(conn, today, until)
    return PreparedReturns(account_histories(conn, flt or ReturnsFilter(), until, window), day, window)


def _end_day(conn: Connection, today: date | None, until: datetime | None) -> date:
    """Where named periods end: the time machine's day, else ``today``, else today in the portfolio zone."""
    if until is not None:
        return until.astimezone(portfolio_zone(conn)).date()
    return today or local_today(conn)


def period_window(period: str | None, start: date | None, end: date | None, today: date) -> Window | None:
    """The days one period needs, when they are known without reading the history: ``None`` for a period that
    starts at inception (``all``, or a custom range without a first day), which needs all of it."""
    if start is not None:
        return Window(*custom_period(start, end or today))
    if end is not None:
        return None
    name = (period or "ytd").strip().lower()
    if name in SINCE_INCEPTION or name not in PERIOD_NAMES:
        return None  # an unknown name is refused by resolve, with the list of names
    return Window(*resolve_period(name, today))


def prepare_period(conn: Connection, flt: ReturnsFilter | None = None, *, period: str | None = "ytd",
                   start: date | None = None, end: date | None = None, today: date | None = None,
                   until: datetime | None = None, max_gap: timedelta = DEFAULT_MAX_GAP) -> PreparedReturns:
    """``prepare`` for one period: only its days are read (a year of a century-long history costs a year). A
    period from inception reads the closes its figures depend on (``Inception``; all of them when an account has a
    value that is not positive), for figures with the gap limit ``max_gap``."""
    day = _end_day(conn, today, until)
    flt = flt or ReturnsFilter()
    window = period_window(period, start, end, day)
    if window is None:
        inception = Inception(end or day, max_gap)
        histories = inception_histories(conn, flt, until, inception)
        if histories is not None:
            return PreparedReturns(histories, day, inception)
    return PreparedReturns(account_histories(conn, flt, until, window), day, window)


def returns_report(conn: Connection, flt: ReturnsFilter | None = None, *, period: str | None = "ytd",
                   start: date | None = None, end: date | None = None, today: date | None = None,
                   max_gap: timedelta = DEFAULT_MAX_GAP) -> ReturnsReport:
    """Returns for the filter and period (a name of ``PERIOD_NAMES``, or custom ``start``/``end``)."""
    prepared = prepare_period(conn, flt, period=period, start=start, end=end, today=today, max_gap=max_gap)
    return prepared.report(period, start, end, max_gap=max_gap)
