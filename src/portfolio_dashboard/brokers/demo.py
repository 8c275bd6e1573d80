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
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any, Self
from zoneinfo import ZoneInfo

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.demo_flows import cash_effect, flows_until, recent
from portfolio_dashboard.brokers.demo_rows import currency_code, dec, flow_row, trade_row
from portfolio_dashboard.brokers.demo_trades import COMMISSION_USD, trades_until
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    AssetClass,
    CashBalance,
    CashFlow,
    FxRate,
    Instrument,
    ParseResult,
    Position,
    RawResponse,
    Trade,
    normalise_currency,
)
from portfolio_dashboard.domain.accounts import wrapper_from_broker
from portfolio_dashboard.domain.coverage import CoverageCounter
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.errors import ParsingError, ValidationError

BROKER = "demo"
EPOCH = date(2014, 1, 1)
# Prices are pinned to plausible levels on this day and walk away from it both ways: over the year of demo
# history they stay near what the real tickers trade at (a walk started in 2014 put NVDA at $2.66).
ANCHOR = date(2026, 11, 30)
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
    price: float  # in quote currency on ANCHOR: a plausible market price for the real ticker
    cost: float  # average cost per unit, quote currency (a long-held position bought below today's price)
    drift: float  # annual
    vol: float  # annual
    walk: str = ""  # the random walk it follows; funds tracking one index share one (VUSA and VOO)


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
                        Decimal(420), 97.80, 71.25, 0.10, 0.16, "sp500"),
            DemoHolding("VWRL", "Vanguard FTSE All-World UCITS ETF", "IE00B3RBWM25", AssetClass.ETF, "GBP",
                        "LSE", Decimal(310), 134.60, 98.40, 0.08, 0.14, "world"),
            DemoHolding("ISF", "iShares Core FTSE 100 UCITS ETF", "IE0005042456", AssetClass.ETF, "GBX", "LSE",
                        Decimal(1500), 985.0, 772.0, 0.04, 0.12),
            DemoHolding("SGLN", "iShares Physical Gold ETC", "IE00B4ND3602", AssetClass.ETF, "GBX", "LSE",
                        Decimal(200), 6620.0, 3915.0, 0.06, 0.15),
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
                        272.40, 148.90, 0.12, 0.25),
            DemoHolding("MSFT", "Microsoft Corp", "US5949181045", AssetClass.EQUITY, "USD", "NASDAQ", Decimal(35),
                        478.60, 312.15, 0.12, 0.24),
            DemoHolding("NVDA", "NVIDIA Corp", "US67066G1040", AssetClass.EQUITY, "USD", "NASDAQ", Decimal(120),
                        181.90, 46.80, 0.20, 0.45),
            DemoHolding("VOO", "Vanguard S&P 500 ETF", "US9229083632", AssetClass.ETF, "USD", "NYSE ARCA",
                        Decimal(25), 628.30, 432.70, 0.10, 0.16, "sp500"),
            DemoHolding("BND", "Vanguard Total Bond Market ETF", "US9219378356", AssetClass.ETF, "USD", "NASDAQ",
                        Decimal(80), 74.10, 76.35, 0.01, 0.05),
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
                        905.20, 641.00, 0.12, 0.32),
            DemoHolding("SAP", "SAP SE", "DE0007164600", AssetClass.EQUITY, "EUR", "IBIS", Decimal(30), 212.35,
                        168.50, 0.10, 0.24),
            DemoHolding("EUNL", "iShares Core MSCI World UCITS ETF", "IE00B4L5Y983", AssetClass.ETF, "EUR", "IBIS",
                        Decimal(90), 109.80, 87.95, 0.08, 0.14, "world"),
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


def _shock(name: str, days: float) -> float:
    """The walk's cumulative shock ``days`` after EPOCH: daily steps, linear between days (minute-stable)."""
    days = max(0.0, days)
    whole = int(days)
    walk = _walk(name, (whole // 512 + 1) * 512)  # cache by 512-day blocks so "today" does not rebuild
    frac = days - whole
    return walk[whole] * (1 - frac) + walk[whole + 1] * frac


def _days(at: datetime) -> float:
    return (at.astimezone(UTC) - datetime.combine(EPOCH, time(), UTC)).total_seconds() / 86400


def _series(name: str, start: float, drift: float, vol: float, at: datetime, memory: int = 0) -> float:
    """Geometric random walk sampled at ``at``, from ``start`` at EPOCH.

    With ``memory`` > 0 only the last ``memory`` days of shocks count, which keeps the series near ``start``.
    """
    days = max(0.0, _days(at))
    w = _shock(name, days)
    if memory:
        w -= _shock(name, max(0.0, float(int(days) - memory)) + (days - int(days)))
    sigma = vol / math.sqrt(252)
    return start * math.exp(drift * days / 365.25 + sigma * w)


ANCHOR_DAYS = float((ANCHOR - EPOCH).days)
DAMP = 0.6


def price_at(h: DemoHolding, at: datetime) -> float:
    """The holding's price at ``at``: ``h.price`` on ANCHOR, a drifting random walk either side of it."""
    days = _days(at)
    name = h.walk or h.symbol
    # One step per calendar day, damped: a year of demo history should look like a year of markets, not the
    # tail of one seeded draw (an undamped walk put the FTSE 100 fund up 45 % in a year).
    sigma = DAMP * h.vol / math.sqrt(365.25)
    move = h.drift * (days - ANCHOR_DAYS) / 365.25 + sigma * (_shock(name, days) - _shock(name, ANCHOR_DAYS))
    return h.price * math.exp(move)


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
            price = _q(price_at(h, at), Decimal("0.0001"))
            major, divisor = normalise_currency(h.currency)
            value = _q(h.quantity * price / divisor, CENT)
            positions.append({
                "symbol": h.symbol, "name": h.name, "isin": h.isin, "assetClass": str(h.asset_class),
                "exchange": h.exchange, "currency": h.currency, "quantity": str(h.quantity),
                "price": str(price), "marketValue": str(value),
                "costBasis": str(_q(h.quantity * Decimal(str(h.cost)) / divisor, CENT)),
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
            "trades": _trades_json(acct, at),
        })
    return {"asof": at.isoformat(), "accounts": accounts, "fxRates": fx}


def _trades_json(acct: DemoAccount, at: datetime) -> list[dict[str, str]]:
    """The account's trades so far, each at the market price of its moment and with the GBP rate of that moment
    (the demo states its own rate, as IBKR does with fxRateToBase)."""
    holdings = {h.symbol: h for h in acct.holdings}
    walks = {ccy: (start, vol) for ccy, start, vol in FX_WALKS}
    out = []
    for trade in trades_until(at):
        if trade.account_id != acct.account_id:
            continue
        h = holdings[trade.symbol]
        price = _q(price_at(h, trade.at), CENT)
        major, divisor = normalise_currency(h.currency)
        gbp = Decimal(1)
        if major != "GBP":
            start, vol = walks[major]
            gbp = _q(_series(f"fx:{major}", start, 0.0, vol, trade.at, FX_MEMORY_DAYS), Decimal("0.000001"))
        out.append({
            "id": trade.trade_id, "symbol": trade.symbol, "time": trade.at.isoformat(), "currency": h.currency,
            "quantity": str(trade.quantity), "price": str(price), "commission": str(COMMISSION_USD),
            "amount": str(-_q(trade.quantity * price / divisor, CENT)), "gbpRate": str(gbp),
        })
    return out


def _demo_wrapper(account_type: Any) -> str | None:
    # The demo stands in for an IB ISA, a Schwab brokerage account and a taxable euro account
    label = str(account_type or "")
    if "US taxable" in label:
        return "US_TAXABLE"
    return wrapper_from_broker(BROKER, label)


def parse_document(doc: Any, coverage: CoverageCounter | None = None) -> ParseResult:
    """One demo document; ``coverage`` (when given) counts its rows, every one parsed (a bad row fails all)."""
    tally = coverage if coverage is not None else CoverageCounter()
    try:
        asof = datetime.fromisoformat(doc["asof"])
        if asof.tzinfo is None:
            raise ParsingError("demo payload: asof has no time zone", source="demo")
        rates = [FxRate(currency_code(r["from"], "fxRates.from"), currency_code(r["to"], "fxRates.to"),
                        dec(r["rate"], "fxRates.rate"), asof, "demo") for r in doc["fxRates"]]
        trades: list[Trade] = []
        snapshots = []
        flows: list[CashFlow] = []
        for a in doc["accounts"]:
            account_type = a.get("accountType")
            account = Account(BROKER, str(a["accountId"]), str(a["name"]), currency_code(a["currency"], "currency"),
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
                    quantity=dec(p["quantity"], "quantity"),
                    price_local=dec(p["price"], "price") / divisor,
                    market_value_local=dec(p["marketValue"], "marketValue"),
                    cost_basis=dec(p["costBasis"], "costBasis") if p.get("costBasis") is not None else None,
                ))
            cash = tuple(CashBalance(currency_code(c["currency"], "cash.currency"), dec(c["balance"], "cash"))
                         for c in a["cash"])
            total = dec(a["netLiquidation"], "netLiquidation")
            snapshots.append(AccountSnapshot(account, asof, "demo.asof", tuple(positions), cash, total))
            by_symbol = {p.instrument.symbol: p.instrument for p in positions}
            flows.extend(flow_row(account.broker_account_id, f, by_symbol) for f in a.get("flows", []))
            for t in a.get("trades", []):
                trade, rate = trade_row(account.broker_account_id, t, by_symbol)
                trades.append(trade)
                rates.append(rate)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ParsingError(f"demo payload is missing or mistypes {exc}", source="demo") from None
    except UnknownCurrencyError as exc:
        raise ValidationError(str(exc), source="demo") from None
    except ValueError as exc:
        raise ParsingError(f"demo payload: {exc}", source="demo") from None
    for section, kind, count in (("fxRates", "rate", len(rates)), ("accounts", "account", len(snapshots)),
                                 ("accounts.positions", "position", sum(len(x.positions) for x in snapshots)),
                                 ("accounts.cash", "cash", sum(len(x.cash) for x in snapshots)),
                                 ("accounts.flows", "flow", len(flows)),
                                 ("accounts.trades", "trade", len(trades))):
        tally.seen(section, kind, count)
        tally.parsed(section, kind, count)
    return ParseResult(snapshots=tuple(snapshots), fx_rates=tuple(rates), cash_flows=tuple(flows),
                       trades=tuple(trades), coverage=tally.lines())


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
        trades: dict[tuple[str, str], Trade] = {}
        coverage = CoverageCounter()
        for raw in raws:
            try:
                doc = raw.json()
            except ValueError:
                raise ParsingError("demo payload is not JSON", source="demo", endpoint=raw.endpoint) from None
            result = parse_document(doc, coverage)
            snapshots.extend(replace(snap, source_raw=raw) for snap in result.snapshots)
            rates.extend(result.fx_rates)
            flows.update({(f.broker_account_id, f.broker_flow_id): f for f in result.cash_flows})
            trades.update({(t.broker_account_id, t.broker_trade_id): t for t in result.trades})
        return ParseResult(snapshots=tuple(snapshots), fx_rates=tuple(dict.fromkeys(rates)),
                           cash_flows=tuple(flows.values()), trades=tuple(trades.values()), coverage=coverage.lines())

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
