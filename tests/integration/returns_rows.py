"""Rows the returns tests need beyond tests/integration/rows.py: external flows, IBKR statements, and a parsed
Flex statement stored as the capture would store it (snapshots, flows, ChangeInNAV), with plain SQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import ParseResult
from tests.integration import rows


def flow(conn: Connection, broker: str, account: str, kind: str, ts: datetime, amount_gbp: Decimal | str | None,
         *, amount_local: Decimal | str | None = None, currency: str = "GBP", fx_to_base: Decimal | str | None = None,
         flow_id: str | None = None) -> None:
    local = amount_local if amount_local is not None else amount_gbp
    conn.execute(
        text("""INSERT INTO cash_flows (broker, broker_account_id, broker_flow_id, kind, flow_ts, currency,
                                        amount_local, amount_gbp, fx_rate_to_base)
                VALUES (:b, :a, :id, :k, :ts, :ccy, :local, :gbp, :fx)"""),
        {"b": broker, "a": account, "id": flow_id or uuid.uuid4().hex, "k": kind, "ts": ts, "ccy": currency,
         "local": Decimal(local) if local is not None else Decimal(0),
         "gbp": Decimal(amount_gbp) if amount_gbp is not None else None,
         "fx": Decimal(fx_to_base) if fx_to_base is not None else None},
    )


def nav(conn: Connection, broker: str, account: str, start: object, end: object, twr_percent: Decimal | str,
        currency: str = "GBP") -> None:
    conn.execute(
        text("""INSERT INTO nav_changes (broker, broker_account_id, from_date, to_date, currency, twr_percent)
                VALUES (:b, :a, :f, :t, :c, :p)"""),
        {"b": broker, "a": account, "f": start, "t": end, "c": currency, "p": Decimal(twr_percent)},
    )


def set_wrapper(conn: Connection, broker: str, account: str, wrapper: str) -> None:
    conn.execute(text("UPDATE broker_accounts SET wrapper = :w, wrapper_source = 'user' "
                      "WHERE broker = :b AND broker_account_id = :a"), {"w": wrapper, "b": broker, "a": account})


def store_flex(conn: Connection, result: ParseResult) -> None:
    """A parsed GBP-based Flex statement stored row by row: one snapshot per report date (its total), the
    external and internal flows (GBP at the broker's rate), and ChangeInNAV with its TWR."""
    run_id = rows.run(conn)
    seen: set[tuple[str, str]] = set()
    for snap in result.snapshots:
        key = (snap.account.broker, snap.account.broker_account_id)
        if key not in seen:
            rows.account(conn, *key, currency=snap.account.base_currency)
            seen.add(key)
        assert snap.account.base_currency == "GBP" and snap.total_value_local is not None
        rows.snapshot(conn, run_id, *key, snap.asof_ts, snap.total_value_local)
        conn.execute(text("UPDATE snapshots SET source = 'ib_flex' WHERE snapshot_key = :k"), {"k": snap.key})
    for f in result.cash_flows:
        flow(conn, f.broker, f.broker_account_id, str(f.kind), f.flow_ts, f.amount_base,
             amount_local=f.amount_local, currency=f.currency, fx_to_base=f.fx_rate_to_base,
             flow_id=f.broker_flow_id)
    for n in result.nav_changes:
        assert n.twr is not None
        nav(conn, n.broker, n.broker_account_id, n.from_date, n.to_date, n.twr, n.currency or "GBP")
