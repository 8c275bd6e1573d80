"""UK capital gains from the stored trades: build the engine's inputs, compute, report a tax year.

The engine (``domain.cgt``) is pure; this use case reads the trades of every taxable account at every broker
(``storage.reads.capital_gains``), values each in sterling at the rate of its own day (the broker's own rate,
else the stored rate of that day, else ECB's), turns the broker's corporate actions into splits or review
items, adds the user's opening pools, and chains losses brought forward from year to year.

Losses brought forward into a year: the figure the user stated for that year (``cgt losses set``) when there
is one — it stands for everything before the records began — else what the year before carried forward as
computed here (its unused brought-forward losses plus its own net loss).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection

from portfolio_dashboard.domain.cgt import (
    AccountRef,
    CgtEvent,
    Computation,
    OpeningPool,
    Reorganisation,
    ReorganisationKind,
    SaleEstimate,
    Security,
    Side,
    Split,
    TaxYear,
    choose_rate,
    compute,
    estimate_sale,
    event_in_gbp,
    report_dict,
    tax_year_of,
    year_totals,
)
from portfolio_dashboard.storage import cgt_repository
from portfolio_dashboard.storage.reads import capital_gains as reads

ZERO = Decimal(0)
# IBKR corporate action codes: FS forward split, RS reverse split (consolidation). Their description states
# the ratio ("... SPLIT 4 FOR 1 ..."); everything else is a reorganisation the user must review.
SPLIT_CODES = frozenset({"FS", "RS"})
_SPLIT_RATIO = re.compile(r"SPLIT\s+(\d+(?:\.\d+)?)\s+FOR\s+(\d+(?:\.\d+)?)", re.IGNORECASE)


class SecurityNotFoundError(LookupError):
    """No global instrument, or more than one, has that symbol or ISIN."""


@dataclass(frozen=True, slots=True)
class TradeDetail:
    """What a disposal's drill-down shows for one broker trade: as stored, and as valued in sterling."""

    broker: str
    account: str
    trade_id: str
    trade_date: date
    side: str
    quantity: Decimal
    price_local: Decimal | None
    currency: str | None
    commission: Decimal | None
    taxes: Decimal | None
    gbp_per_unit: Decimal | None
    rate_source: str | None
    consideration_gbp: Decimal | None
    costs_gbp: Decimal | None
    raw_payload_hash: str | None


@dataclass(slots=True)
class CgtInputs:
    events: list[CgtEvent] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    reorganisations: list[Reorganisation] = field(default_factory=list)
    opening_pools: list[OpeningPool] = field(default_factory=list)
    losses: dict[str, Decimal] = field(default_factory=dict)  # stated losses brought forward, by year label
    sheltered_trades: int = 0
    review: list[dict[str, object]] = field(default_factory=list)  # found before the engine runs
    details: dict[tuple[str, str], TradeDetail] = field(default_factory=dict)
    securities: dict[str, Security] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CgtReport:
    tax_year: TaxYear
    document: dict[str, object]  # the ``cgt --json`` document (report_dict plus the service's review items)
    details: dict[tuple[str, str], TradeDetail]
    years: tuple[TaxYear, ...]  # tax years with a disposal, newest first


def _security(gid: uuid.UUID | None, symbol: str | None, isin: str | None, fallback: str) -> Security:
    return Security(str(gid) if gid is not None else f"unmapped:{fallback}", symbol or fallback, isin)


def _review(day: date | None, symbol: str | None, isin: str | None, reason: str) -> dict[str, object]:
    return {"date": None if day is None else day.isoformat(), "symbol": symbol, "isin": isin, "reason": reason}


def _event(row: reads.CgtTradeRow, security: Security, inputs: CgtInputs) -> CgtEvent | None:
    currency = (row.currency or "").upper()
    rate = choose_rate(currency, row.trade_date, broker_rate=row.broker_rate, stored_rate=row.stored_rate,
                       ecb_rate=row.ecb_rate) if currency else None
    price = row.price_local
    if price is None and row.amount_local is not None:
        price = abs(row.amount_local) / abs(row.quantity)
    key = (row.broker, row.broker_trade_id)
    detail = TradeDetail(
        row.broker, row.broker_account_id, row.broker_trade_id, row.trade_date,
        "buy" if row.quantity > 0 else "sell", abs(row.quantity), price, row.currency, row.commission, row.taxes,
        None if rate is None else rate.gbp_per_unit, None if rate is None else rate.source.value, None, None,
        row.raw_payload_sha256,
    )
    if rate is None or price is None:
        missing = f"no GBP rate for {currency or 'its currency'} on {row.trade_date}" if rate is None else "no price"
        inputs.review.append(_review(row.trade_date, security.symbol, security.isin,
                                     f"trade {row.broker}:{row.broker_trade_id} left out: {missing}"))
        inputs.details[key] = detail
        return None
    event = event_in_gbp(
        security=security,
        account=AccountRef(row.broker, row.broker_account_id, row.wrapper or "GIA"),
        side=Side.BUY if row.quantity > 0 else Side.SELL,
        trade_date=row.trade_date,
        quantity=row.quantity,
        price_local=price,
        commission_local=row.commission or ZERO,
        taxes_local=row.taxes or ZERO,
        rate=rate,
        trade_id=row.broker_trade_id,
        raw_payload_hash=row.raw_payload_sha256,
    )
    inputs.details[key] = replace(detail, consideration_gbp=event.consideration_gbp, costs_gbp=event.costs_gbp)
    return event


def _actions(rows: Sequence[reads.CorporateActionRow], inputs: CgtInputs) -> None:
    seen: set[tuple[str, date, str]] = set()
    for row in rows:
        security = _security(row.global_instrument_id, row.symbol, row.isin,
                             f"{row.broker}:{row.broker_action_id}")
        code = (row.action_type or "").upper()
        ratio = _SPLIT_RATIO.search(row.description or "") if code in SPLIT_CODES else None
        # One event is reported once per account (and per leg): one split per security and day.
        marker = (security.instrument_id, row.action_date, code if ratio is None else ratio.group(0).upper())
        if marker in seen:
            continue
        seen.add(marker)
        if ratio is not None:
            inputs.splits.append(Split(security.instrument_id, row.action_date, Decimal(ratio.group(1)),
                                       Decimal(ratio.group(2))))
            continue
        inputs.reorganisations.append(Reorganisation(
            security.instrument_id, row.action_date, ReorganisationKind.OTHER,
            f"{row.broker} corporate action {code or '?'}: {row.description or 'no description'}",
        ))


def load_inputs(conn: Connection) -> CgtInputs:
    """Everything the engine needs, from the database, valued in sterling."""
    inputs = CgtInputs()
    for account in reads.accounts_without_wrapper(conn):
        inputs.review.append(_review(
            None, None, None,
            f"account {account.broker}:{account.broker_account_id} has no wrapper set; "
            f"counted as taxable (`portfolio-dashboard accounts set`)",
        ))
    for row in reads.taxable_trades(conn):
        security = _security(row.global_instrument_id, row.symbol, row.isin, f"{row.broker}:{row.broker_trade_id}")
        inputs.securities.setdefault(security.instrument_id, security)
        event = _event(row, security, inputs)
        if event is not None:
            inputs.events.append(event)
    _actions(reads.corporate_actions(conn), inputs)
    for pool in reads.opening_pools(conn):
        security = inputs.securities.get(str(pool.global_instrument_id)) or _security(
            pool.global_instrument_id, pool.symbol, pool.isin, str(pool.global_instrument_id))
        inputs.securities.setdefault(security.instrument_id, security)
        inputs.opening_pools.append(OpeningPool(security, pool.quantity, pool.cost_gbp, pool.as_of))
    inputs.losses = reads.losses_brought_forward(conn)
    inputs.sheltered_trades = reads.sheltered_trade_count(conn)
    return inputs


def compute_all(inputs: CgtInputs) -> Computation:
    computation = compute(inputs.events, splits=inputs.splits, reorganisations=inputs.reorganisations,
                          opening_pools=inputs.opening_pools)
    return replace(computation, excluded_sheltered=computation.excluded_sheltered + inputs.sheltered_trades)


def losses_brought_forward(computation: Computation, inputs: CgtInputs, year: TaxYear) -> Decimal:
    """Stated for the year, else carried forward by the computed years before it (see the module doc)."""
    starts = [tax_year_of(d.day).start_year for d in computation.disposals]
    starts += [int(label[:4]) for label in inputs.losses]
    if not starts:
        return ZERO
    carried = ZERO
    for start in range(min(starts), year.start_year + 1):
        current = TaxYear(start)
        stated = inputs.losses.get(current.label)
        brought = stated if stated is not None else carried
        if current == year:
            return brought
        carried = year_totals(computation, current, brought).losses_carried_forward_gbp
    return carried


def disposal_years(computation: Computation) -> tuple[TaxYear, ...]:
    return tuple(sorted({tax_year_of(d.day) for d in computation.disposals}, reverse=True))


def build_report(inputs: CgtInputs, year: TaxYear) -> CgtReport:
    computation = compute_all(inputs)
    document = report_dict(computation, year,
                           losses_brought_forward=losses_brought_forward(computation, inputs, year))
    review = list(document["needs_review"])  # type: ignore[call-overload]
    for item in inputs.review:
        day = item["date"]
        if day is None or date.fromisoformat(str(day)) <= year.end:  # this year's, or an earlier one still open
            review.append(item)
    document["needs_review"] = review
    document["complete"] = bool(document["complete"]) and not review
    return CgtReport(year, document, inputs.details, disposal_years(computation))


def report(conn: Connection, year: TaxYear) -> CgtReport:
    return build_report(load_inputs(conn), year)


def resolve_security(conn: Connection, key: str) -> reads.SecurityMatch:
    """The one global instrument with that ISIN or symbol; a clear error when none or several match."""
    found = reads.find_security(conn, key)
    if not found:
        raise SecurityNotFoundError(f"no security with symbol or ISIN {key!r}")
    exact_isin = [match for match in found if (match.isin or "").upper() == key.strip().upper()]
    if len(exact_isin) == 1:
        return exact_isin[0]
    if len({match.global_instrument_id for match in found}) > 1:
        names = ", ".join(f"{m.symbol} ({m.isin or 'no ISIN'})" for m in found)
        raise SecurityNotFoundError(f"{key!r} names several securities: {names}; use the ISIN")
    return found[0]


def set_opening_pool(conn: Connection, key: str, *, quantity: Decimal, cost_gbp: Decimal, as_of: date,
                     note: str | None = None) -> tuple[reads.SecurityMatch, bool]:
    if quantity < 0 or cost_gbp < 0:
        raise ValueError("an opening pool's quantity and cost are not negative")
    security = resolve_security(conn, key)
    changed = cgt_repository.upsert_opening_pool(conn, security.global_instrument_id, quantity=quantity,
                                                 cost_gbp=cost_gbp, as_of=as_of, note=note)
    return security, changed


def set_losses(conn: Connection, year: TaxYear, amount_gbp: Decimal) -> bool:
    if amount_gbp < 0:
        raise ValueError("losses brought forward are stated as a positive amount")
    return cgt_repository.upsert_losses(conn, year.label, amount_gbp)


def what_if(conn: Connection, key: str, quantity: Decimal, price_gbp: Decimal, *, on: date,
            costs_gbp: Decimal = ZERO) -> SaleEstimate:
    """Selling ``quantity`` of the security named by ``key`` at ``price_gbp`` each on ``on``."""
    found = resolve_security(conn, key)
    inputs = load_inputs(conn)
    security = inputs.securities.get(str(found.global_instrument_id)) or _security(
        found.global_instrument_id, found.symbol, found.isin, key)
    computation = compute_all(inputs)
    return estimate_sale(
        inputs.events, security=security, quantity=quantity, price_gbp=price_gbp, on=on, costs_gbp=costs_gbp,
        splits=inputs.splits, reorganisations=inputs.reorganisations, opening_pools=inputs.opening_pools,
        losses_brought_forward=losses_brought_forward(computation, inputs, tax_year_of(on)),
    )
