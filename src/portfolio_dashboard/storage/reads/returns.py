"""The returns read model (issue 18): each account's daily closes and external flows, ready for domain/returns.

Four index-backed reads, whatever the length of the history:

* the accounts in the filter (broker, account, wrapper), with whether their flows are known: an account that
  only the Client Portal gateway has captured has no flow history (the gateway does not report deposits and
  withdrawals), so its returns are withheld rather than computed as if no money had moved;
* each account's last snapshot of each local day, in GBP and in the account's own currency, from the daily
  value cache (migration 0004: rows stored in reading order, no snapshot is visited);
* the external flows (``cash_flows`` of kind deposit, withdrawal, transfer_in, transfer_out), in GBP and in
  the account's currency;
* IBKR's own statement of each period (``nav_changes.twr_percent``), to show beside ours.

Timestamps are turned into the portfolio's zone here, because periods are resolved by ``ts.date()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import compress, repeat
from operator import eq, is_not, sub
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from portfolio_dashboard.domain.returns import EXTERNAL_KINDS, ExternalFlow, Valuation, flex_twr_fraction
from portfolio_dashboard.storage.reads.returns_inception import Inception, thinned_closes_sql
from portfolio_dashboard.storage.reads.scope import TZ_SQL

# The only source that cannot report money moved in or out (see docs/returns.md, "Unavailable, not wrong").
FLOWLESS_SOURCES = ("ib_gateway",)


@dataclass(frozen=True, slots=True)
class ReturnsFilter:
    """Which accounts: empty tuples mean "all". Accounts are ``(broker, broker_account_id)``; wrappers are
    ``broker_accounts.wrapper`` values, with ``"unassigned"`` for accounts that have none."""

    accounts: tuple[tuple[str, str], ...] = ()
    brokers: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        return {
            "f_accounts": [f"{b}/{a}" for b, a in self.accounts],
            "f_brokers": list(self.brokers),
            "f_wrappers": list(self.wrappers),
        }


UNASSIGNED_WRAPPER = "unassigned"

_FILTER = """
    (cardinality(CAST(:f_brokers AS text[])) = 0 OR a.broker = ANY(CAST(:f_brokers AS text[])))
    AND (cardinality(CAST(:f_accounts AS text[])) = 0
         OR (a.broker || '/' || a.broker_account_id) = ANY(CAST(:f_accounts AS text[])))
    AND (cardinality(CAST(:f_wrappers AS text[])) = 0
         OR COALESCE(a.wrapper, 'unassigned') = ANY(CAST(:f_wrappers AS text[])))
"""


@dataclass(frozen=True, slots=True)
class NavChange:
    """IBKR's statement of one period: its TWR as a fraction, in the account's base currency."""

    from_date: date
    to_date: date
    twr: Decimal
    currency: str | None


@dataclass(slots=True)
class AccountHistory:
    """One account's inputs to the returns arithmetic, in GBP and in its own currency, oldest first.

    The closes are columns (moments and values; ``valuations_gbp``/``valuations_local`` pair them up): the
    arithmetic works on columns, and thousands of ``Valuation`` objects would cost more than reading the rows.
    """

    broker: str
    broker_account_id: str
    name: str | None
    wrapper: str | None
    currency: str | None  # the account's own currency (of ``values_local`` and ``flows_local``)
    flows_known: bool
    stamps_gbp: tuple[datetime, ...] = ()
    values_gbp: tuple[Decimal, ...] = ()
    stamps_local: tuple[datetime, ...] = ()
    values_local: tuple[Decimal, ...] = ()
    flows_gbp: list[ExternalFlow] = field(default_factory=list)
    flows_local: list[ExternalFlow] = field(default_factory=list)
    nav_changes: list[NavChange] = field(default_factory=list)
    days_without_gbp: int = 0  # closes with no GBP value (a missing rate): left out, the gap rule reports long ones
    # thinned closes (``inception_histories``): whether each two consecutive ones were neighbours; None: all read
    adjacent: tuple[bool, ...] | None = None

    @property
    def valuations_gbp(self) -> list[Valuation]:
        return list(map(Valuation, self.stamps_gbp, self.values_gbp))

    @property
    def valuations_local(self) -> list[Valuation]:
        return list(map(Valuation, self.stamps_local, self.values_local))

    @property
    def key(self) -> str:
        return f"{self.broker}:{self.broker_account_id}"


ACCOUNTS_SQL = f"""
SELECT a.broker, a.broker_account_id, COALESCE(a.display_name, a.name) AS name, a.wrapper,
       a.base_currency,
       EXISTS (SELECT 1 FROM snapshots s
               WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id
                 AND (s.source IS NULL OR s.source <> ALL (CAST(:flowless AS text[]))))
       OR EXISTS (SELECT 1 FROM cash_flows c
                  WHERE c.broker = a.broker AND c.broker_account_id = a.broker_account_id) AS flows_known
FROM broker_accounts a
WHERE {_FILTER}
ORDER BY a.broker, a.broker_account_id
"""  # noqa: S608 - constants only


def _closes_sql(until: bool, window: bool) -> str:
    """The days an account was actually valued (carried days are not valuations). One row per account holding
    its closes as arrays in time order: the database groups them, so the client reads a few arrays instead of
    building a row object per day and splitting the rows by account; the counts of missing values spare the
    client a pass over every value. ``until`` (the time machine) keeps the closes stored at or before
    ``:until``. ``window`` keeps the days ``:from_day``..``:to_day`` only: the day before a period starts is read
    even when carried forward, since a carried row holds the account's last close before the period (its
    moment and values), which is where the period's returns start from."""
    valued = ("d.day BETWEEN :from_day AND :to_day AND (NOT d.carried_forward OR d.day = :from_day)"
              if window else "NOT d.carried_forward")
    bound = "AND d.day <= :until_day AND d.asof_ts <= :until" if until else ""
    return f"""
SELECT d.broker, d.broker_account_id,
       array_agg(d.asof_ts ORDER BY d.asof_ts) AS stamps,
       array_agg(d.total_value_gbp ORDER BY d.asof_ts) AS gbp,
       array_agg(d.total_value_local ORDER BY d.asof_ts) AS local,
       array_agg(DISTINCT d.account_currency) FILTER (WHERE d.account_currency <> '') AS currencies,
       count(*) FILTER (WHERE d.total_value_gbp IS NULL) AS missing_gbp,
       count(*) FILTER (WHERE d.total_value_local IS NULL) AS missing_local
FROM daily_account_value d
JOIN broker_accounts a ON a.broker = d.broker AND a.broker_account_id = d.broker_account_id
WHERE {valued} AND {_FILTER} {bound}
GROUP BY d.broker, d.broker_account_id
"""  # noqa: S608 - constants only


def _flows_sql(until: bool, window: bool) -> str:
    """A flow in another currency than the account's is valued at the broker's own rate to the account's base
    (``fx_rate_to_base``); without one it cannot be valued in the account's currency (NULL, withheld). With
    ``window``, the flows from the start of ``:from_day`` to the end of ``:to_day`` (those before the first close
    read belong to no period that can be asked)."""
    bound = ("AND c.flow_ts <= :until" if until else "") + (
        " AND c.flow_ts >= :flows_from AND c.flow_ts < :flows_to" if window else "")
    return f"""
SELECT c.broker, c.broker_account_id, c.flow_ts, c.amount_gbp,
       CASE WHEN c.currency = a.base_currency THEN c.amount_local
            WHEN c.fx_rate_to_base IS NOT NULL THEN c.amount_local * c.fx_rate_to_base END AS amount_account
FROM cash_flows c
JOIN broker_accounts a ON a.broker = c.broker AND a.broker_account_id = c.broker_account_id
WHERE c.kind = ANY(CAST(:external AS text[])) AND {_FILTER} {bound}
ORDER BY c.broker, c.broker_account_id, c.flow_ts
"""  # noqa: S608 - constants only


def _nav_sql(until: bool) -> str:
    """IBKR's statements; with ``until`` only those whose period had ended by then (a later one did not exist)."""
    bound = "AND n.to_date <= :until_day" if until else ""
    return f"""
SELECT n.broker, n.broker_account_id, n.from_date, n.to_date, n.twr_percent, n.currency
FROM nav_changes n
JOIN broker_accounts a ON a.broker = n.broker AND a.broker_account_id = n.broker_account_id
WHERE n.twr_percent IS NOT NULL AND {_FILTER} {bound}
ORDER BY n.broker, n.broker_account_id, n.from_date, n.to_date
"""  # noqa: S608 - constants only


def _edge_closes_sql(until: bool) -> str:
    """An account with no close inside a window: its last close before it and its first after it, so that the
    period says what reading the whole history says (the history begins later, or nothing was valued since)."""
    bound = "AND d.day <= :until_day AND d.asof_ts <= :until" if until else ""
    one = f"""SELECT d.asof_ts, d.total_value_gbp, d.total_value_local FROM daily_account_value d
              WHERE d.broker = :broker AND d.broker_account_id = :account AND NOT d.carried_forward {bound}"""  # noqa: S608 - constants only
    return f"""({one} AND d.day <= :from_day ORDER BY d.day DESC LIMIT 1)
               UNION ALL ({one} AND d.day > :to_day ORDER BY d.day LIMIT 1) ORDER BY 1"""


# Fixed texts, one per combination of bounds: each keeps its own plan.
CLOSES_SQL = {(u, w): _closes_sql(u, w) for u in (False, True) for w in (False, True)}
FLOWS_SQL = {(u, w): _flows_sql(u, w) for u in (False, True) for w in (False, True)}
NAV_SQL, NAV_UNTIL_SQL = _nav_sql(False), _nav_sql(True)
EDGE_CLOSES_SQL = {u: _edge_closes_sql(u) for u in (False, True)}
THINNED_CLOSES_SQL = {u: thinned_closes_sql(_FILTER, u) for u in (False, True)}
# Sorting a whole long history's closes for the arrays needs more than the default 4 MB of work memory (100 years
# of three accounts spilled ~6 MB to disk and took twice as long); for this read's transaction only. A window's
# few days fit in the default.
SORT_MEMORY_SQL = "SET LOCAL work_mem = '64MB'"


ZONE_SQL = f"SELECT {TZ_SQL}"


def portfolio_zone(conn: Connection) -> ZoneInfo:
    """The zone whose calendar days the periods use (the session's ``portfolio.timezone``)."""
    return ZoneInfo(str(conn.execute(text(ZONE_SQL)).scalar_one()))


@dataclass(frozen=True, slots=True)
class Window:
    """The days a single period needs: from the day before its first day (the close its returns start from) to
    its last day. Reading only these makes a short period's cost independent of the length of the history."""

    first: date  # the period's first day
    last: date

    def params(self, zone: ZoneInfo) -> dict[str, Any]:
        from_day = self.first - timedelta(days=1)
        return {"from_day": from_day, "to_day": self.last,
                "flows_from": datetime.combine(from_day, time(), zone),
                "flows_to": datetime.combine(self.last + timedelta(days=1), time(), zone)}


def account_histories(conn: Connection, flt: ReturnsFilter = ReturnsFilter(),
                      until: datetime | None = None, window: Window | None = None) -> list[AccountHistory]:
    """Every account in the filter with its daily closes, external flows and IBKR statements; with ``until``
    (timezone-aware: the time machine) only what had been stored for moments at or before it; with ``window``
    only the closes and flows a period inside it needs."""
    zone, params, histories = _accounts(conn, flt, until)
    if not histories:
        return []
    if window is not None:
        params |= window.params(zone)
    else:
        conn.execute(text(SORT_MEMORY_SQL))
    bounds = (until is not None, window is not None)
    _closes_into(histories, conn.execute(text(CLOSES_SQL[bounds]), params).all(), zone)
    if window is not None:
        for history in histories.values():
            if not history.stamps_gbp and not history.stamps_local:
                edges = conn.execute(text(EDGE_CLOSES_SQL[until is not None]),
                                     {**params, "broker": history.broker, "account": history.broker_account_id}).all()
                read_closes(history, [row[0].astimezone(zone) for row in edges], [row[1] for row in edges],
                            [row[2] for row in edges])
    _flows_and_statements_into(histories, conn, params, zone, bounds)
    return list(histories.values())


def inception_histories(conn: Connection, flt: ReturnsFilter, until: datetime | None,
                        inception: Inception) -> list[AccountHistory] | None:
    """``account_histories`` for a period from inception, with each account's closes thinned to those the
    period's figures depend on (see ``returns_inception``); ``None`` when an account has a close that is not
    positive or lacks a value, where thinning would not be exact (read the whole history instead)."""
    zone, params, histories = _accounts(conn, flt, until)
    if not histories:
        return []
    params |= inception.params(zone)
    rows = conn.execute(text(THINNED_CLOSES_SQL[until is not None]),
                        {**params, "external": sorted(EXTERNAL_KINDS)}).all()
    if any(row.irregular for row in rows):
        return None
    closes = [(row.broker, row.broker_account_id, row.stamps, row.gbp, row.local, row.currencies, 0, 0)
              for row in rows if row.stamps]
    _closes_into(histories, closes, zone)
    for row in rows:
        if row.ordinals:
            histories[(row.broker, row.broker_account_id)].adjacent = tuple(
                map(eq, map(sub, row.ordinals[1:], row.ordinals[:-1]), repeat(1)))
    _flows_and_statements_into(histories, conn, params, zone, (until is not None, False))
    return list(histories.values())


def _accounts(conn: Connection, flt: ReturnsFilter,
              until: datetime | None) -> tuple[ZoneInfo, dict[str, Any], dict[tuple[str, str], AccountHistory]]:
    zone = portfolio_zone(conn)
    params: dict[str, Any] = flt.params()
    if until is not None:
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        params |= {"until": until, "until_day": until.astimezone(zone).date()}
    histories: dict[tuple[str, str], AccountHistory] = {}
    for row in conn.execute(text(ACCOUNTS_SQL), {**params, "flowless": list(FLOWLESS_SOURCES)}):
        histories[(row.broker, row.broker_account_id)] = AccountHistory(
            row.broker, row.broker_account_id, row.name, row.wrapper, row.base_currency, bool(row.flows_known))
    return zone, params, histories


def _closes_into(histories: dict[tuple[str, str], AccountHistory], closes: Sequence[Sequence[Any]],
                 zone: ZoneInfo) -> None:
    for broker, account_id, stamps, gbp, local, currencies, missing_gbp, missing_local in closes:
        history = histories[(broker, account_id)]
        # psycopg gives the moments in the session's TimeZone: when that is already the portfolio's zone (the same
        # cached ZoneInfo), a pass converting 36k moments per century of days is not needed
        if stamps and stamps[0].tzinfo is not zone:
            stamps = list(map(datetime.astimezone, stamps, repeat(zone)))
        read_closes(history, stamps, gbp, local, missing_gbp, missing_local)
        # the snapshots' own currency is the one their local values are in (the account record may lag it)
        if currencies and len(currencies) == 1:
            history.currency = currencies[0]


def _flows_and_statements_into(histories: dict[tuple[str, str], AccountHistory], conn: Connection,
                               params: dict[str, Any], zone: ZoneInfo, bounds: tuple[bool, bool]) -> None:
    flows = conn.execute(text(FLOWS_SQL[bounds]), {**params, "external": sorted(EXTERNAL_KINDS)}).all()
    for broker, account_id, ts, amount_gbp, amount_local in flows:
        history = histories[(broker, account_id)]
        local_ts = ts.astimezone(zone)
        history.flows_gbp.append(ExternalFlow(local_ts, amount_gbp))
        history.flows_local.append(ExternalFlow(local_ts, amount_local))
    navs = conn.execute(text(NAV_UNTIL_SQL if bounds[0] else NAV_SQL), params).all()
    for broker, account_id, start, end, percent, currency in navs:
        histories[(broker, account_id)].nav_changes.append(
            NavChange(start, end, flex_twr_fraction(percent), currency))


def read_closes(
    history: AccountHistory, stamps: list[datetime], gbp: list[Decimal | None], local: list[Decimal | None],
    missing_gbp: int | None = None, missing_local: int | None = None,
) -> None:
    """An account's closes into its columns; a close with no GBP value (or no local one) is left out of that
    currency's series. ``missing_*``: how many values are missing, when the caller knows (spares a pass)."""
    history.stamps_gbp, history.values_gbp = valued(stamps, gbp, missing_gbp)
    history.days_without_gbp = len(stamps) - len(history.stamps_gbp)
    history.stamps_local, history.values_local = valued(stamps, local, missing_local)


def valued(stamps: list[datetime], values: list[Decimal | None],
           missing: int | None = None) -> tuple[tuple[datetime, ...], tuple[Decimal, ...]]:
    """The moments and values of the closes that have a value (C-level passes; most histories have no gap)."""
    if missing == 0 or (missing is None and None not in values):
        return tuple(stamps), cast("tuple[Decimal, ...]", tuple(values))
    has = list(map(is_not, values, repeat(None)))
    return tuple(compress(stamps, has)), cast("tuple[Decimal, ...]", tuple(compress(values, has)))


def latest_day(conn: Connection) -> date | None:
    """The portfolio's newest valued day (what "today" means for the periods when nothing newer exists)."""
    value = conn.execute(text("SELECT max(day) FROM daily_portfolio_value")).scalar()
    return value if isinstance(value, date) else None


def wrappers(conn: Connection) -> list[str]:
    """The wrappers accounts are in, for a filter picker (``unassigned`` for accounts with none)."""
    rows = conn.execute(text(
        "SELECT DISTINCT COALESCE(wrapper, 'unassigned') FROM broker_accounts ORDER BY 1")).scalars()
    return [str(r) for r in rows]
