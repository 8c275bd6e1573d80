"""Reading a Flex ``FlexQueryResponse`` into snapshots, rates and trades (pure, no I/O).

Shape (an Activity Flex Query, XML output)::

    FlexQueryResponse(queryName, type="AF")
      FlexStatements(count)
        FlexStatement(accountId, fromDate, toDate, period, whenGenerated)     one per account
          AccountInformation(currency, acctAlias, ...)
          EquitySummaryInBase / EquitySummaryByReportDateInBase(reportDate, total, cash, stock, ...)
          OpenPositions / OpenPosition(levelOfDetail SUMMARY|LOT, conid, position, markPrice, ...)
          CashReport / CashReportCurrency(currency incl. BASE_SUMMARY, endingCash, ...)
          ConversionRates / ConversionRate(reportDate, fromCurrency, toCurrency, rate)
          Trades / Trade(levelOfDetail EXECUTION|ORDER|CLOSED_LOT, tradeID, dateTime, ...)

**As-of.** An activity statement describes IBKR's close of business of its report date. IBKR documents
the statement cutoff for securities as "generally 8:20 PM" US Eastern, so a report date ``D`` becomes
``D 20:20 America/New_York``. A statement generated before that cutoff (a query for today) cannot describe
the close, so its snapshot is dated when it was generated instead. Flex date-times carry no zone; they
are IBKR's US Eastern time.

**Several days.** ``EquitySummaryInBase`` has one row per report date, so a statement over a year gives one
snapshot per day with the account total; positions (``OpenPositions``) and cash (``CashReport``, which
reports the period's ending cash) only exist for the day IBKR gives them — usually the statement's last.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time
from decimal import Decimal
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from portfolio_dashboard.brokers.flex_values import (
    FlexValueError,
    SlashOrder,
    date_value,
    datetime_value,
    decimal_value,
    is_null,
    slash_order,
    time_value,
)
from portfolio_dashboard.brokers.ib_flex_flows import parse_flex_flows
from portfolio_dashboard.brokers.ib_flex_protocol import SOURCE, read_xml
from portfolio_dashboard.brokers.ib_flex_schema import SECTIONS, is_known
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    AssetClass,
    CashBalance,
    FxRate,
    Instrument,
    ParseResult,
    Position,
    RawResponse,
    Trade,
    normalise_currency,
)
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.errors import ParsingError, ValidationError

log = logging.getLogger(__name__)

BROKER = "ib"
PROVIDER = "ib_flex"
IBKR_ZONE = ZoneInfo("America/New_York")
STATEMENT_CUTOFF = time(20, 20)  # IBKR: "the statement cutoff time for securities is generally 8:20 PM" ET
DATE_HINT = "set the Flex query's date format to yyyyMMdd or yyyy-MM-dd in Client Portal"

_ASSET_CLASSES = {
    "STK": AssetClass.EQUITY,
    "OPT": AssetClass.OPTION,
    "FOP": AssetClass.OPTION,
    "FSOPT": AssetClass.OPTION,
    "FSFOP": AssetClass.OPTION,
    "FUT": AssetClass.FUTURE,
    "WAR": AssetClass.WARRANT,
    "BOND": AssetClass.BOND,
    "BILL": AssetClass.BOND,
    "FUND": AssetClass.FUND,
    "CRYPTO": AssetClass.CRYPTO,
    # "CASH" is IBKR's label for forex (EUR.USD conversions), not a cash holding: cash comes from CashReport.
}
# Attributes holding dates; their slash-formatted values decide MM/dd vs dd/MM for the whole response.
_DATE_ATTRS = ("fromDate", "toDate", "reportDate", "tradeDate", "dateTime", "whenGenerated")


def report_asof(day: date) -> datetime:
    return datetime.combine(day, STATEMENT_CUTOFF, tzinfo=IBKR_ZONE)


class _Row:
    """Typed access to one element's attributes; every error names the element, attribute and endpoint."""

    def __init__(self, elem: Element, endpoint: str, order: SlashOrder | None) -> None:
        self.elem = elem
        self.endpoint = endpoint
        self.order = order

    def fail(self, attr: str, problem: str) -> ParsingError:
        return ParsingError(f"{self.elem.tag}.{attr}: {problem}", source=SOURCE, endpoint=self.endpoint)

    def text(self, attr: str) -> str | None:
        value = self.elem.get(attr)
        return None if value is None or is_null(value) else value.strip()

    def req_text(self, attr: str) -> str:
        value = self.text(attr)
        if value is None:
            raise self.fail(attr, "missing")
        return value

    def dec(self, attr: str) -> Decimal | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return decimal_value(value)
        except FlexValueError as exc:
            raise self.fail(attr, str(exc)) from None

    def req_dec(self, attr: str) -> Decimal:
        value = self.dec(attr)
        if value is None:
            raise self.fail(attr, "missing")
        return value

    def day(self, attr: str) -> date | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return date_value(value, self.order)
        except FlexValueError as exc:
            raise ParsingError(
                f"{self.elem.tag}.{attr}: {exc}", source=SOURCE, endpoint=self.endpoint, hint=DATE_HINT
            ) from None

    def req_day(self, attr: str) -> date:
        value = self.day(attr)
        if value is None:
            raise self.fail(attr, "missing")
        return value

    def moment(self, attr: str) -> datetime | None:
        """A Flex date-time in IBKR's zone (US Eastern)."""
        value = self.text(attr)
        if value is None:
            return None
        try:
            return datetime_value(value, self.order).replace(tzinfo=IBKR_ZONE)
        except FlexValueError as exc:
            raise ParsingError(
                f"{self.elem.tag}.{attr}: {exc}", source=SOURCE, endpoint=self.endpoint, hint=DATE_HINT
            ) from None

    def clock(self, attr: str) -> time | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return time_value(value)
        except FlexValueError as exc:
            raise self.fail(attr, str(exc)) from None

    def currency(self, attr: str) -> tuple[str, Decimal]:
        code = self.req_text(attr)
        try:
            return normalise_currency(code)
        except UnknownCurrencyError:
            raise ValidationError(
                f"{self.elem.tag}.{attr}: unknown currency {code!r}", source=SOURCE, endpoint=self.endpoint
            ) from None


@dataclass
class _Collected:
    snapshots: dict[str, AccountSnapshot] = field(default_factory=dict)
    rates: dict[tuple[datetime, str, str], FxRate] = field(default_factory=dict)
    trades: dict[str, Trade] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    held: dict[str, Instrument] = field(default_factory=dict)  # instruments as OpenPositions describe them


def parse_flex(raws: Sequence[RawResponse]) -> ParseResult:
    """Every ``FlexQueryResponse`` among ``raws``; status responses (in progress, errors) are skipped."""
    out = _Collected()
    found = False
    roots: list[tuple[Element, str]] = []
    for raw in raws:
        if raw.status_code is not None and not 200 <= raw.status_code < 300:
            continue
        root = read_xml(raw.body, endpoint=raw.endpoint)
        if root.tag == "FlexStatementResponse":
            continue
        if root.tag != "FlexQueryResponse":
            raise ParsingError(
                f"unexpected XML root <{root.tag}>: expected FlexQueryResponse", source=SOURCE, endpoint=raw.endpoint
            )
        found = True
        _parse_response(root, raw.endpoint, out)
        roots.append((root, raw.endpoint))
    if not found:
        raise ParsingError(
            "no Flex statement (FlexQueryResponse) among the recorded responses",
            source=SOURCE,
            hint="the statement was not retrieved; run the capture again",
        )
    # Trade rows often carry fewer identifiers than position rows; a trade must not blank out what the
    # position said about the same conid when both are stored.
    trades = [
        replace(t, instrument=_merged(out.held[t.instrument.broker_instrument_id], t.instrument))
        if t.instrument.broker_instrument_id in out.held
        else t
        for t in out.trades.values()
    ]
    if out.unknown:
        log.info("ib_flex: attributes/sections this parser does not know (kept in raw XML): %s", sorted(out.unknown))
    return ParseResult(
        snapshots=tuple(sorted(out.snapshots.values(), key=lambda s: (s.account.broker_account_id, s.asof_ts))),
        fx_rates=tuple(sorted(out.rates.values(), key=lambda r: (r.asof_ts, r.source_ccy, r.target_ccy))),
        trades=tuple(sorted(trades, key=lambda t: (t.trade_ts, t.broker_trade_id))),
        warnings=tuple(dict.fromkeys(out.warnings + (flows := parse_flex_flows(roots)).warnings)),
        cash_flows=tuple(flows.cash_flows),
        corporate_actions=tuple(flows.corporate_actions),
        nav_changes=tuple(flows.nav_changes),
        dividend_accruals=tuple(flows.dividend_accruals),
    )


def _note_unknown(elem: Element, out: _Collected) -> None:
    for attr in elem.attrib:
        if not is_known(elem.tag, attr):
            out.unknown.add(f"{elem.tag}.{attr}")


def _parse_response(root: Element, endpoint: str, out: _Collected) -> None:
    _note_unknown(root, out)
    query_type = root.get("type")
    if query_type and query_type != "AF":
        out.warnings.append(f"Flex query type {query_type!r} is not an Activity Flex Query; positions may be missing")
    try:
        order = slash_order(
            value for elem in root.iter() for attr in _DATE_ATTRS if "/" in (value := elem.get(attr) or "")
        )
    except FlexValueError as exc:
        raise ParsingError(str(exc), source=SOURCE, endpoint=endpoint, hint=DATE_HINT) from None
    container = root.find("FlexStatements")
    if container is None:
        raise ParsingError("FlexQueryResponse has no FlexStatements", source=SOURCE, endpoint=endpoint)
    _note_unknown(container, out)
    statements = container.findall("FlexStatement")
    declared = container.get("count")
    if declared is not None and declared.strip() != str(len(statements)):
        out.warnings.append(f"FlexStatements says count={declared} but holds {len(statements)} statements")
    if not statements:
        out.warnings.append("the Flex statement holds no accounts")
    for stmt in statements:
        _Statement(stmt, endpoint, order, out).parse()


class _Statement:
    """One ``FlexStatement``: one account over the statement's period."""

    def __init__(self, elem: Element, endpoint: str, order: SlashOrder | None, out: _Collected) -> None:
        self.elem = elem
        self.endpoint = endpoint
        self.order = order
        self.out = out
        self.head = _Row(elem, endpoint, order)
        self.account_id = self.head.req_text("accountId")
        self.to_date = self.head.day("toDate")
        self.generated = self.head.moment("whenGenerated")
        self.sections = {child.tag: child for child in elem}
        self.total_currencies: set[str] = set()

    def row(self, elem: Element) -> _Row:
        _note_unknown(elem, self.out)
        return _Row(elem, self.endpoint, self.order)

    def rows(self, section: str, tag: str) -> list[_Row]:
        container = self.sections.get(section)
        if container is None:
            return []
        rows = [self.row(child) for child in container if child.tag == tag]
        # Rows of another account (consolidated statements) belong to that account's own statement.
        return [r for r in rows if r.text("accountId") in (None, self.account_id)]

    def warn(self, text: str) -> None:
        self.out.warnings.append(f"{self.account_id}: {text}")

    def parse(self) -> None:
        _note_unknown(self.elem, self.out)
        self.out.unknown.update(f"FlexStatement/{tag}" for tag in self.sections if tag not in SECTIONS)
        for needed, what in (
            ("OpenPositions", "positions"),
            ("CashReport", "cash balances"),
            ("EquitySummaryInBase", "the account total"),
        ):
            if needed not in self.sections:
                self.warn(f"the Flex query has no {needed} section, so {what} cannot be captured; add it")
        totals = self.totals()
        account = self.account(totals)
        rates = self.conversion_rates(account.base_currency)
        positions, implied = self.positions()
        cash = self.cash()
        for (day, ccy), rate in implied.items():
            self.add_rate(ccy, account.base_currency, rate, day, explicit=rates)
        for day in sorted(set(totals) | set(positions) | set(cash)):
            self.snapshot(account, day, totals.get(day), positions.get(day, {}), cash.get(day, {}))
        for trade in self.trades():
            self.out.trades[trade.broker_trade_id] = trade

    # --- account and totals ----------------------------------------------------------------------------
    def totals(self) -> dict[date, Decimal | None]:
        totals: dict[date, Decimal | None] = {}
        for row in self.rows("EquitySummaryInBase", "EquitySummaryByReportDateInBase"):
            day = row.req_day("reportDate")
            total = row.dec("total")
            if day in totals and totals[day] != total:
                self.warn(f"two different account totals for {day}; using the later")
            totals[day] = total
            if (ccy := row.text("currency")) is not None:
                self.total_currencies.add(ccy)
        return totals

    def account(self, totals: dict[date, Decimal | None]) -> Account:
        info = self.sections.get("AccountInformation")
        info_row = self.row(info) if info is not None else None
        base = info_row.text("currency") if info_row else None
        if base is None and len(self.total_currencies) == 1:
            base = next(iter(self.total_currencies))
        if base is None:
            targets = {r.text("toCurrency") for r in self.rows("ConversionRates", "ConversionRate")} - {None}
            base = next(iter(targets)) if len(targets) == 1 else None
        if base is None:
            raise ParsingError(
                f"cannot tell the base currency of account {self.account_id}",
                source=SOURCE,
                endpoint=self.endpoint,
                hint="add Account Information (Currency) to the Flex query",
            )
        try:
            base_ccy, _ = normalise_currency(base)
        except UnknownCurrencyError:
            raise ValidationError(
                f"unknown base currency {base!r} for {self.account_id}", source=SOURCE, endpoint=self.endpoint
            ) from None
        alias = info_row.text("acctAlias") if info_row else None
        # AccountInformation.name is the holder's personal name; the alias (or the number) names the account.
        return Account(BROKER, self.account_id, alias or f"IBKR {self.account_id}", base_ccy)

    # --- rates ---------------------------------------------------------------------------------------------
    def conversion_rates(self, base: str) -> set[tuple[date, str, str]]:
        explicit: set[tuple[date, str, str]] = set()
        skipped: set[str] = set()
        for row in self.rows("ConversionRates", "ConversionRate"):
            day = row.req_day("reportDate")
            src, tgt, rate = row.req_text("fromCurrency"), row.req_text("toCurrency"), row.req_dec("rate")
            if rate <= 0:  # IBKR writes -1 for a currency it has no rate for that day
                skipped.add(src)
                continue
            try:
                (src_ccy, src_div), (tgt_ccy, tgt_div) = normalise_currency(src), normalise_currency(tgt)
            except UnknownCurrencyError:
                skipped.add(f"{src}->{tgt}")
                continue
            self.add_rate(src_ccy, tgt_ccy, rate * src_div / tgt_div, day, explicit=None)
            explicit.add((day, src_ccy, tgt_ccy))
        if skipped:
            self.warn(f"IBKR gave no usable conversion rate for {', '.join(sorted(skipped))} on some days")
        return explicit

    def add_rate(
        self, src: str, tgt: str, rate: Decimal, day: date, explicit: set[tuple[date, str, str]] | None
    ) -> None:
        if src == tgt or (explicit is not None and (day, src, tgt) in explicit):
            return  # IBKR's ConversionRates row wins over a position's fxRateToBase
        fx = FxRate(src, tgt, rate, report_asof(day), PROVIDER)
        self.out.rates[(fx.asof_ts, src, tgt)] = fx

    # --- holdings ------------------------------------------------------------------------------------------
    def instrument(self, row: _Row) -> tuple[Instrument, Decimal]:
        """The instrument and the divisor its money amounts need (100 for pence-quoted lines)."""
        conid = row.req_text("conid")
        currency, divisor = row.currency("currency")
        category = row.text("assetCategory")
        asset_class = _ASSET_CLASSES.get((category or "").upper(), AssetClass.OTHER)
        if asset_class is AssetClass.EQUITY and (row.text("subCategory") or "").upper() == "ETF":
            asset_class = AssetClass.ETF
        symbol = row.text("symbol") or conid
        instrument = Instrument(
            broker=BROKER,
            broker_instrument_id=conid,  # the same id the Client Portal gateway source uses
            symbol=symbol,
            name=row.text("description") or symbol,
            asset_class=asset_class,
            currency=currency,
            isin=row.text("isin"),
            cusip=row.text("cusip"),
            figi=row.text("figi"),
            exchange=row.text("listingExchange"),
            broker_asset_class=category,
        )
        return instrument, divisor

    def positions(self) -> tuple[dict[date, dict[str, Position]], dict[tuple[date, str], Decimal]]:
        rows = self.rows("OpenPositions", "OpenPosition")
        summary = [r for r in rows if (r.text("levelOfDetail") or "SUMMARY").upper() == "SUMMARY"]
        if not summary and rows:
            self.warn("OpenPositions has only LOT rows; lots are summed per instrument (choose Summary detail)")
        by_day: dict[date, dict[str, Position]] = defaultdict(dict)
        implied: dict[tuple[date, str], Decimal] = {}
        for row in summary or rows:
            day = row.day("reportDate") or self.to_date
            if day is None:
                raise row.fail("reportDate", "missing (and the statement has no toDate)")
            instrument, div = self.instrument(row)
            cost, pnl = row.dec("costBasisMoney"), row.dec("fifoPnlUnrealized")
            position = Position(
                instrument=instrument,
                quantity=row.req_dec("position"),
                price_local=row.req_dec("markPrice") / div,
                market_value_local=row.req_dec("positionValue") / div,
                cost_basis=None if cost is None else cost / div,
                unrealized_pnl=None if pnl is None else pnl / div,
            )
            known = self.out.held.get(instrument.broker_instrument_id)
            self.out.held[instrument.broker_instrument_id] = instrument if known is None else _merged(known, instrument)
            held = by_day[day].get(instrument.broker_instrument_id)
            if held is not None:
                if summary:
                    self.warn(f"two summary rows for conid {instrument.broker_instrument_id} on {day}; kept the later")
                else:
                    position = _add_lot(held, position)
            by_day[day][instrument.broker_instrument_id] = position
            fx = row.dec("fxRateToBase")
            if fx is not None and fx > 0:
                implied[(day, instrument.currency)] = fx * div
        return by_day, implied

    def cash(self) -> dict[date, dict[str, Decimal]]:
        by_day: dict[date, dict[str, Decimal]] = defaultdict(dict)
        for row in self.rows("CashReport", "CashReportCurrency"):
            code = row.req_text("currency")
            if code.upper() == "BASE_SUMMARY" or (row.text("levelOfDetail") or "").lower() == "basecurrency":
                continue  # all currencies summed in the base currency: would count the cash twice
            day = row.day("toDate") or self.to_date
            if day is None:
                raise row.fail("toDate", "missing (and the statement has no toDate)")
            currency, div = row.currency("currency")
            amount = row.req_dec("endingCash") / div
            if currency in by_day[day]:
                self.warn(f"two cash rows for {currency} on {day}; kept the later")
            by_day[day][currency] = amount
        return by_day

    def snapshot(
        self,
        account: Account,
        day: date,
        total: Decimal | None,
        positions: dict[str, Position],
        cash: dict[str, Decimal],
    ) -> None:
        asof, source = report_asof(day), "flex-report-date"
        if self.generated is not None and self.generated < asof:
            asof, source = self.generated, "flex-when-generated"
        snap = AccountSnapshot(
            account=account,
            asof_ts=asof,
            asof_source=source,
            positions=tuple(positions[k] for k in sorted(positions)),
            cash=tuple(CashBalance(ccy, amount) for ccy, amount in sorted(cash.items()) if amount != 0),
            total_value_local=total,
        )
        self.out.snapshots[snap.key] = snap

    # --- trades --------------------------------------------------------------------------------------------
    def trades(self) -> Iterable[Trade]:
        for row in self.rows("Trades", "Trade"):
            level = (row.text("levelOfDetail") or "EXECUTION").upper()
            if level != "EXECUTION":
                continue  # ORDER / CLOSED_LOT / summaries restate executions and would count them twice
            yield self.trade(row)

    def trade(self, row: _Row) -> Trade:
        trade_id = row.text("tradeID") or row.req_text("transactionID")
        instrument, div = self.instrument(row)
        when = row.moment("dateTime")
        if when is None:
            day = row.req_day("tradeDate")
            at = row.clock("tradeTime")
            when = datetime.combine(day, at, tzinfo=IBKR_ZONE) if at is not None else report_asof(day)
        commission = row.dec("ibCommission")
        commission_ccy = row.text("ibCommissionCurrency")
        notes = [n for n in (row.text("buySell"), row.text("notes")) if n]
        if commission is not None and commission_ccy and commission_ccy != row.text("currency"):
            notes.append(f"commission {commission} {commission_ccy}")
            commission = None  # Trade.commission is in the trade's currency
        amount = row.dec("proceeds")
        if amount is None:
            amount = row.req_dec("netCash")
        pnl = row.dec("fifoPnlRealized")
        taxes = row.dec("taxes")  # stamp duty / SDRT / levies, in the trade's currency (IBKR signs it as a cost)
        return Trade(
            broker=BROKER,
            broker_trade_id=trade_id,
            broker_account_id=row.text("accountId") or self.account_id,
            instrument=instrument,
            trade_ts=when,
            quantity=row.req_dec("quantity"),  # signed by IBKR: negative for sales
            price_local=row.req_dec("tradePrice") / div,
            amount_local=amount / div,  # proceeds: negative when cash leaves the account
            currency=instrument.currency,
            commission=None if commission is None else commission / div,
            realized_pnl=None if pnl is None else pnl / div,
            description=" ".join(notes) or None,
            taxes=None if taxes is None else taxes / div,
        )


def _add_lot(held: Position, lot: Position) -> Position:
    def plus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
        return None if a is None or b is None else a + b

    return Position(
        instrument=held.instrument,
        quantity=held.quantity + lot.quantity,
        price_local=held.price_local,
        market_value_local=held.market_value_local + lot.market_value_local,
        cost_basis=plus(held.cost_basis, lot.cost_basis),
        unrealized_pnl=plus(held.unrealized_pnl, lot.unrealized_pnl),
    )


def _merged(primary: Instrument, extra: Instrument) -> Instrument:
    """``primary`` with its missing identifiers filled in from ``extra``."""
    filled = {f.name: getattr(extra, f.name) for f in fields(Instrument) if getattr(primary, f.name) is None}
    return replace(primary, **filled)
