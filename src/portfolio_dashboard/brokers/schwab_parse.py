"""Pure parsing of Schwab Trader API responses into the canonical model (no I/O).

Shapes, as Schwab documents them and real responses show:

* ``GET /trader/v1/accounts/accountNumbers`` -> ``[{"accountNumber": "12345678", "hashValue": "..."}]``
* ``GET /trader/v1/accounts?fields=positions`` -> ``[{"securitiesAccount": {"accountNumber", "type",
  "positions": [{"longQuantity", "shortQuantity", "averagePrice", "marketValue", "longOpenProfitLoss",
  "shortOpenProfitLoss", "instrument": {"assetType", "cusip", "symbol", "description", "type"}}],
  "currentBalances": {"cashBalance", "liquidationValue", "shortBalance", "marginBalance", ...}},
  "aggregatedBalance": {...}}]`` (``GET /trader/v1/accounts/{hash}`` returns one such object).
  A short position has ``shortQuantity > 0`` and a negative ``marketValue``. There is no balance timestamp.
* ``GET /trader/v1/accounts/{hash}/transactions`` -> ``[{"activityId", "time": "2024-05-07T13:30:01+0000",
  "type": "TRADE", "status": "VALID", "netAmount", "transferItems": [{"instrument": {...}, "amount",
  "price", "cost", "positionEffect"} | {"instrument": {"assetType": "CURRENCY"}, "cost", "feeType"}]}]``.
  The security item's ``amount`` is the signed quantity (negative on a sale), its ``cost`` and the
  transaction's ``netAmount`` are signed cash (negative when cash leaves); fee items carry a ``feeType``.

Every amount is USD: Schwab's Trader API only serves US accounts. Instrument identity, CUSIPs and option
multipliers: see :mod:`schwab_instruments` (prices are per unit of the underlying; value = quantity x price x
multiplier). Coverage: every account, position and transaction is counted and parsed or skipped with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from portfolio_dashboard.brokers.safety import reject_future
from portfolio_dashboard.brokers.schwab_instruments import (
    BROKER,
    CURRENCY,
    SECURITY_ASSET_TYPES,
    cusip_is_valid,
    instrument_of,
    isin_from_us_cusip,
)
from portfolio_dashboard.brokers.schwab_transactions import schwab_flows
from portfolio_dashboard.brokers.schwab_values import (
    SOURCE,
    Where,
    dec_of,
    endpoint_path,
    json_of,
    list_of,
    obj,
    str_of,
    time_of,
)
from portfolio_dashboard.domain import (
    NO_LOSS,
    Account,
    AccountSnapshot,
    CashBalance,
    CoverageCounter,
    ParseResult,
    Position,
    RawResponse,
    Trade,
    TradeStatus,
    skip_warnings,
)
from portfolio_dashboard.domain.accounts import wrapper_from_broker
from portfolio_dashboard.domain.instruments import filled
from portfolio_dashboard.errors import ParsingError

__all__ = [
    "BROKER",
    "SECURITY_ASSET_TYPES",
    "SOURCE",
    "account_numbers",
    "cusip_is_valid",
    "isin_from_us_cusip",
    "parse_responses",
]

ASOF_SOURCE = "http-date"  # Schwab's balances carry no timestamp: the response's Date header is the as-of
ACCOUNT_NUMBERS_RX = re.compile(r"/trader/v1/accounts/accountNumbers\Z")
ACCOUNTS_RX = re.compile(r"/trader/v1/accounts\Z")
ACCOUNT_RX = re.compile(r"/trader/v1/accounts/(?P<hash>[^/]+)\Z")
TRANSACTIONS_RX = re.compile(r"/trader/v1/accounts/(?P<hash>[^/]+)/transactions\Z")
FEE_ASSET_TYPES = frozenset({"CURRENCY"})


# --- accounts -----------------------------------------------------------------------------------------------
def account_numbers(raw: RawResponse) -> list[tuple[str, str]]:
    """``[(account number, hash)]`` from the accountNumbers response (also used by fetch)."""
    where = Where(raw.endpoint)
    pairs = []
    for i, item in enumerate(list_of(json_of(raw), where)):
        w = where.at(i)
        entry = obj(item, w)
        number = str_of(entry, "accountNumber", w, required=True)
        hash_value = str_of(entry, "hashValue", w, required=True)
        assert number is not None
        assert hash_value is not None
        pairs.append((number, hash_value))
    return pairs


def _asof(raw: RawResponse, warnings: list[str]) -> tuple[datetime, str]:
    value = raw.headers.get("date") or raw.headers.get("Date")
    if value:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return (when if when.tzinfo else when.replace(tzinfo=UTC)), ASOF_SOURCE
    # Without the broker's clock the best remaining instant is when we received the response; say so.
    warnings.append(f"{raw.endpoint}: no usable Date header; as-of is the time the response was received")
    return raw.received_at, "received-at"


def _merge(positions: list[Position]) -> tuple[Position, ...]:
    """One position per instrument (Schwab may list the same security per sub-account)."""
    merged: dict[tuple[str, str], Position] = {}
    for p in positions:
        prev = merged.get(p.instrument.key)
        if prev is None:
            merged[p.instrument.key] = p
            continue
        qty = prev.quantity + p.quantity
        mv = prev.market_value_local + p.market_value_local
        merged[p.instrument.key] = Position(
            instrument=prev.instrument,
            quantity=qty,
            price_local=mv / qty if qty else prev.price_local,
            market_value_local=mv,
            cost_basis=_add(prev.cost_basis, p.cost_basis),
            unrealized_pnl=_add(prev.unrealized_pnl, p.unrealized_pnl),
        )
    return tuple(merged.values())


def _add(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a + b


def _position(data: Mapping[str, Any], where: Where) -> Position | None:
    instrument = instrument_of(data, where)
    long_qty = dec_of(data, "longQuantity", where) or Decimal(0)
    short_qty = dec_of(data, "shortQuantity", where) or Decimal(0)
    quantity = long_qty - short_qty
    market_value = dec_of(data, "marketValue", where, required=True)
    assert market_value is not None
    if quantity == 0:
        return None  # closed during the session: nothing held at the as-of
    average = dec_of(data, "averagePrice", where)
    pnl = dec_of(data, "longOpenProfitLoss" if quantity > 0 else "shortOpenProfitLoss", where)
    units = quantity * instrument.multiplier  # shares of the underlying (an option contract is 100)
    return Position(
        instrument=instrument,
        quantity=quantity,
        price_local=market_value / units,  # per unit of the underlying; Schwab sends no separate price
        market_value_local=market_value,
        cost_basis=average * units if average is not None else None,  # averagePrice is per unit too
        unrealized_pnl=pnl,
    )


def _cash(balances: Mapping[str, Any], where: Where) -> Decimal | None:
    """Cash as Schwab's liquidation value counts it.

    ``cashBalance`` is the cash. A margin account adds ``shortBalance`` (the credit from short sales, which
    Schwab keeps apart from ``cashBalance``) and ``marginBalance`` (a debit, negative) unless the debit
    already shows as a negative ``cashBalance``.
    """
    cash = dec_of(balances, "cashBalance", where)
    if cash is None:
        cash = dec_of(balances, "totalCash", where)
    if cash is None:
        return None
    short_credit = dec_of(balances, "shortBalance", where) or Decimal(0)
    margin = dec_of(balances, "marginBalance", where) or Decimal(0)
    return cash + short_credit + (margin if cash >= 0 else Decimal(0))


def _snapshot(
    item: Any, where: Where, asof: tuple[datetime, str], warnings: list[str], coverage: CoverageCounter
) -> AccountSnapshot:
    wrapper = obj(item, where)
    account_where = where.at("securitiesAccount")
    account_data = obj(wrapper.get("securitiesAccount"), account_where)
    number = str_of(account_data, "accountNumber", account_where, required=True)
    assert number is not None
    account_type = str_of(account_data, "type", account_where) or "account"
    positions = []
    positions_where = account_where.at("positions")
    rows = list_of(account_data.get("positions"), positions_where, optional=True)
    coverage.seen("accounts.positions", "position", len(rows))
    for i, p in enumerate(rows):
        position = _position(obj(p, positions_where.at(i)), positions_where.at(i))
        if position is None:
            coverage.skipped("accounts.positions", f"{NO_LOSS}quantity 0 (closed during the session)", "position")
        else:
            positions.append(position)
            coverage.parsed("accounts.positions", "position")
    balances_where = account_where.at("currentBalances")
    balances_raw = account_data.get("currentBalances")
    balances = obj(balances_raw, balances_where) if balances_raw is not None else {}
    cash = _cash(balances, balances_where)
    total = dec_of(balances, "liquidationValue", balances_where)
    if total is None and isinstance(wrapper.get("aggregatedBalance"), dict):
        agg_where = where.at("aggregatedBalance")
        agg = obj(wrapper["aggregatedBalance"], agg_where)
        total = dec_of(agg, "currentLiquidationValue", agg_where) or dec_of(agg, "liquidationValue", agg_where)
    if cash is None:
        warnings.append(f"schwab account …{number[-4:]}: no cashBalance in currentBalances; cash not reported")
    if total is None:
        warnings.append(f"schwab account …{number[-4:]}: no liquidationValue; account total not reported")
    return AccountSnapshot(
        account=Account(
            broker=BROKER,
            broker_account_id=number,
            name=f"Schwab {account_type.replace('_', ' ').title()} …{number[-4:]}",
            base_currency=CURRENCY,
            account_type=str_of(account_data, "type", account_where),
            wrapper=wrapper_from_broker(BROKER, str_of(account_data, "type", account_where)),
        ),
        asof_ts=asof[0],
        asof_source=asof[1],
        positions=_merge(positions),
        cash=(CashBalance(CURRENCY, cash),) if cash is not None else (),
        total_value_local=total,
        # Part of liquidationValue beyond positions and cash (bond interest accrued): reconciliation input
        accrued_interest_local=dec_of(balances, "accruedInterest", balances_where),
    )


# --- trades -------------------------------------------------------------------------------------------------
def _is_fee(item: Mapping[str, Any]) -> bool:
    inst = item.get("instrument")
    asset_type = inst.get("assetType") if isinstance(inst, dict) else None
    # (a malformed assetType — a list, an object — is not a fee; instrument() then names the field)
    return bool(item.get("feeType")) or (isinstance(asset_type, str) and asset_type in FEE_ASSET_TYPES)


def _trades(tx: Any, where: Where, account_number: str | None, coverage: CoverageCounter) -> list[Trade]:
    data = obj(tx, where)
    kind = (str_of(data, "type", where) or "").upper()
    coverage.seen("transactions", "transaction")
    if kind != "TRADE":
        # dividends, interest, transfers, journals: cash flows, read by the cash-flow parser
        reason = f"{NO_LOSS}type {kind or '?'} is a cash flow (the cash-flow parser reads it), not a trade"
        coverage.skipped("transactions", reason, "transaction")
        return []
    status = (str_of(data, "status", where) or "VALID").upper()
    if status != "VALID":
        coverage.skipped("transactions", f"status {status}: not an execution (yet)", "transaction")
        return []
    activity_id = str_of(data, "activityId", where, required=True)
    assert activity_id is not None
    when = time_of(data, "time", where) or time_of(data, "tradeDate", where)
    if when is None:
        raise where.at("time").fail("missing (and no tradeDate)")
    account = account_number or str_of(data, "accountNumber", where, required=True)
    assert account is not None
    items_where = where.at("transferItems")
    items = [(i, obj(x, items_where.at(i))) for i, x in enumerate(list_of(data.get("transferItems"), items_where))]
    fees = [(i, x) for i, x in items if _is_fee(x)]
    legs = [(i, x) for i, x in items if not _is_fee(x)]
    if not legs:
        raise items_where.fail("a TRADE without a security item")
    fee_costs = [dec_of(x, "cost", items_where.at(i)) for i, x in fees]
    commission = sum((c for c in fee_costs if c is not None), Decimal(0)) if fees else None
    net_amount = dec_of(data, "netAmount", where)
    trades = []
    for n, (i, leg) in enumerate(legs, start=1):
        leg_where = items_where.at(i)
        instrument = instrument_of(leg, leg_where)
        quantity = dec_of(leg, "amount", leg_where, required=True)
        assert quantity is not None
        cost = dec_of(leg, "cost", leg_where)
        price = dec_of(leg, "price", leg_where)
        if price is None:
            if cost is None or quantity == 0:
                raise leg_where.at("price").fail("missing (and no cost to derive it from)")
            price = abs(cost / (quantity * instrument.multiplier))
        amount = net_amount if len(legs) == 1 and net_amount is not None else cost
        if amount is None:
            raise leg_where.at("cost").fail("missing (and no netAmount)")
        trades.append(
            Trade(
                broker=BROKER,
                # One id per security leg: Schwab's activityId, suffixed only when a trade has several legs.
                broker_trade_id=activity_id if len(legs) == 1 else f"{activity_id}-{n}",
                broker_account_id=account,
                instrument=instrument,
                trade_ts=when,
                quantity=quantity,
                price_local=price,  # per unit of the underlying (an option's premium per share)
                amount_local=amount,
                currency=CURRENCY,
                commission=commission if n == 1 else None,  # fees belong to the transaction: count them once
                description=str_of(data, "description", where) or instrument.name,
                status=TradeStatus.EXECUTED.value,
                multiplier=instrument.multiplier,
            )
        )
    coverage.parsed("transactions", "transaction")
    return trades


# --- entry point --------------------------------------------------------------------------------------------
def parse_responses(raws: Sequence[RawResponse], *, now: datetime | None = None) -> ParseResult:
    """Snapshots and trades from one capture's recorded responses. Error responses are skipped.

    ``now`` (default: the clock) bounds the as-of: more than a few minutes ahead is a validation error.
    """
    ok = [r for r in raws if r.status_code is not None and 200 <= r.status_code < 300]
    hashes: dict[str, str] = {}
    account_bodies: list[tuple[RawResponse, Any]] = []
    transaction_raws: list[tuple[RawResponse, str]] = []
    for raw in ok:
        path = endpoint_path(raw)
        if ACCOUNT_NUMBERS_RX.search(path):
            hashes.update({h: n for n, h in account_numbers(raw)})
        elif m := TRANSACTIONS_RX.search(path):
            transaction_raws.append((raw, m["hash"]))
        elif ACCOUNTS_RX.search(path) or ACCOUNT_RX.search(path):
            account_bodies.append((raw, json_of(raw)))
    if not account_bodies:
        raise ParsingError(
            "no successful accounts response among the recorded responses",
            source=SOURCE,
            hint="the capture did not get as far as reading positions; check the run's error",
        )
    warnings: list[str] = []
    coverage = CoverageCounter()
    snapshots: dict[str, AccountSnapshot] = {}
    for raw, body in account_bodies:
        where = Where(raw.endpoint)
        asof = _asof(raw, warnings)
        items = body if isinstance(body, list) else [obj(body, where)]
        coverage.seen("accounts", "account", len(items))
        for i, item in enumerate(items):
            snap = _snapshot(item, where.at(i) if isinstance(body, list) else where, asof, warnings, coverage)
            snapshots[snap.account.broker_account_id] = replace(snap, source_raw=raw)
            coverage.parsed("accounts", "account")
    reject_future(snapshots.values(), now or datetime.now(UTC), source=SOURCE)
    trades: dict[str, Trade] = {}
    for raw, account_hash in transaction_raws:
        where = Where(raw.endpoint)
        for i, tx in enumerate(list_of(json_of(raw), where)):
            for trade in _trades(tx, where.at(i), hashes.get(account_hash), coverage):
                trades.setdefault(trade.broker_trade_id, trade)
    # A transaction's instrument often lacks the CUSIP its holding carries: fill it in (same id by symbol).
    held = {p.instrument.broker_instrument_id: p.instrument for s in snapshots.values() for p in s.positions}
    for key, trade in trades.items():
        if (known := held.get(trade.instrument.broker_instrument_id)) is not None:
            trades[key] = replace(trade, instrument=filled(trade.instrument, known))
    flows, flow_warnings = schwab_flows((r, hashes.get(h)) for r, h in transaction_raws)
    flows = [replace(f, instrument=filled(f.instrument, held[f.instrument.broker_instrument_id]))
             if f.instrument is not None and f.instrument.broker_instrument_id in held else f for f in flows]
    lines = coverage.lines()
    warnings += skip_warnings(lines) + flow_warnings
    return ParseResult(
        snapshots=tuple(snapshots.values()),
        trades=tuple(sorted(trades.values(), key=lambda t: (t.trade_ts, t.broker_trade_id))),
        warnings=tuple(warnings),
        coverage=lines,
        cash_flows=tuple(flows),
    )
