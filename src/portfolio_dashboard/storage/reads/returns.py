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

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import compress, repeat
from operator import is_not
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from portfolio_dashboard.domain.returns import EXTERNAL_KINDS, ExternalFlow, Valuation, flex_twr_fraction
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


def _closes_sql(until: bool) -> str:
    """Non-carried rows only: the days an account was actually valued (carried days are not valuations). One row
    per account holding its closes as arrays in time order: the database groups them, so the client reads a few
    arrays instead of building a row object per day and splitting the rows by account. ``until`` (the time
    machine) keeps the closes stored at or before ``:until``; the day bound lets the scan stop there."""
    bound = "AND d.day <= :until_day AND d.asof_ts <= :until" if until else ""
    return f"""
SELECT d.broker, d.broker_account_id,
       array_agg(d.asof_ts ORDER BY d.asof_ts) AS stamps,
       array_agg(d.total_value_gbp ORDER BY d.asof_ts) AS gbp,
       array_agg(d.total_value_local ORDER BY d.asof_ts) AS local,
       array_agg(DISTINCT d.account_currency) FILTER (WHERE d.account_currency <> '') AS currencies
FROM daily_account_value d
JOIN broker_accounts a ON a.broker = d.broker AND a.broker_account_id = d.broker_account_id
WHERE NOT d.carried_forward AND {_FILTER} {bound}
GROUP BY d.broker, d.broker_account_id
"""  # noqa: S608 - constants only


def _flows_sql(until: bool) -> str:
    """A flow in another currency than the account's is valued at the broker's own rate to the account's base
    (``fx_rate_to_base``); without one it cannot be valued in the account's currency (NULL, withheld)."""
    bound = "AND c.flow_ts <= :until" if until else ""
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


# Two fixed texts each: the latest view keeps its own plan, the time machine adds bound predicates.
CLOSES_SQL, CLOSES_UNTIL_SQL = _closes_sql(False), _closes_sql(True)
FLOWS_SQL, FLOWS_UNTIL_SQL = _flows_sql(False), _flows_sql(True)
NAV_SQL, NAV_UNTIL_SQL = _nav_sql(False), _nav_sql(True)


ZONE_SQL = f"SELECT {TZ_SQL}"


def portfolio_zone(conn: Connection) -> ZoneInfo:
    """The zone whose calendar days the periods use (the session's ``portfolio.timezone``)."""
    return ZoneInfo(str(conn.execute(text(ZONE_SQL)).scalar_one()))


def account_histories(conn: Connection, flt: ReturnsFilter = ReturnsFilter(),
                      until: datetime | None = None) -> list[AccountHistory]:
    """Every account in the filter with its daily closes, external flows and IBKR statements; with ``until``
    (timezone-aware: the time machine) only what had been stored for moments at or before it."""
    zone = portfolio_zone(conn)
    params: dict[str, Any] = flt.params()
    if until is not None:
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        params |= {"until": until, "until_day": until.astimezone(zone).date()}
    bounded = until is not None
    histories: dict[tuple[str, str], AccountHistory] = {}
    for row in conn.execute(text(ACCOUNTS_SQL), {**params, "flowless": list(FLOWLESS_SOURCES)}):
        histories[(row.broker, row.broker_account_id)] = AccountHistory(
            row.broker, row.broker_account_id, row.name, row.wrapper, row.base_currency, bool(row.flows_known))
    if not histories:
        return []
    closes = conn.execute(text(CLOSES_UNTIL_SQL if bounded else CLOSES_SQL), params).all()
    for broker, account_id, stamps, gbp, local, currencies in closes:
        history = histories[(broker, account_id)]
        read_closes(history, list(map(datetime.astimezone, stamps, repeat(zone))), gbp, local)
        # the snapshots' own currency is the one their local values are in (the account record may lag it)
        if currencies and len(currencies) == 1:
            history.currency = currencies[0]
    flows = conn.execute(text(FLOWS_UNTIL_SQL if bounded else FLOWS_SQL),
                         {**params, "external": sorted(EXTERNAL_KINDS)}).all()
    for broker, account_id, ts, amount_gbp, amount_local in flows:
        history = histories[(broker, account_id)]
        local_ts = ts.astimezone(zone)
        history.flows_gbp.append(ExternalFlow(local_ts, amount_gbp))
        history.flows_local.append(ExternalFlow(local_ts, amount_local))
    navs = conn.execute(text(NAV_UNTIL_SQL if bounded else NAV_SQL), params).all()
    for broker, account_id, start, end, percent, currency in navs:
        histories[(broker, account_id)].nav_changes.append(
            NavChange(start, end, flex_twr_fraction(percent), currency))
    return list(histories.values())


def read_closes(
    history: AccountHistory, stamps: list[datetime], gbp: list[Decimal | None], local: list[Decimal | None]
) -> None:
    """An account's closes into its columns; a close with no GBP value (or no local one) is left out of that
    currency's series."""
    history.stamps_gbp, history.values_gbp = valued(stamps, gbp)
    history.days_without_gbp = len(stamps) - len(history.stamps_gbp)
    history.stamps_local, history.values_local = valued(stamps, local)


def valued(stamps: list[datetime], values: list[Decimal | None]) -> tuple[tuple[datetime, ...], tuple[Decimal, ...]]:
    """The moments and values of the closes that have a value (C-level passes; most histories have no gap)."""
    if None not in values:
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
