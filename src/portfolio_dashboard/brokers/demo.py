"""The demo source: deterministic simulated accounts so a newcomer sees the whole product work.

Three accounts — a GBP ISA holding LSE ETFs (one quoted in pence, as the LSE does), a USD brokerage account
with US stocks and cash in three currencies, and a EUR account — whose prices follow a seeded random walk in
time: the same instant always gives the same prices, so a capture is reproducible. The as-of is the current
minute, so repeated captures within a minute are idempotent. Its "fetch" produces one JSON document shaped
like a small broker API response and records it like any raw response; ``parse`` reads it back, so demo data
goes through exactly the same path as a real broker's.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any, Self
from zoneinfo import ZoneInfo

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.demo_flows import cash_effect, flows_until, recent
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    AssetClass,
    CashBalance,
    CashFlow,
    FlowKind,
    FxRate,
    Instrument,
    ParseResult,
    Position,
    RawResponse,
    normalise_currency,
)
from portfolio_dashboard.domain.accounts import wrapper_from_broker
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.errors import ParsingError, ValidationError

BROKER = "demo"
EPOCH = date(2014, 1, 1)
SEED = 20260101
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class DemoHolding:
    symbol: str
    name: str
    isin: str
    asset_class: AssetClass
    currency: str  # quote currency as the exchange quotes it (GBX for pence)
    exchange: str
    quantity: Decimal
    start_price: float  # in quote currency on EPOCH
    drift: float  # annual
    vol: float  # annual


@dataclass(frozen=True, slots=True)
class DemoAccount:
    account_id: str
    name: str
    currency: str
    holdings: tuple[DemoHolding, ...]
    cash: tuple[tuple[str, Decimal], ...]
    account_type: str = "Individual"  # the label a broker would give it; the wrapper is read from it


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "DEMO-ISA-01",
        "Demo Stocks & Shares ISA",
        "GBP",
        (
            DemoHolding("VUSA", "Vanguard S&P 500 UCITS ETF", "IE00B3XXRP09", AssetClass.ETF, "GBP", "LSE",
                        Decimal(420), 30.0, 0.10, 0.16),
            DemoHolding("VWRL", "Vanguard FTSE All-World UCITS ETF", "IE00B3RBWM25", AssetClass.ETF, "GBP",
                        "LSE", Decimal(310), 50.0, 0.08, 0.14),
            DemoHolding("ISF", "iShares Core FTSE 100 UCITS ETF", "IE0005042456", AssetClass.ETF, "GBX", "LSE",
                        Decimal(1500), 650.0, 0.03, 0.13),
            DemoHolding("SGLN", "iShares Physical Gold ETC", "IE00B4ND3602", AssetClass.ETF, "GBX", "LSE",
                        Decimal(200), 1700.0, 0.06, 0.15),
        ),
        (("GBP", Decimal("1843.27")),),
        "Individual ISA",
    ),
    DemoAccount(
        "DEMO-US-01",
        "Demo US Brokerage",
        "USD",
        (
            DemoHolding("AAPL", "Apple Inc", "US0378331005", AssetClass.EQUITY, "USD", "NASDAQ", Decimal(60),
                        20.0, 0.18, 0.28),
            DemoHolding("MSFT", "Microsoft Corp", "US5949181045", AssetClass.EQUITY, "USD", "NASDAQ", Decimal(35),
                        37.0, 0.19, 0.26),
            DemoHolding("NVDA", "NVIDIA Corp", "US67066G1040", AssetClass.EQUITY, "USD", "NASDAQ", Decimal(120),
                        0.5, 0.33, 0.50),
            DemoHolding("VOO", "Vanguard S&P 500 ETF", "US9229083632", AssetClass.ETF, "USD", "NYSE ARCA",
                        Decimal(25), 170.0, 0.10, 0.16),
            DemoHolding("BND", "Vanguard Total Bond Market ETF", "US9219378356", AssetClass.ETF, "USD", "NASDAQ",
                        Decimal(80), 80.0, -0.005, 0.05),
        ),
        (("USD", Decimal("2510.55")), ("EUR", Decimal("740.00")), ("GBP", Decimal("120.10"))),
        "US Brokerage (US taxable)",
    ),
    DemoAccount(
        "DEMO-EU-01",
        "Demo Euro Account",
        "EUR",
        (
            DemoHolding("ASML", "ASML Holding NV", "NL0010273215", AssetClass.EQUITY, "EUR", "AEB", Decimal(8),
                        65.0, 0.22, 0.32),
            DemoHolding("SAP", "SAP SE", "DE0007164600", AssetClass.EQUITY, "EUR", "IBIS", Decimal(30), 60.0,
                        0.13, 0.24),
            DemoHolding("EUNL", "iShares Core MSCI World UCITS ETF", "IE00B4L5Y983", AssetClass.ETF, "EUR", "IBIS",
                        Decimal(90), 30.0, 0.09, 0.15),
        ),
        (("EUR", Decimal("512.40")),),
        "General Investment Account",
    ),
)

# (currency, long-run GBP per one unit, annual vol): FX is mean-reverting, unlike prices
FX_WALKS = (("USD", 0.76, 0.08), ("EUR", 0.855, 0.06))
FX_MEMORY_DAYS = 250


@lru_cache(maxsize=64)
def _walk(name: str, days: int) -> tuple[float, ...]:
    """Cumulative standard-normal shocks for one series, one per day since EPOCH (deterministic)."""
    rng = random.Random(f"{SEED}:{name}")  # noqa: S311 - a simulation, not security
    out = [0.0]
    for _ in range(days + 1):
        out.append(out[-1] + rng.gauss(0.0, 1.0))
    return tuple(out)


def _series(name: str, start: float, drift: float, vol: float, at: datetime, memory: int = 0) -> float:
    """Geometric random walk sampled at ``at``: daily steps, linear in log between days (minute-stable).

    With ``memory`` > 0 only the last ``memory`` days of shocks count, which keeps the series near ``start``.
    """
    days = (at.astimezone(UTC) - datetime.combine(EPOCH, time(), UTC)).total_seconds() / 86400
    days = max(0.0, days)
    whole = int(days)
    walk = _walk(name, (whole // 512 + 1) * 512)  # cache by 512-day blocks so "today" does not rebuild
    frac = days - whole
    w = walk[whole] * (1 - frac) + walk[whole + 1] * frac
    if memory:
        back = max(0, whole - memory)
        w -= walk[back] * (1 - frac) + walk[back + 1] * frac
    sigma = vol / math.sqrt(252)
    return start * math.exp(drift * days / 365.25 + sigma * w)


def _q(value: float | Decimal, exp: Decimal) -> Decimal:
    return Decimal(str(value)).quantize(exp, rounding=ROUND_HALF_EVEN)


def document(at: datetime) -> dict[str, Any]:
    """The demo 'API response' for one instant (what fetch records)."""
    at = at.astimezone(UTC)
    gbp_per = {"GBP": Decimal(1)}
    fx = []
    for ccy, start, vol in FX_WALKS:
        rate = _q(_series(f"fx:{ccy}", start, 0.0, vol, at, FX_MEMORY_DAYS), Decimal("0.000001"))
        gbp_per[ccy] = rate
        fx.append({"from": ccy, "to": "GBP", "rate": str(rate)})
    accounts = []
    quantities = {(a.account_id, h.symbol): h.quantity for a in ACCOUNTS for h in a.holdings}
    flows = flows_until(at, quantities)
    added = cash_effect(flows)  # deposits, dividends... so far: the cash they brought is in the balances
    for acct in ACCOUNTS:
        positions = []
        total = Decimal(0)
        for h in acct.holdings:
            price = _q(_series(h.symbol, h.start_price, h.drift, h.vol, at), Decimal("0.0001"))
            major, divisor = normalise_currency(h.currency)
            value = _q(h.quantity * price / divisor, CENT)
            positions.append({
                "symbol": h.symbol, "name": h.name, "isin": h.isin, "assetClass": str(h.asset_class),
                "exchange": h.exchange, "currency": h.currency, "quantity": str(h.quantity),
                "price": str(price), "marketValue": str(value),
                "costBasis": str(_q(h.quantity * Decimal(str(h.start_price)) / divisor * 3, CENT)),
            })
            total += value * gbp_per[major] / gbp_per[acct.currency]
        cash = []
        for ccy, start_amount in acct.cash:
            amount = start_amount + added.get((acct.account_id, ccy), Decimal(0))
            cash.append({"currency": ccy, "balance": str(amount)})
            total += amount * gbp_per[ccy] / gbp_per[acct.currency]
        accounts.append({
            "accountId": acct.account_id, "name": acct.name, "currency": acct.currency,
            "accountType": acct.account_type,
            "netLiquidation": str(_q(total, CENT)), "positions": positions, "cash": cash,
            "flows": [f.as_json() for f in recent(flows, at) if f.account_id == acct.account_id],
        })
    return {"asof": at.isoformat(), "accounts": accounts, "fxRates": fx}


def _dec(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        raise ParsingError(f"demo payload: {field} is not a number: {value!r}", source="demo") from None
    if not result.is_finite():
        raise ValidationError(f"demo payload: {field} is not finite", source="demo")
    return result


def _demo_wrapper(account_type: Any) -> str | None:
    # The demo stands in for an IB ISA, a Schwab brokerage account and a taxable euro account
    label = str(account_type or "")
    if "US taxable" in label:
        return "US_TAXABLE"
    return wrapper_from_broker(BROKER, label)


def parse_document(doc: Any) -> ParseResult:
    try:
        asof = datetime.fromisoformat(doc["asof"])
        if asof.tzinfo is None:
            raise ParsingError("demo payload: asof has no time zone", source="demo")
        rates = tuple(
            FxRate(r["from"], r["to"], _dec(r["rate"], "fxRates.rate"), asof, "demo") for r in doc["fxRates"]
        )
        snapshots = []
        flows: list[CashFlow] = []
        for a in doc["accounts"]:
            account_type = a.get("accountType")
            account = Account(BROKER, str(a["accountId"]), str(a["name"]), str(a["currency"]),
                              account_type=account_type, wrapper=_demo_wrapper(account_type))
            positions = []
            for p in a["positions"]:
                currency, divisor = normalise_currency(str(p["currency"]))
                instrument = Instrument(
                    broker=BROKER, broker_instrument_id=str(p["isin"]), symbol=str(p["symbol"]),
                    name=str(p["name"]), asset_class=AssetClass(p["assetClass"]), currency=currency,
                    isin=str(p["isin"]), exchange=p.get("exchange"), broker_asset_class=str(p["assetClass"]),
                )
                positions.append(Position(
                    instrument=instrument,
                    quantity=_dec(p["quantity"], "quantity"),
                    price_local=_dec(p["price"], "price") / divisor,
                    market_value_local=_dec(p["marketValue"], "marketValue"),
                    cost_basis=_dec(p["costBasis"], "costBasis") if p.get("costBasis") is not None else None,
                ))
            cash = tuple(CashBalance(str(c["currency"]), _dec(c["balance"], "cash")) for c in a["cash"])
            total = _dec(a["netLiquidation"], "netLiquidation")
            snapshots.append(AccountSnapshot(account, asof, "demo.asof", tuple(positions), cash, total))
            by_symbol = {p.instrument.symbol: p.instrument for p in positions}
            flows.extend(_flow(account.broker_account_id, f, by_symbol) for f in a.get("flows", []))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ParsingError(f"demo payload is missing or mistypes {exc}", source="demo") from None
    except UnknownCurrencyError as exc:
        raise ValidationError(str(exc), source="demo") from None
    except ValueError as exc:
        raise ParsingError(f"demo payload: {exc}", source="demo") from None
    return ParseResult(snapshots=tuple(snapshots), fx_rates=rates, cash_flows=tuple(flows))


def _flow(account_id: str, f: Any, by_symbol: dict[str, Instrument]) -> CashFlow:
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
        amount_local=_dec(f["amount"], "flows.amount"),
        instrument=by_symbol.get(f["symbol"]) if f.get("symbol") else None,
        description=f.get("description") or None,
    )


class DemoSource:
    name = "demo"
    broker = BROKER
    parser_version = "1"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.retries = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls()

    def asof(self) -> datetime:
        return self.clock().astimezone(UTC).replace(second=0, microsecond=0)

    def raw_for(self, at: datetime) -> RawResponse:
        body = json.dumps(document(at), separators=(",", ":")).encode()
        return RawResponse(
            source=self.name, broker=BROKER, endpoint="GET demo://portfolio", received_at=datetime.now(UTC),
            status_code=200, body=body, content_type="application/json",
        )

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        record(self.raw_for(self.asof()))

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        snapshots: list[AccountSnapshot] = []
        rates: list[FxRate] = []
        flows: dict[tuple[str, str], CashFlow] = {}  # documents overlap: one flow per id
        for raw in raws:
            try:
                doc = raw.json()
            except ValueError:
                raise ParsingError("demo payload is not JSON", source="demo", endpoint=raw.endpoint) from None
            result = parse_document(doc)
            snapshots.extend(result.snapshots)
            rates.extend(result.fx_rates)
            flows.update({(f.broker_account_id, f.broker_flow_id): f for f in result.cash_flows})
        return ParseResult(snapshots=tuple(snapshots), fx_rates=tuple(rates), cash_flows=tuple(flows.values()))

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, True, True, "simulated accounts (no broker needed)",
                            accounts=[a.account_id for a in ACCOUNTS])


def history_instants(days: int, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """One instant per day for the past ``days`` days: 16:35 local, after the London close."""
    last = end.astimezone(tz).date()
    out = []
    for i in range(days, 0, -1):
        d = last - timedelta(days=i)
        out.append(datetime.combine(d, time(16, 35), tz).astimezone(UTC))
    return out
