"""What the dashboard's read queries share: the broker/account filter and display-currency conversion.

A ``Scope`` is the user's filter ("IB ISA only"); every read query takes one. The SQL is static: an empty
filter is an empty array and ``cardinality(...) = 0`` lets every row through, so no query text is built from
user input. Values stored in GBP are shown in another currency at the stored rate nearest at or before the
moment the value describes (``fx_rates`` in either direction); demo rates are used only while the database
holds nothing but demo data, so simulated rates never colour a real portfolio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

# Which broker each source writes under (runs record source names, snapshots record brokers).
SOURCE_BROKERS: dict[str, str] = {"ib_gateway": "ib", "ib_flex": "ib", "schwab": "schwab", "demo": "demo"}
DEMO_BROKER = "demo"


@dataclass(frozen=True, slots=True)
class Scope:
    """A filter by broker, account and tax wrapper; empty tuples mean "all". Accounts are
    ``(broker, broker_account_id)``; wrappers are ``broker_accounts.wrapper`` values (an account without a
    wrapper is outside any wrapper filter)."""

    brokers: tuple[str, ...] = ()
    accounts: tuple[tuple[str, str], ...] = field(default=())
    wrappers: tuple[str, ...] = ()

    @property
    def account_keys(self) -> list[str]:
        return [f"{b}/{a}" for b, a in self.accounts]

    def params(self) -> dict[str, Any]:
        return {"scope_brokers": list(self.brokers), "scope_accounts": self.account_keys,
                "scope_wrappers": list(self.wrappers)}

    @property
    def sources(self) -> list[str]:
        """The source names that write under the filtered brokers (empty = all)."""
        brokers = set(self.brokers) | {b for b, _a in self.accounts}
        return sorted(s for s, b in SOURCE_BROKERS.items() if b in brokers)


def scope_sql(alias: str) -> str:
    """The filter predicate over ``alias.broker`` / ``alias.broker_account_id`` (alias is a code constant); the
    wrapper is looked up on ``broker_accounts`` by its primary key."""
    return f"""(cardinality(CAST(:scope_brokers AS text[])) = 0 OR {alias}.broker = ANY(CAST(:scope_brokers AS text[])))
 AND (cardinality(CAST(:scope_accounts AS text[])) = 0
      OR ({alias}.broker || '/' || {alias}.broker_account_id) = ANY(CAST(:scope_accounts AS text[])))
 AND (cardinality(CAST(:scope_wrappers AS text[])) = 0
      OR EXISTS (SELECT 1 FROM broker_accounts sw WHERE sw.broker = {alias}.broker
                 AND sw.broker_account_id = {alias}.broker_account_id
                 AND sw.wrapper = ANY(CAST(:scope_wrappers AS text[]))))"""  # noqa: S608 - alias is a code constant


TZ_SQL = "COALESCE(NULLIF(current_setting('portfolio.timezone', true), ''), 'Europe/London')"


def factor_sql(at: str) -> str:
    """SQL for the factor turning a base-currency amount into ``:ccy`` at the instant ``at`` (an expression).

    NULL when no rate is stored at or before ``at``. ``:base``, ``:ccy`` and ``:allow_demo`` are parameters.
    """
    pick = (
        "SELECT {value} AS factor, f.asof_ts FROM fx_rates f "
        "WHERE f.source_ccy = {src} AND f.target_ccy = {dst} AND f.asof_ts <= {at} "
        "AND (:allow_demo OR f.provider NOT LIKE 'demo%') ORDER BY f.asof_ts DESC LIMIT 1"
    )
    direct = pick.format(value="f.rate", src=":base", dst=":ccy", at=at)
    inverse = pick.format(value="1 / f.rate", src=":ccy", dst=":base", at=at)
    newest = f"SELECT x.factor FROM (({direct}) UNION ALL ({inverse})) x ORDER BY x.asof_ts DESC LIMIT 1"  # noqa: S608
    return f"(CASE WHEN :ccy = :base THEN 1::numeric ELSE ({newest}) END)"


def latest_sql(name: str = "latest", *, asof: bool = False) -> str:
    """A CTE ``name``: the newest snapshot of every account in scope (all columns of ``snapshots``).

    Found one account at a time through the (broker, account, asof) index: with years of history this stays
    in milliseconds where the ``latest_snapshot_per_broker_account`` view sorts every snapshot ever stored.
    With ``asof`` the newest snapshot at or before the bound parameter ``:asof`` (the time machine): the same
    index probe, started at that moment instead of the end, so any date costs what the latest view costs. An
    account with no snapshot by then is absent (never an interpolated value).
    """
    bound = "AND s.asof_ts <= :asof" if asof else ""
    return f"""{name} AS (
    SELECT s.* FROM broker_accounts a
    CROSS JOIN LATERAL (
        SELECT s.* FROM snapshots s
        WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id {bound}
        ORDER BY s.broker, s.broker_account_id, s.asof_ts DESC, s.created_at DESC LIMIT 1
    ) s
    WHERE {scope_sql("a")}
)"""  # noqa: S608 - constants only


DEMO_ONLY_SQL = "NOT EXISTS (SELECT 1 FROM broker_accounts WHERE broker <> 'demo')"
_DEMO_ONLY_QUERY = f"SELECT {DEMO_ONLY_SQL}"


def demo_only(conn: Connection) -> bool:
    """True while the database holds demo accounts only: then (and only then) demo rates may value a view."""
    return bool(conn.execute(text(_DEMO_ONLY_QUERY)).scalar())
