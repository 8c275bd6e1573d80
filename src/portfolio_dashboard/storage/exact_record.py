"""Writes for the exact record: currency conversions as ``cash_flows`` legs and instrument multipliers.

A currency conversion (an IB ``USD.CHF`` forex trade, an AutoFX row) moves cash between two currencies of one
account and touches no instrument, so it is stored as two ``cash_flows`` rows of kind ``fx_conversion``: the
currency leaving (negative, from the account's point of view) and the currency arriving (positive). Each leg's
id is the broker's conversion id with a per-leg suffix (``:out`` / ``:in``), so a re-capture or reprocess of the
same statement stores nothing new (``UNIQUE (broker, broker_account_id, broker_flow_id)``).

The general cash-flow repository (dividends, deposits, ...) has the same shape: rows in, ``(stored, already
stored)`` out, one insert through ``unnest`` that skips rows already stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import FxConversion, FxRate, Instrument
from portfolio_dashboard.domain.flows import FlowKind

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
    conn.execute(
        text("""INSERT INTO broker_accounts (broker, broker_account_id)
                SELECT DISTINCT * FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]))
                ON CONFLICT (broker, broker_account_id) DO NOTHING"""),
        {"b": [x.broker for x in ordered], "a": [x.broker_account_id for x in ordered]},
    )
    result = conn.execute(
        text(
            """INSERT INTO cash_flows (run_id, broker, broker_account_id, broker_flow_id, kind, flow_ts, currency,
                   amount_local, amount_gbp, fx_rate_id, description)
               SELECT CAST(:run_id AS uuid), k.b, k.a, k.fid, :kind, k.ts, k.ccy, k.amt, k.gbp, k.fx, k.descr
               FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]), CAST(:fid AS text[]),
                           CAST(:ts AS timestamptz[]), CAST(:ccy AS text[]), CAST(:amt AS numeric[]),
                           CAST(:gbp AS numeric[]), CAST(:fx AS uuid[]), CAST(:descr AS text[]))
                    AS k(b, a, fid, ts, ccy, amt, gbp, fx, descr)
               ON CONFLICT (broker, broker_account_id, broker_flow_id) DO NOTHING"""
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


def set_multipliers(conn: Connection, ids: Mapping[tuple[str, str], uuid.UUID],
                    instruments: Iterable[Instrument]) -> int:
    """Record each instrument's contract multiplier where it differs from the stored one; return how many.

    ``price_local`` is per unit of the underlying for every broker, so a position's value is quantity x price x
    multiplier; a multiplier the broker no longer sends (1) never erases one it sent before."""
    changed = {ids[i.key]: i.multiplier for i in instruments if i.key in ids and i.multiplier != 1}
    if not changed:
        return 0
    keys = sorted(changed)
    result = conn.execute(
        text(
            """UPDATE instruments i SET multiplier = k.m, updated_at = now()
               FROM unnest(CAST(:ids AS uuid[]), CAST(:m AS numeric[])) AS k(id, m)
               WHERE i.id = k.id AND i.multiplier IS DISTINCT FROM k.m"""
        ),
        {"ids": keys, "m": [changed[k] for k in keys]},
    )
    return int(result.rowcount)


def set_run_coverage(conn: Connection, entries: Sequence[tuple[uuid.UUID, str, list[dict[str, object]]]]) -> int:
    """Replace the parser's side of stored runs' coverage accounts (``reprocess``: today's parser read the same
    payloads); storage's side of each run (what that capture stored) is kept. Returns runs changed."""
    changed = 0
    for run_id, source, lines in entries:
        result = conn.execute(
            text("""UPDATE snapshot_runs
                    SET coverage = jsonb_set(coverage, ARRAY[CAST(:source AS text)],
                                             COALESCE(coverage -> CAST(:source AS text), '{"stored": []}'::jsonb)
                                             || jsonb_build_object('lines', CAST(:lines AS jsonb)))
                    WHERE run_id = :run_id
                      AND coverage -> CAST(:source AS text) -> 'lines' IS DISTINCT FROM CAST(:lines AS jsonb)"""),
            {"run_id": run_id, "source": source, "lines": json.dumps(lines)},
        )
        changed += int(result.rowcount)
    return changed


def components_json(components: Mapping[str, Decimal] | None) -> str:
    """Reconciliation components as JSON with exact decimal strings."""
    return json.dumps({k: str(v) for k, v in (components or {}).items()})


def run_coverage(outcome: Any) -> dict[str, Any]:
    """The run's coverage account by source, from the per-source outcomes: the rows each payload held
    (``coverage``: section, kind, seen, parsed, skipped, reasons) and what storage made of them (``stored``)."""
    found: dict[str, Any] = {}
    for o in outcome if isinstance(outcome, list) else []:
        if isinstance(o, dict) and (o.get("coverage") or o.get("stored")):
            found[str(o.get("source"))] = {"lines": o.get("coverage") or [], "stored": o.get("stored") or []}
    return found
