"""Assemble a ``Statement`` for a period from the read models: holdings at the start and the end, flows,
income with withholding tax, and the broker's realised gains.

* Holdings at the start are each account's newest snapshot at or before the end of the day BEFORE the period
  (the opening position); at the end, at or before the end of its last day. A position without a GBP value
  (no stored rate) cannot be stated in GBP and is left out; ``Assembled.skipped`` says how many.
* Flows and income are the export read models' rows in the period; rows without a GBP value are skipped too.
* Realised gains are the trades carrying the broker's realised figure (IB ``fifoPnlRealized``), valued in GBP
  at the trade's own rate (its GBP amount over its local amount). This is the broker's figure, not HMRC's
  share matching (``services/capital_gains.py`` when present).

Every GBP figure is rounded to the penny per row (half up), as the statement prints it: a total is the sum of
its rows, so it must be the sum of the printed rows too (the exports keep the stored precision).

Returns and the CGT computation are not assembled here (this module does not depend on them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from portfolio_dashboard.domain.statement import (
    Flow,
    FxUsed,
    Holding,
    IncomeRow,
    Period,
    RealisedGain,
    Statement,
    StatementAccount,
)
from portfolio_dashboard.services.statements.figures import capital_gains_section, returns_section
from portfolio_dashboard.storage.reads.exports import export_rows
from portfolio_dashboard.storage.reads.statement import (
    HoldingRow,
    RealisedTrade,
    holdings_at,
    realised_trades,
    statement_accounts,
)

NO_SOURCE = ""  # a row whose raw response is not stored (the statement prints no hash for it)
PENNY = Decimal("0.01")


def pennies(amount: Decimal) -> Decimal:
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Assembled:
    statement: Statement
    skipped: dict[str, int]  # section -> rows left out for want of a GBP value


def _holding(row: HoldingRow) -> Holding | None:
    if row.value_gbp is None or row.price is None:
        return None
    if row.currency == "GBP":
        fx = FxUsed(Decimal(1), "identity", row.day)
    else:
        rate = row.fx_rate.normalize() if row.fx_rate is not None else Decimal(0)
        fx = FxUsed(rate, row.fx_provider or "stored", row.day)
    return Holding(row.account_id, row.security, row.isin, row.quantity, row.price, row.currency, row.value_local,
                   fx, pennies(row.value_gbp), row.snapshot_id, row.source_sha256 or NO_SOURCE)


def _flow(r: Mapping[str, Any]) -> Flow | None:
    if r["amount_gbp"] is None:
        return None
    return Flow(r["account_id"], r["date"], r["kind"], r["currency"], r["amount_local"], pennies(r["amount_gbp"]),
                r["description"] or "", r["source_sha256"] or NO_SOURCE)


def _income(r: Mapping[str, Any]) -> IncomeRow | None:
    if r["gross_gbp"] is None:
        return None
    return IncomeRow(r["account_id"], r["date"], r["kind"], r["security"], r["isin"], r["currency"],
                     r["gross_local"], r["withholding_tax_local"], r["fx_rate_gbp_per_unit"] or Decimal(0),
                     pennies(r["gross_gbp"]), pennies(r["withholding_tax_gbp"]), r["source_sha256"] or NO_SOURCE)


def realised_gain(t: RealisedTrade) -> RealisedGain | None:
    """A trade's realised gain in local currency and GBP (None without a rate for its date)."""
    if t.fx_rate is None and t.currency != "GBP":
        return None
    # The rate is rounded to 18 places in SQL; its trailing zeros would only lengthen every product.
    rate = Decimal(1) if t.currency == "GBP" else (t.fx_rate or Decimal(0)).normalize()
    proceeds = t.amount_local if t.amount_local is not None else Decimal(0)
    return RealisedGain(t.account_id, t.day, t.security, t.isin, abs(t.quantity), t.currency, proceeds,
                        proceeds - t.realised_local, rate, pennies(t.realised_local * rate), t.realised_local,
                        t.source_sha256 or NO_SOURCE)


def _kept(items: Iterable[Any], skipped: dict[str, int], section: str) -> tuple[Any, ...]:
    out = []
    for item in items:
        if item is None:
            skipped[section] = skipped.get(section, 0) + 1
        else:
            out.append(item)
    return tuple(out)


def assemble_statement(conn: Connection, period: Period, tz: ZoneInfo, *, generated_at: datetime,
                       mask_account_ids: bool = True) -> Assembled:
    skipped: dict[str, int] = {}
    opening = datetime.combine(period.start - timedelta(days=1), time.max, tzinfo=tz)
    closing = datetime.combine(period.end, time.max, tzinfo=tz)
    start_rows = _kept((_holding(r) for r in holdings_at(conn, opening)), skipped, "holdings_start")
    end_rows = _kept((_holding(r) for r in holdings_at(conn, closing)), skipped, "holdings_end")
    flows = _kept((_flow(r) for r in export_rows(conn, "flows", period.start, period.end)), skipped, "flows")
    income = _kept((_income(r) for r in export_rows(conn, "income", period.start, period.end)), skipped, "income")
    gains = _kept((realised_gain(t) for t in realised_trades(conn, period.start, period.end)), skipped,
                  "realised_gains")
    accounts = tuple(StatementAccount(a.broker, a.account_id, a.wrapper or "", a.currency or "GBP")
                     for a in statement_accounts(conn))
    statement = Statement(period=period, generated_at=generated_at, accounts=accounts, holdings_start=start_rows,
                          holdings_end=end_rows, flows=flows, income=income, realised_gains=gains,
                          returns=returns_section(conn, period), capital_gains=capital_gains_section(conn, period),
                          mask_account_ids=mask_account_ids)
    return Assembled(statement, skipped)
