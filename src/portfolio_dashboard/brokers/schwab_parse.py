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

Every amount is USD: Schwab's Trader API only serves US accounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from portfolio_dashboard.brokers.schwab_transactions import schwab_flows
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    AssetClass,
    CashBalance,
    Instrument,
    ParseResult,
    Position,
    RawResponse,
    Trade,
)
from portfolio_dashboard.errors import ParsingError

SOURCE = "schwab"
BROKER = "schwab"
CURRENCY = "USD"
ASOF_SOURCE = "http-date"  # Schwab's balances carry no timestamp: the response's Date header is the as-of

ACCOUNT_NUMBERS_RX = re.compile(r"/trader/v1/accounts/accountNumbers\Z")
ACCOUNTS_RX = re.compile(r"/trader/v1/accounts\Z")
ACCOUNT_RX = re.compile(r"/trader/v1/accounts/(?P<hash>[^/]+)\Z")
TRANSACTIONS_RX = re.compile(r"/trader/v1/accounts/(?P<hash>[^/]+)/transactions\Z")

# Asset types whose 9-character CUSIP identifies an issue (an option's "cusip" is an internal code).
SECURITY_ASSET_TYPES = frozenset({"EQUITY", "COLLECTIVE_INVESTMENT", "MUTUAL_FUND", "FIXED_INCOME", "CASH_EQUIVALENT"})
FEE_ASSET_TYPES = frozenset({"CURRENCY"})
MAX_EXPONENT = 30


# --- small typed readers -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Where:
    """Where a value came from, for error messages that name the field and the endpoint."""

    endpoint: str
    path: str = ""

    def at(self, key: str | int) -> _Where:
        part = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return _Where(self.endpoint, f"{self.path}{part}")

    def fail(self, what: str) -> ParsingError:
        field = self.path or "body"
        return ParsingError(
            f"{field}: {what}",
            source=SOURCE,
            endpoint=self.endpoint,
            hint="Schwab's response was not in the documented shape; it is kept in raw_payloads for review",
        )


def _obj(value: Any, where: _Where) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise where.fail(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: _Where, *, optional: bool = False) -> list[Any]:
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise where.fail(f"expected a list, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, Any], key: str, where: _Where, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise where.at(key).fail("missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise where.at(key).fail(f"expected text, got {type(value).__name__}")
    return str(value).strip() or None


def _dec(data: Mapping[str, Any], key: str, where: _Where, *, required: bool = False) -> Decimal | None:
    """A number as Decimal: JSON numbers via ``str`` (never a float), and strings like ``"1,234.50"``."""
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise where.at(key).fail("missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise where.at(key).fail(f"expected a number, got {type(value).__name__}")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise where.at(key).fail(f"not a number: {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise where.at(key).fail(f"not a finite number: {value!r}")
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        # No balance, price or quantity is this large or small; arithmetic on it would overflow.
        raise where.at(key).fail(f"out of range: {str(value)[:40]!r}")
    return number


def _time(data: Mapping[str, Any], key: str, where: _Where) -> datetime | None:
    text = _str(data, key, where)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)  # Python 3.11 reads Schwab's "+0000" offsets
    except ValueError:
        raise where.at(key).fail(f"not an ISO-8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise where.at(key).fail(f"time without a UTC offset: {text[:40]!r}")
    return parsed


def _endpoint_path(raw: RawResponse) -> str:
    _, _, rest = raw.endpoint.partition(" ")
    return (rest or raw.endpoint).split("?", 1)[0]


def _json(raw: RawResponse) -> Any:
    try:
        return raw.json()
    except ValueError:
        snippet = raw.body[:60].decode("utf-8", errors="replace")
        raise ParsingError(
            f"response is not JSON (HTTP {raw.status_code}, starts {snippet!r})",
            source=SOURCE,
            endpoint=raw.endpoint,
            hint="Schwab sent a malformed or truncated body; it is kept in raw_payloads — try the capture again",
        ) from None


# --- identifiers --------------------------------------------------------------------------------------------
def _char_value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    return {"*": 36, "@": 37, "#": 38}.get(ch, ord(ch) - ord("A") + 10)


def cusip_is_valid(cusip: str) -> bool:
    """A 9-character CUSIP whose check digit (the 9th) matches the first eight."""
    if len(cusip) != 9 or not cusip.isascii() or not cusip[8].isdigit():
        return False
    if not all(c.isdigit() or "A" <= c <= "Z" or c in "*@#" for c in cusip[:8]):
        return False
    total = 0
    for i, ch in enumerate(cusip[:8]):
        value = _char_value(ch) * (2 if i % 2 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(cusip[8])


def isin_from_us_cusip(cusip: str) -> str | None:
    """``US`` + CUSIP + ISIN check digit, for a valid CUSIP of a North American issuer.

    CINS codes (first character a letter) belong to issuers outside the US and get no ISIN here. Schwab does
    not say the country of issue, so a Canadian issuer's CUSIP would also get a ``US`` prefix; the unification
    step treats this ISIN as derived.
    """
    cusip = cusip.strip().upper()
    if not cusip_is_valid(cusip) or not cusip[0].isdigit():
        return None
    body = "US" + cusip
    digits = "".join(str(_char_value(c)) for c in body)
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


def _asset_class(asset_type: str, sub_type: str | None) -> AssetClass:
    if asset_type == "EQUITY":
        return AssetClass.WARRANT if sub_type in ("WARRANT", "RIGHT") else AssetClass.EQUITY
    if asset_type == "COLLECTIVE_INVESTMENT":
        return AssetClass.ETF if sub_type == "EXCHANGE_TRADED_FUND" else AssetClass.FUND
    return {
        "MUTUAL_FUND": AssetClass.FUND,
        "CASH_EQUIVALENT": AssetClass.FUND,  # money-market / sweep funds: holdings, not the cash balance
        "FIXED_INCOME": AssetClass.BOND,
        "OPTION": AssetClass.OPTION,
        "FUTURE": AssetClass.FUTURE,
    }.get(asset_type, AssetClass.OTHER)


def _instrument(data: Mapping[str, Any], where: _Where, cusip_by_symbol: Mapping[str, str]) -> Instrument:
    asset_type = (_str(data, "assetType", where, required=True) or "").upper()
    symbol = _str(data, "symbol", where)
    cusip = _str(data, "cusip", where)
    if cusip is None and symbol is not None:
        # Transactions often omit the CUSIP the position of the same symbol carries; use it so a trade and
        # its holding share one instrument.
        cusip = cusip_by_symbol.get(symbol)
    if symbol is None and cusip is None:
        raise where.fail("instrument has neither symbol nor cusip")
    isin = isin_from_us_cusip(cusip) if cusip and asset_type in SECURITY_ASSET_TYPES else None
    return Instrument(
        broker=BROKER,
        broker_instrument_id=cusip or symbol or "",
        symbol=symbol or cusip or "",
        name=_str(data, "description", where) or symbol or cusip or "",
        asset_class=_asset_class(asset_type, _str(data, "type", where)),
        currency=CURRENCY,
        isin=isin,
        cusip=cusip,
        broker_asset_class=asset_type,
    )


def _instrument_of(parent: Mapping[str, Any], where: _Where, cusip_by_symbol: Mapping[str, str]) -> Instrument:
    inst_where = where.at("instrument")
    return _instrument(_obj(parent.get("instrument"), inst_where), inst_where, cusip_by_symbol)


# --- accounts -----------------------------------------------------------------------------------------------
def account_numbers(raw: RawResponse) -> list[tuple[str, str]]:
    """``[(account number, hash)]`` from the accountNumbers response (also used by fetch)."""
    where = _Where(raw.endpoint)
    pairs = []
    for i, item in enumerate(_list(_json(raw), where)):
        w = where.at(i)
        entry = _obj(item, w)
        number = _str(entry, "accountNumber", w, required=True)
        hash_value = _str(entry, "hashValue", w, required=True)
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


def _position(data: Mapping[str, Any], where: _Where, cusip_by_symbol: Mapping[str, str]) -> Position | None:
    instrument = _instrument_of(data, where, cusip_by_symbol)
    long_qty = _dec(data, "longQuantity", where) or Decimal(0)
    short_qty = _dec(data, "shortQuantity", where) or Decimal(0)
    quantity = long_qty - short_qty
    market_value = _dec(data, "marketValue", where, required=True)
    assert market_value is not None
    if quantity == 0:
        return None  # closed during the session: nothing held at the as-of
    average = _dec(data, "averagePrice", where)
    pnl = _dec(data, "longOpenProfitLoss" if quantity > 0 else "shortOpenProfitLoss", where)
    if instrument.asset_class is AssetClass.OPTION:
        # averagePrice is per share while quantity counts contracts; the broker's own P&L gives the cost.
        cost = market_value - pnl if pnl is not None else None
    else:
        cost = average * quantity if average is not None else None
    return Position(
        instrument=instrument,
        quantity=quantity,
        price_local=market_value / quantity,  # value per unit held; Schwab sends no separate price
        market_value_local=market_value,
        cost_basis=cost,
        unrealized_pnl=pnl,
    )


def _cash(balances: Mapping[str, Any], where: _Where) -> Decimal | None:
    """Cash as Schwab's liquidation value counts it.

    ``cashBalance`` is the cash. A margin account adds ``shortBalance`` (the credit from short sales, which
    Schwab keeps apart from ``cashBalance``) and ``marginBalance`` (a debit, negative) unless the debit
    already shows as a negative ``cashBalance``.
    """
    cash = _dec(balances, "cashBalance", where)
    if cash is None:
        cash = _dec(balances, "totalCash", where)
    if cash is None:
        return None
    short_credit = _dec(balances, "shortBalance", where) or Decimal(0)
    margin = _dec(balances, "marginBalance", where) or Decimal(0)
    return cash + short_credit + (margin if cash >= 0 else Decimal(0))


def _snapshot(
    item: Any,
    where: _Where,
    asof: tuple[datetime, str],
    cusip_by_symbol: Mapping[str, str],
    warnings: list[str],
) -> AccountSnapshot:
    wrapper = _obj(item, where)
    account_where = where.at("securitiesAccount")
    account_data = _obj(wrapper.get("securitiesAccount"), account_where)
    number = _str(account_data, "accountNumber", account_where, required=True)
    assert number is not None
    account_type = _str(account_data, "type", account_where) or "account"
    positions = []
    positions_where = account_where.at("positions")
    for i, p in enumerate(_list(account_data.get("positions"), positions_where, optional=True)):
        position = _position(_obj(p, positions_where.at(i)), positions_where.at(i), cusip_by_symbol)
        if position is not None:
            positions.append(position)
    balances_where = account_where.at("currentBalances")
    balances_raw = account_data.get("currentBalances")
    balances = _obj(balances_raw, balances_where) if balances_raw is not None else {}
    cash = _cash(balances, balances_where)
    total = _dec(balances, "liquidationValue", balances_where)
    if total is None and isinstance(wrapper.get("aggregatedBalance"), dict):
        agg_where = where.at("aggregatedBalance")
        agg = _obj(wrapper["aggregatedBalance"], agg_where)
        total = _dec(agg, "currentLiquidationValue", agg_where) or _dec(agg, "liquidationValue", agg_where)
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
        ),
        asof_ts=asof[0],
        asof_source=asof[1],
        positions=_merge(positions),
        cash=(CashBalance(CURRENCY, cash),) if cash is not None else (),
        total_value_local=total,
    )


def _cusips_by_symbol(bodies: Iterable[tuple[RawResponse, Any]]) -> dict[str, str]:
    """Symbol -> CUSIP from every position (best effort: malformed entries are reported elsewhere)."""
    found: dict[str, str] = {}
    for _, body in bodies:
        for wrapper in body if isinstance(body, list) else [body]:
            account = wrapper.get("securitiesAccount") if isinstance(wrapper, dict) else None
            positions = account.get("positions") if isinstance(account, dict) else None
            for p in positions if isinstance(positions, list) else []:
                inst = p.get("instrument") if isinstance(p, dict) else None
                symbol = inst.get("symbol") if isinstance(inst, dict) else None
                cusip = inst.get("cusip") if isinstance(inst, dict) else None
                if isinstance(symbol, str) and isinstance(cusip, str) and symbol.strip() and cusip.strip():
                    found.setdefault(symbol.strip(), cusip.strip())
    return found


# --- trades -------------------------------------------------------------------------------------------------
def _is_fee(item: Mapping[str, Any]) -> bool:
    inst = item.get("instrument")
    asset_type = inst.get("assetType") if isinstance(inst, dict) else None
    # (a malformed assetType — a list, an object — is not a fee; _instrument then names the field)
    return bool(item.get("feeType")) or (isinstance(asset_type, str) and asset_type in FEE_ASSET_TYPES)


def _trades(tx: Any, where: _Where, account_number: str | None, cusip_by_symbol: Mapping[str, str]) -> list[Trade]:
    data = _obj(tx, where)
    if (_str(data, "type", where) or "").upper() != "TRADE":
        return []
    status = _str(data, "status", where)
    if status is not None and status.upper() != "VALID":
        return []  # pending / cancelled / corrected executions are not trades (yet)
    activity_id = _str(data, "activityId", where, required=True)
    assert activity_id is not None
    when = _time(data, "time", where) or _time(data, "tradeDate", where)
    if when is None:
        raise where.at("time").fail("missing (and no tradeDate)")
    account = account_number or _str(data, "accountNumber", where, required=True)
    assert account is not None
    items_where = where.at("transferItems")
    items = [(i, _obj(x, items_where.at(i))) for i, x in enumerate(_list(data.get("transferItems"), items_where))]
    fees = [(i, x) for i, x in items if _is_fee(x)]
    legs = [(i, x) for i, x in items if not _is_fee(x)]
    if not legs:
        raise items_where.fail("a TRADE without a security item")
    fee_costs = [_dec(x, "cost", items_where.at(i)) for i, x in fees]
    commission = sum((c for c in fee_costs if c is not None), Decimal(0)) if fees else None
    net_amount = _dec(data, "netAmount", where)
    trades = []
    for n, (i, leg) in enumerate(legs, start=1):
        leg_where = items_where.at(i)
        instrument = _instrument_of(leg, leg_where, cusip_by_symbol)
        quantity = _dec(leg, "amount", leg_where, required=True)
        assert quantity is not None
        cost = _dec(leg, "cost", leg_where)
        price = _dec(leg, "price", leg_where)
        if price is None:
            if cost is None or quantity == 0:
                raise leg_where.at("price").fail("missing (and no cost to derive it from)")
            price = abs(cost / quantity)
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
                price_local=price,
                amount_local=amount,
                currency=CURRENCY,
                commission=commission if n == 1 else None,  # fees belong to the transaction: count them once
                description=_str(data, "description", where) or instrument.name,
            )
        )
    return trades


# --- entry point --------------------------------------------------------------------------------------------
def parse_responses(raws: Sequence[RawResponse]) -> ParseResult:
    """Snapshots and trades from one capture's recorded responses. Error responses are skipped."""
    ok = [r for r in raws if r.status_code is not None and 200 <= r.status_code < 300]
    hashes: dict[str, str] = {}
    account_bodies: list[tuple[RawResponse, Any]] = []
    transaction_raws: list[tuple[RawResponse, str]] = []
    for raw in ok:
        path = _endpoint_path(raw)
        if ACCOUNT_NUMBERS_RX.search(path):
            hashes.update({h: n for n, h in account_numbers(raw)})
        elif m := TRANSACTIONS_RX.search(path):
            transaction_raws.append((raw, m["hash"]))
        elif ACCOUNTS_RX.search(path) or ACCOUNT_RX.search(path):
            account_bodies.append((raw, _json(raw)))
    if not account_bodies:
        raise ParsingError(
            "no successful accounts response among the recorded responses",
            source=SOURCE,
            hint="the capture did not get as far as reading positions; check the run's error",
        )
    warnings: list[str] = []
    cusip_by_symbol = _cusips_by_symbol(account_bodies)
    snapshots: dict[str, AccountSnapshot] = {}
    for raw, body in account_bodies:
        where = _Where(raw.endpoint)
        asof = _asof(raw, warnings)
        items = body if isinstance(body, list) else [_obj(body, where)]
        for i, item in enumerate(items):
            snap = _snapshot(item, where.at(i) if isinstance(body, list) else where, asof, cusip_by_symbol, warnings)
            snapshots[snap.account.broker_account_id] = snap
    trades: dict[str, Trade] = {}
    for raw, account_hash in transaction_raws:
        where = _Where(raw.endpoint)
        for i, tx in enumerate(_list(_json(raw), where)):
            for trade in _trades(tx, where.at(i), hashes.get(account_hash), cusip_by_symbol):
                trades.setdefault(trade.broker_trade_id, trade)
    flows, flow_warnings = schwab_flows(((r, hashes.get(h)) for r, h in transaction_raws), cusip_by_symbol)
    return ParseResult(
        snapshots=tuple(snapshots.values()),
        trades=tuple(sorted(trades.values(), key=lambda t: (t.trade_ts, t.broker_trade_id))),
        warnings=tuple(warnings + flow_warnings),
        cash_flows=tuple(flows),
    )
