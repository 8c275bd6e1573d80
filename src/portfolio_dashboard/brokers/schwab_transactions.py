"""Money in and out of Schwab accounts from Trader API transactions (pure, no I/O).

``GET /trader/v1/accounts/{hash}/transactions`` returns Schwab's documented ``Transaction`` objects:
``activityId``, ``time``, ``accountNumber``, ``type``, ``status`` (VALID, INVALID, PENDING, UNKNOWN),
``subAccount``, ``tradeDate``, ``settlementDate``, ``netAmount``, ``activityType``, ``description`` and
``transferItems`` — each ``{instrument{assetType, symbol, cusip, description}, amount, cost, price,
feeType, positionEffect}``. Every amount is USD (the Trader API serves US accounts only).

What each ``type`` means here (``netAmount`` is signed cash, negative when cash leaves):

* ``TRADE`` — no flow. Executions are trades (``schwab_parse``) and their fees are already inside the
  trade's ``netAmount`` and ``commission``; a separate fee flow would count the cost twice.
* ``DIVIDEND_OR_INTEREST`` — dividend, interest or withholding tax, told apart by ``description`` (Schwab
  writes e.g. "QUALIFIED DIVIDEND", "CREDIT INTEREST", "BANK INTEREST", "FOREIGN TAX PAID", "NRA TAX ADJ");
  a ``feeType`` item (an ADR fee) makes it a fee.
* ``ACH_RECEIPT``, ``CASH_RECEIPT``, ``WIRE_IN`` — deposit; ``ACH_DISBURSEMENT``, ``CASH_DISBURSEMENT``,
  ``WIRE_OUT`` — withdrawal; ``ELECTRONIC_FUND`` — either, by sign.
* ``JOURNAL`` — cash journaled between accounts: transfer in/out by sign (a tax or fee journal is that).
* ``RECEIVE_AND_DELIVER`` — securities received or delivered (ACATS, gifts): a transfer of each item's
  market value, its quantity kept. Splits, expirations, exercises and reorganisations move no money into
  the account and are skipped with a reason.
* ``MARGIN_CALL``, ``SMA_ADJUSTMENT``, ``MEMORANDUM``, ``MONEY_MARKET`` (the sweep between cash and the
  money fund inside the account) — not money in or out; skipped with a reason.

Rows not ``VALID`` are skipped with a reason (a pending deposit is read again once valid: the fetch
re-reads an overlap). Every row is either a flow or a warning; a malformed row never fails the parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from portfolio_dashboard.brokers.schwab_instruments import instrument as schwab_instrument
from portfolio_dashboard.brokers.schwab_values import Where
from portfolio_dashboard.domain import AssetClass, CashFlow, FlowKind, Instrument, RawResponse
from portfolio_dashboard.errors import PortfolioError

BROKER = "schwab"
CURRENCY = "USD"
MAX_EXPONENT = 30

# Schwab Transaction.type values fetched for flows (from the last stored flow on); the ones that turn out
# not to move money are kept in the raw responses and skipped with a reason.
FETCH_TYPES = (
    "DIVIDEND_OR_INTEREST",
    "ACH_RECEIPT",
    "ACH_DISBURSEMENT",
    "CASH_RECEIPT",
    "CASH_DISBURSEMENT",
    "ELECTRONIC_FUND",
    "WIRE_IN",
    "WIRE_OUT",
    "JOURNAL",
    "RECEIVE_AND_DELIVER",
    "MONEY_MARKET",
    "MARGIN_CALL",
    "SMA_ADJUSTMENT",
)
DEPOSIT_TYPES = frozenset({"ACH_RECEIPT", "CASH_RECEIPT", "WIRE_IN"})
WITHDRAWAL_TYPES = frozenset({"ACH_DISBURSEMENT", "CASH_DISBURSEMENT", "WIRE_OUT"})
NOT_FLOWS = {
    "TRADE": "a trade (read by the trades parser; its fees are in the trade)",
    "MONEY_MARKET": "a sweep between cash and the money fund inside the account",
    "MARGIN_CALL": "a margin notice, not money moved",
    "SMA_ADJUSTMENT": "a special memorandum account adjustment, not money moved",
    "MEMORANDUM": "a memo entry, not money moved",
}
SECURITY_EVENTS = ("SPLIT", "EXPIR", "EXERCIS", "ASSIGN", "MERGER", "SPIN", "REORG", "CONVERSION", "NAME CHANGE")
TAX_WORDS = ("TAX", "W/H", "WITHHOLD")
INTEREST_WORDS = ("INTEREST", "INT ", "BANK INT", "COUPON")
ASSET_CLASSES = {
    "EQUITY": AssetClass.EQUITY,
    "COLLECTIVE_INVESTMENT": AssetClass.FUND,
    "MUTUAL_FUND": AssetClass.FUND,
    "CASH_EQUIVALENT": AssetClass.FUND,
    "FIXED_INCOME": AssetClass.BOND,
    "OPTION": AssetClass.OPTION,
    "FUTURE": AssetClass.FUTURE,
}


class SkippedTransactionError(Exception):
    """A transaction that is not a flow; the message says why (it becomes a parse warning)."""


def schwab_flows(
    transactions: Iterable[tuple[RawResponse, str | None]]
) -> tuple[list[CashFlow], list[str]]:
    """Flows from ``(transactions response, its account number if known)`` pairs, and the skip reasons."""
    flows: dict[tuple[str, str], CashFlow] = {}
    warnings: list[str] = []
    for raw, account_number in transactions:
        try:
            body = json.loads(raw.body)
        except ValueError:
            warnings.append(f"{raw.endpoint}: transactions body is not JSON; no flows read from it")
            continue
        if not isinstance(body, list):
            warnings.append(f"{raw.endpoint}: transactions body is not a list; no flows read from it")
            continue
        for i, tx in enumerate(body):
            if isinstance(tx, dict) and str(tx.get("type")).upper() == "TRADE":
                continue  # a trade, read by the trades parser (its fees are in the trade): not a flow
            try:
                for flow in transaction_flows(tx, account_number):
                    flows.setdefault((flow.broker_account_id, flow.broker_flow_id), flow)
            except SkippedTransactionError as exc:
                ident = tx.get("activityId") if isinstance(tx, dict) else None
                warnings.append(f"schwab transaction {ident or f'#{i}'} skipped: {exc}")
    ordered = sorted(flows.values(), key=lambda f: (f.broker_account_id, f.flow_ts, f.broker_flow_id))
    return ordered, list(dict.fromkeys(warnings))


def transaction_flows(tx: Any, account_number: str | None) -> list[CashFlow]:
    if not isinstance(tx, dict):
        raise SkippedTransactionError("not an object")
    tx_type = (_text(tx, "type") or "").upper()
    if tx_type in NOT_FLOWS:
        raise SkippedTransactionError(NOT_FLOWS[tx_type])
    if tx_type not in FETCH_TYPES:
        raise SkippedTransactionError(f"type {tx_type or None!r} is not one Schwab documents as moving money")
    status = (_text(tx, "status") or "VALID").upper()
    if status != "VALID":
        raise SkippedTransactionError(f"status {status} (only VALID transactions have happened)")
    activity_id = _text(tx, "activityId")
    if activity_id is None:
        raise SkippedTransactionError("activityId missing")
    account = account_number or _text(tx, "accountNumber")
    if account is None:
        raise SkippedTransactionError("account unknown (no accountNumber and no known hash)")
    when = _time(tx, "time") or _time(tx, "tradeDate") or _time(tx, "settlementDate")
    if when is None:
        raise SkippedTransactionError("no time, tradeDate or settlementDate")
    description = _text(tx, "description")
    listed = tx.get("transferItems")
    items = [x for x in listed if isinstance(x, dict)] if isinstance(listed, list) else []

    def flow(kind: FlowKind, amount: Decimal, suffix: str = "", **extra: Any) -> CashFlow:
        return CashFlow(
            broker=BROKER,
            broker_account_id=account,
            broker_flow_id=activity_id + suffix,
            kind=kind,
            flow_ts=when,
            currency=CURRENCY,
            amount_local=amount,
            description=description,
            **extra,
        )

    if tx_type == "RECEIVE_AND_DELIVER":
        return _securities_moved(items, description, flow)
    amount = _dec(tx, "netAmount")
    if amount is None or amount == 0:
        raise SkippedTransactionError("netAmount missing or zero")
    upper = (description or "").upper()
    if tx_type == "DIVIDEND_OR_INTEREST":
        securities = [x for x in items if not x.get("feeType") and _asset_type(x) not in ("CURRENCY", None)]
        instrument = _instrument(securities[0]) if securities else None
        return [flow(_income_kind(upper, items), amount, instrument=instrument)]
    if tx_type in DEPOSIT_TYPES or tx_type in WITHDRAWAL_TYPES or tx_type == "ELECTRONIC_FUND":
        return [flow(FlowKind.DEPOSIT if amount > 0 else FlowKind.WITHDRAWAL, amount)]
    # JOURNAL: cash moved between accounts, unless Schwab journals a tax or a fee
    if any(w in upper for w in TAX_WORDS):
        return [flow(FlowKind.WITHHOLDING_TAX, amount)]
    if "FEE" in upper:
        return [flow(FlowKind.FEE, amount)]
    return [flow(FlowKind.TRANSFER_IN if amount > 0 else FlowKind.TRANSFER_OUT, amount)]


def _income_kind(upper: str, items: list[dict[str, Any]]) -> FlowKind:
    if any(x.get("feeType") for x in items) or "FEE" in upper:
        return FlowKind.FEE
    if any(w in upper for w in TAX_WORDS):
        return FlowKind.WITHHOLDING_TAX
    if any(w in upper for w in INTEREST_WORDS) or upper.endswith(" INT"):
        return FlowKind.INTEREST
    if "IN LIEU" in upper:
        return FlowKind.PAYMENT_IN_LIEU
    return FlowKind.DIVIDEND


def _securities_moved(
    items: list[dict[str, Any]],
    description: str | None,
    flow: Callable[..., CashFlow],
) -> list[CashFlow]:
    upper = (description or "").upper()
    if any(word in upper for word in SECURITY_EVENTS):
        raise SkippedTransactionError(f"a security event ({description}), not money in or out")
    securities = [x for x in items if not x.get("feeType") and _asset_type(x) not in ("CURRENCY", None)]
    if not securities:
        raise SkippedTransactionError("RECEIVE_AND_DELIVER without a security item")
    flows: list[CashFlow] = []
    for n, item in enumerate(securities, start=1):
        quantity = _dec(item, "amount")
        if quantity is None or quantity == 0:
            raise SkippedTransactionError(f"item {n}: amount (quantity) missing or zero")
        value = _dec(item, "cost")
        if value is None or value == 0:
            price = _dec(item, "price")
            if price is None:
                raise SkippedTransactionError(f"item {n}: neither cost nor price to value it")
            value = quantity * price
        sign = Decimal(1) if quantity > 0 else Decimal(-1)
        kind = FlowKind.TRANSFER_IN if quantity > 0 else FlowKind.TRANSFER_OUT
        suffix = "" if len(securities) == 1 else f"-{n}"
        instrument = _instrument(item)
        flows.append(flow(kind, sign * abs(value), suffix, instrument=instrument, quantity=quantity))
    return flows


def _asset_type(item: Mapping[str, Any]) -> str | None:
    inst = item.get("instrument")
    value = inst.get("assetType") if isinstance(inst, dict) else None
    return value.upper() if isinstance(value, str) else None


def _instrument(item: Mapping[str, Any]) -> Instrument | None:
    """The instrument as the holdings parser names it (one id rule: schwab_instruments.instrument)."""
    inst = item.get("instrument")
    if not isinstance(inst, dict):
        return None
    try:
        return schwab_instrument(inst, Where("transactions"))
    except PortfolioError:
        return None


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _dec(data: Mapping[str, Any], key: str) -> Decimal | None:
    """JSON numbers via ``str`` (never through float arithmetic); a malformed value skips the transaction."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SkippedTransactionError(f"{key} is not a number")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise SkippedTransactionError(f"{key} is not a number: {str(value)[:40]!r}") from None
    if not number.is_finite() or (number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT):
        raise SkippedTransactionError(f"{key} out of range: {str(value)[:40]!r}")
    return number


def _time(data: Mapping[str, Any], key: str) -> datetime | None:
    text = _text(data, key)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SkippedTransactionError(f"{key} is not an ISO-8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise SkippedTransactionError(f"{key} has no UTC offset: {text[:40]!r}")
    return parsed
