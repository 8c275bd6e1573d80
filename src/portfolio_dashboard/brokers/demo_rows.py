"""One row of a demo document read into the canonical model: a number, a trade (with the rate the demo states
for its moment) and a cash flow. Pure; the demo source's ``parse_document`` calls these."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from portfolio_dashboard.domain import CashFlow, FlowKind, FxRate, Instrument, Trade, normalise_currency
from portfolio_dashboard.errors import ParsingError, ValidationError

BROKER = "demo"


def dec(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        raise ParsingError(f"demo payload: {field} is not a number: {value!r}", source="demo") from None
    if not result.is_finite():
        raise ValidationError(f"demo payload: {field} is not finite", source="demo")
    return result


def currency_code(value: Any, field: str) -> str:
    """An ISO currency code the payload states (a list or a number where a code belongs is a parsing error,
    an unknown code a validation error, rather than a code of ``"[]"`` stored)."""
    if not isinstance(value, str):
        raise ParsingError(f"demo payload: {field} is not a currency code: {value!r}", source="demo")
    code, divisor = normalise_currency(value)
    if divisor != 1:
        raise ValidationError(f"demo payload: {field} is a minor unit ({value!r})", source="demo")
    return code


def trade_row(account_id: str, t: Any, by_symbol: dict[str, Instrument]) -> tuple[Trade, FxRate]:
    """A demo trade and the GBP rate the demo stated for its moment (provider ``demo``, like every demo rate)."""
    when = datetime.fromisoformat(t["time"])
    if when.tzinfo is None:
        raise ParsingError("demo payload: a trade time has no time zone", source="demo")
    currency, divisor = normalise_currency(str(t["currency"]))
    trade = Trade(
        broker=BROKER, broker_trade_id=str(t["id"]), broker_account_id=account_id,
        instrument=by_symbol[str(t["symbol"])], trade_ts=when, quantity=dec(t["quantity"], "trades.quantity"),
        price_local=dec(t["price"], "trades.price") / divisor, amount_local=dec(t["amount"], "trades.amount"),
        currency=currency, commission=dec(t["commission"], "trades.commission"),
    )
    return trade, FxRate(currency, "GBP", dec(t["gbpRate"], "trades.gbpRate"), when, "demo")


def flow_row(account_id: str, f: Any, by_symbol: dict[str, Instrument]) -> CashFlow:
    when = datetime.fromisoformat(f["time"])
    if when.tzinfo is None:
        raise ParsingError("demo payload: a flow time has no time zone", source="demo")
    return CashFlow(
        broker=BROKER,
        broker_account_id=account_id,
        broker_flow_id=str(f["id"]),
        kind=FlowKind(f["kind"]),
        flow_ts=when,
        currency=normalise_currency(str(f["currency"]))[0],
        amount_local=dec(f["amount"], "flows.amount"),
        instrument=by_symbol.get(f["symbol"]) if f.get("symbol") else None,
        description=f.get("description") or None,
    )
