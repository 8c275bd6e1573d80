"""Writes for money in and out: cash flows, corporate actions, the broker's period statements (ChangeInNAV) and
announced dividends, each upserted ON its table's named unique constraint so storing the same rows twice
changes nothing. Every row records the run that first stored it and the raw payload it was read from.

A currency conversion (an IB ``USD.CHF`` forex trade, an AutoFX row) moves cash between two currencies of one
account and touches no instrument, so it is stored as two ``cash_flows`` rows of kind ``fx_conversion``: the
currency leaving (negative, from the account's point of view) and the currency arriving (positive). Each leg's
id is the broker's conversion id with a per-leg suffix (``:out`` / ``:in``), so a re-capture or reprocess of the
same statement stores nothing new (``cash_flows_broker_flow_key``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import (
    CashFlow,
    CorporateAction,
    DividendAccrual,
    FxConversion,
    FxRate,
    NavChange,
    RawResponse,
)
from portfolio_dashboard.domain.flows import FlowKind
from portfolio_dashboard.storage.raw_payloads import raw_payload_id

InstrumentIds = Mapping[tuple[str, str], uuid.UUID]
TOKEN = re.compile(rb"[\w.:\-]+")


@dataclass(frozen=True, slots=True)
class FlowRow:
    """A cash flow valued in GBP: ``amount_gbp`` and ``fx_rate_id`` are None without a rate."""

    flow: CashFlow
    amount_gbp: Decimal | None
    fx_rate_id: uuid.UUID | None


class RawFinder:
    """Which of a run's raw payloads a broker id was read from: the first successful response whose body holds
    the id as a whole token (IBKR ``transactionID``, Schwab ``activityId``, the demo's flow id). Each body is
    tokenised once, so a year of flows does not rescan a multi-megabyte statement per flow."""

    def __init__(self, run_id: uuid.UUID, raws: Sequence[RawResponse]) -> None:
        self._raws = [(raw_payload_id(run_id, r), r) for r in raws if r.status_code in (None, 200)]
        self._tokens: list[set[bytes] | None] = [None] * len(self._raws)

    def find(self, broker_id: str) -> uuid.UUID | None:
        needle = broker_id.encode()
        for i, (pid, raw) in enumerate(self._raws):
            tokens = self._tokens[i]
            if tokens is None:
                tokens = self._tokens[i] = set(TOKEN.findall(raw.body))
            if needle in tokens:
                return pid
        # a single response is what every row was read from, even when the id is not quoted in it
        return self._raws[0][0] if len(self._raws) == 1 else None


def ensure_accounts(conn: Connection, keys: set[tuple[str, str]]) -> None:
    """Flows can name an account no snapshot of this capture did (Schwab's transactions of a closed account)."""
    if not keys:
        return
    ordered = sorted(keys)
    conn.execute(
        text(
            """INSERT INTO broker_accounts (broker, broker_account_id)
               SELECT * FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]))
               ON CONFLICT ON CONSTRAINT broker_accounts_broker_account_key DO NOTHING"""
        ),
        {"b": [k[0] for k in ordered], "a": [k[1] for k in ordered]},
    )


def upsert_cash_flows(conn: Connection, run_id: uuid.UUID, rows: Sequence[FlowRow], ids: InstrumentIds,
                      raws: RawFinder) -> int:
    """Insert flows on ``cash_flows_broker_flow_key``; return how many rows changed.

    A stored flow is the broker's statement and stays as first stored, except that a GBP value missing then
    (no rate yet) is filled in when a later capture or reprocess has one.
    """
    unique = {(r.flow.broker, r.flow.broker_account_id, r.flow.broker_flow_id): r for r in rows}
    ordered = [unique[k] for k in sorted(unique)]
    if not ordered:
        return 0
    f = [r.flow for r in ordered]
    result = conn.execute(
        text(
            """INSERT INTO cash_flows AS c (run_id, broker, broker_account_id, broker_flow_id, kind, instrument_id,
                   flow_ts, currency, amount_local, amount_gbp, fx_rate_id, fx_rate_to_base, quantity, description,
                   raw_payload_id)
               SELECT CAST(:run_id AS uuid), k.* FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]),
                   CAST(:fid AS text[]), CAST(:kind AS text[]), CAST(:iid AS uuid[]), CAST(:ts AS timestamptz[]),
                   CAST(:ccy AS text[]), CAST(:amt AS numeric[]), CAST(:gbp AS numeric[]), CAST(:fx AS uuid[]),
                   CAST(:rtb AS numeric[]), CAST(:q AS numeric[]), CAST(:d AS text[]), CAST(:raw AS uuid[])) AS k
               ON CONFLICT ON CONSTRAINT cash_flows_broker_flow_key DO UPDATE
                   SET amount_gbp = EXCLUDED.amount_gbp, fx_rate_id = EXCLUDED.fx_rate_id
                   WHERE c.amount_gbp IS NULL AND EXCLUDED.amount_gbp IS NOT NULL"""
        ),
        dict(
            run_id=run_id,
            b=[x.broker for x in f],
            a=[x.broker_account_id for x in f],
            fid=[x.broker_flow_id for x in f],
            kind=[str(x.kind) for x in f],
            iid=[None if x.instrument is None else ids.get(x.instrument.key) for x in f],
            ts=[x.flow_ts for x in f],
            ccy=[x.currency for x in f],
            amt=[x.amount_local for x in f],
            gbp=[r.amount_gbp for r in ordered],
            fx=[r.fx_rate_id for r in ordered],
            rtb=[x.fx_rate_to_base for x in f],
            q=[x.quantity for x in f],
            d=[x.description for x in f],
            raw=[raws.find(x.broker_flow_id) for x in f],
        ),
    )
    return int(result.rowcount)


FX_KIND = FlowKind.FX_CONVERSION.value
OUT, IN = ":out", ":in"


@dataclass(frozen=True, slots=True)
class FxLeg:
    """One currency leg of a conversion, valued in the base currency where a rate was found."""

    broker: str
    broker_account_id: str
    broker_flow_id: str
    ts: datetime
    currency: str
    amount_local: Decimal  # signed into the account
    amount_base: Decimal | None
    rate: FxRate | None
    description: str | None


def legs_of(conversion: FxConversion) -> tuple[tuple[str, str, Decimal], tuple[str, str, Decimal]]:
    """``(flow id, currency, signed amount)`` of the leg leaving and the leg arriving."""
    cid = conversion.broker_conversion_id
    return ((cid + OUT, conversion.from_currency, -abs(conversion.from_amount)),
            (cid + IN, conversion.to_currency, abs(conversion.to_amount)))


def describe(conversion: FxConversion) -> str:
    parts = [f"{conversion.from_currency}->{conversion.to_currency}"]
    if conversion.rate is not None:
        parts.append(f"at {conversion.rate}")
    if conversion.commission:
        parts.append(f"commission {conversion.commission} {conversion.commission_currency or ''}".rstrip())
    if conversion.status != "executed":
        parts.append(conversion.status)
    if conversion.description:
        parts.append(conversion.description)
    return " ".join(parts)


def store_fx_legs(conn: Connection, run_id: uuid.UUID, legs: Sequence[FxLeg],
                  rate_ids: Mapping[int, uuid.UUID]) -> tuple[int, int]:
    """Insert conversion legs not yet stored; return ``(stored, already stored)``.

    ``rate_ids`` maps ``id(leg.rate)`` to the stored rate's id (the caller stored the rates first)."""
    unique = {(leg.broker, leg.broker_account_id, leg.broker_flow_id): leg for leg in legs}
    ordered = [unique[k] for k in sorted(unique)]
    if not ordered:
        return 0, 0
    # A conversion may be the only row of an account in this payload: the account row must exist (foreign key);
    # a capture that sees the account's holdings fills in its name and currency.
    ensure_accounts(conn, {(x.broker, x.broker_account_id) for x in ordered})
    result = conn.execute(
        text(
            """INSERT INTO cash_flows (run_id, broker, broker_account_id, broker_flow_id, kind, flow_ts, currency,
                   amount_local, amount_gbp, fx_rate_id, description)
               SELECT CAST(:run_id AS uuid), k.b, k.a, k.fid, :kind, k.ts, k.ccy, k.amt, k.gbp, k.fx, k.descr
               FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]), CAST(:fid AS text[]),
                           CAST(:ts AS timestamptz[]), CAST(:ccy AS text[]), CAST(:amt AS numeric[]),
                           CAST(:gbp AS numeric[]), CAST(:fx AS uuid[]), CAST(:descr AS text[]))
                    AS k(b, a, fid, ts, ccy, amt, gbp, fx, descr)
               ON CONFLICT ON CONSTRAINT cash_flows_broker_flow_key DO NOTHING"""
        ),
        {
            "run_id": run_id, "kind": FX_KIND,
            "b": [x.broker for x in ordered], "a": [x.broker_account_id for x in ordered],
            "fid": [x.broker_flow_id for x in ordered], "ts": [x.ts for x in ordered],
            "ccy": [x.currency for x in ordered], "amt": [x.amount_local for x in ordered],
            "gbp": [x.amount_base for x in ordered],
            "fx": [None if x.rate is None else rate_ids.get(id(x.rate)) for x in ordered],
            "descr": [x.description for x in ordered],
        },
    )
    stored = int(result.rowcount)
    return stored, len(ordered) - stored


def upsert_corporate_actions(conn: Connection, run_id: uuid.UUID, actions: Sequence[CorporateAction],
                             ids: InstrumentIds, raws: RawFinder) -> int:
    """Insert actions on ``corporate_actions_broker_action_key`` (a stored action is kept as first stored)."""
    unique = {(a.broker, a.broker_account_id, a.broker_action_id): a for a in actions}
    ordered = [unique[k] for k in sorted(unique)]
    if not ordered:
        return 0
    result = conn.execute(
        text(
            """INSERT INTO corporate_actions (run_id, broker, broker_account_id, broker_action_id, action_ts,
                   action_type, instrument_id, currency, quantity, amount, proceeds, value, fx_rate_to_base,
                   group_id, report_date, description, raw_payload_id)
               SELECT CAST(:run_id AS uuid), k.* FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]),
                   CAST(:aid AS text[]), CAST(:ts AS timestamptz[]), CAST(:t AS text[]), CAST(:iid AS uuid[]),
                   CAST(:ccy AS text[]), CAST(:q AS numeric[]), CAST(:amt AS numeric[]), CAST(:p AS numeric[]),
                   CAST(:v AS numeric[]), CAST(:rtb AS numeric[]), CAST(:g AS text[]), CAST(:rd AS date[]),
                   CAST(:d AS text[]), CAST(:raw AS uuid[])) AS k
               ON CONFLICT ON CONSTRAINT corporate_actions_broker_action_key DO NOTHING"""
        ),
        dict(
            run_id=run_id,
            b=[x.broker for x in ordered],
            a=[x.broker_account_id for x in ordered],
            aid=[x.broker_action_id for x in ordered],
            ts=[x.action_ts for x in ordered],
            t=[x.action_type for x in ordered],
            iid=[None if x.instrument is None else ids.get(x.instrument.key) for x in ordered],
            ccy=[x.currency for x in ordered],
            q=[x.quantity for x in ordered],
            amt=[x.amount for x in ordered],
            p=[x.proceeds for x in ordered],
            v=[x.value for x in ordered],
            rtb=[x.fx_rate_to_base for x in ordered],
            g=[x.group_id for x in ordered],
            rd=[x.report_date for x in ordered],
            d=[x.description for x in ordered],
            raw=[raws.find(x.broker_action_id) for x in ordered],
        ),
    )
    return int(result.rowcount)


NAV_COLUMNS = ("starting_value", "ending_value", "mtm", "realized", "change_in_unrealized", "deposits_withdrawals",
               "internal_cash_transfers", "asset_transfers", "dividends", "withholding_tax",
               "change_in_dividend_accruals", "interest", "change_in_interest_accruals", "advisor_fees",
               "broker_fees", "other_fees", "commissions", "fx_translation", "net_fx_trading",
               "corporate_action_proceeds", "other")


NAV_SQL = f"""INSERT INTO nav_changes (run_id, broker, broker_account_id, from_date, to_date, currency,
        {", ".join(NAV_COLUMNS)}, twr_percent, raw_payload_id)
    VALUES (:run_id, :broker, :acct, :f, :t, :ccy, {", ".join(f":{c}" for c in NAV_COLUMNS)}, :twr, :raw)
    ON CONFLICT ON CONSTRAINT nav_changes_period_key DO NOTHING"""  # noqa: S608 - constants only


def upsert_nav_changes(conn: Connection, run_id: uuid.UUID, navs: Sequence[NavChange], raws: RawFinder) -> int:
    """Insert statements on ``nav_changes_period_key``: the broker's statement of a closed period is final."""
    unique = {(n.broker, n.broker_account_id, n.from_date, n.to_date): n for n in navs}
    if not unique:
        return 0
    rows = [
        dict(run_id=run_id, broker=n.broker, acct=n.broker_account_id, f=n.from_date, t=n.to_date, ccy=n.currency,
             twr=n.twr, raw=raws.find(n.broker_account_id), **{c: getattr(n, c) for c in NAV_COLUMNS})
        for _k, n in sorted(unique.items())
    ]
    count = 0
    for row in rows:  # a statement covers one period per account: a handful per capture
        count += conn.execute(
            text(NAV_SQL),
            row,
        ).rowcount
    return count


def upsert_dividend_accruals(conn: Connection, run_id: uuid.UUID, accruals: Sequence[DividendAccrual],
                             ids: InstrumentIds, reported_at: datetime, raws: RawFinder) -> int:
    """Upsert on ``dividend_accruals_key``: a later report of the same accrual replaces an earlier one (the
    amounts firm up as the pay date nears); the same report again changes nothing."""
    unique = {(a.broker, a.broker_account_id, a.key): a for a in accruals}
    ordered = [unique[k] for k in sorted(unique)]
    if not ordered:
        return 0
    result = conn.execute(
        text(
            """INSERT INTO dividend_accruals AS d (run_id, broker, broker_account_id, accrual_key, instrument_id,
                   currency, ex_date, pay_date, quantity, gross_rate, gross_amount, tax, fee, net_amount,
                   fx_rate_to_base, reported_at, raw_payload_id)
               SELECT CAST(:run_id AS uuid), b, a, key, iid, ccy, ex, pay, q, gr, ga, tax, fee, net, rtb,
                   CAST(:reported AS timestamptz), raw
               FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]), CAST(:key AS text[]), CAST(:iid AS uuid[]),
                   CAST(:ccy AS text[]), CAST(:ex AS date[]), CAST(:pay AS date[]), CAST(:q AS numeric[]),
                   CAST(:gr AS numeric[]), CAST(:ga AS numeric[]), CAST(:tax AS numeric[]), CAST(:fee AS numeric[]),
                   CAST(:net AS numeric[]), CAST(:rtb AS numeric[]), CAST(:raw AS uuid[]))
                   AS k(b, a, key, iid, ccy, ex, pay, q, gr, ga, tax, fee, net, rtb, raw)
               ON CONFLICT ON CONSTRAINT dividend_accruals_key DO UPDATE
                   SET run_id = EXCLUDED.run_id, quantity = EXCLUDED.quantity, gross_rate = EXCLUDED.gross_rate,
                       gross_amount = EXCLUDED.gross_amount, tax = EXCLUDED.tax, fee = EXCLUDED.fee,
                       net_amount = EXCLUDED.net_amount, fx_rate_to_base = EXCLUDED.fx_rate_to_base,
                       reported_at = EXCLUDED.reported_at, raw_payload_id = EXCLUDED.raw_payload_id
                   WHERE EXCLUDED.reported_at > d.reported_at"""
        ),
        dict(
            run_id=run_id,
            reported=reported_at,
            b=[x.broker for x in ordered],
            a=[x.broker_account_id for x in ordered],
            key=[x.key for x in ordered],
            iid=[ids.get(x.instrument.key) for x in ordered],
            ccy=[x.currency for x in ordered],
            ex=[x.ex_date for x in ordered],
            pay=[x.pay_date for x in ordered],
            q=[x.quantity for x in ordered],
            gr=[x.gross_rate for x in ordered],
            ga=[x.gross_amount for x in ordered],
            tax=[x.tax for x in ordered],
            fee=[x.fee for x in ordered],
            net=[x.net_amount for x in ordered],
            rtb=[x.fx_rate_to_base for x in ordered],
            raw=[raws.find(x.instrument.broker_instrument_id) for x in ordered],
        ),
    )
    return int(result.rowcount)


def newest_flow_ts(conn: Connection, broker: str, broker_account_id: str) -> datetime | None:
    """The newest stored flow of an account: an incremental flow fetch starts there."""
    value = conn.execute(
        text("SELECT max(flow_ts) FROM cash_flows WHERE broker = :b AND broker_account_id = :a"),
        {"b": broker, "a": broker_account_id},
    ).scalar()
    return value if isinstance(value, datetime) else None


DEMO_DELETES = (
    ("cash flows", "DELETE FROM cash_flows WHERE broker = :b"),
    ("corporate actions", "DELETE FROM corporate_actions WHERE broker = :b"),
    ("nav changes", "DELETE FROM nav_changes WHERE broker = :b"),
    ("dividend accruals", "DELETE FROM dividend_accruals WHERE broker = :b"),
)


def delete_broker_flows(conn: Connection, broker: str) -> dict[str, int]:
    """Remove every flow-side row of a broker (``demo clear``), before the rows they reference."""
    return {label: int(conn.execute(text(sql), {"b": broker}).rowcount) for label, sql in DEMO_DELETES}
