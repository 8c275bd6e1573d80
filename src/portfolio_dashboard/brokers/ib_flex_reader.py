"""One ``FlexStatement`` read into per-account books, rates, trades and conversions (pure, no I/O).

See :mod:`ib_flex_statement` for the statement's shape and the rules; this module reads the sections.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from xml.etree.ElementTree import Element

from portfolio_dashboard.brokers.flex_values import SlashOrder
from portfolio_dashboard.brokers.ib_flex_protocol import SOURCE
from portfolio_dashboard.brokers.ib_flex_rows import PROVIDER, FlexRow, report_asof
from portfolio_dashboard.brokers.ib_flex_schema import SECTIONS, is_known
from portfolio_dashboard.brokers.ib_flex_trades import (
    ID_COLUMNS,
    UnusableRowError,
    content_hash,
    conversion_of,
    filled,
    instrument_of,
    is_fx,
    row_id,
    trade_of,
)
from portfolio_dashboard.domain import (
    NO_LOSS,
    CoverageCounter,
    FxConversion,
    FxRate,
    Instrument,
    Position,
    Trade,
    add_lot,
    normalise_currency,
)
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.errors import ParsingError, ValidationError

# The sections a snapshot is built from: a query with none of them cannot capture anything.
SNAPSHOT_SECTIONS = {
    "OpenPositions": "Open Positions",
    "CashReport": "Cash Report",
    "EquitySummaryInBase": "Net Asset Value (NAV) in Base",
}
BASE_SUMMARY = "BASE_SUMMARY"


@dataclass
class Book:
    """What the rows say about one account, per report day."""

    base: str | None = None
    alias: str | None = None
    account_type: str | None = None  # AccountInformation accountType ("Individual", "Individual ISA", ...)
    customer_type: str | None = None  # AccountInformation customerType
    own_statement: bool = False
    generated: datetime | None = None
    totals: dict[date, Decimal | None] = field(default_factory=dict)
    accruals: dict[date, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)
    positions: dict[date, dict[str, Position]] = field(default_factory=lambda: defaultdict(dict))
    cash: dict[date, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(dict))


@dataclass
class Collected:
    zone: tzinfo
    books: dict[str, Book] = field(default_factory=dict)
    rates: dict[tuple[datetime, str, str], FxRate] = field(default_factory=dict)
    trades: dict[str, Trade] = field(default_factory=dict)
    conversions: dict[str, FxConversion] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    held: dict[str, Instrument] = field(default_factory=dict)  # instruments as OpenPositions describe them
    coverage: CoverageCounter = field(default_factory=CoverageCounter)
    explicit_rates: set[tuple[datetime, str, str]] = field(default_factory=set)  # from ConversionRates

    def book(self, account_id: str) -> Book:
        return self.books.setdefault(account_id, Book())

    def note_unknown(self, elem: Element) -> None:
        for attr in elem.attrib:
            if not is_known(elem.tag, attr):
                self.unknown.add(f"{elem.tag}.{attr}")


def _ccy(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return normalise_currency(code)[0]
    except UnknownCurrencyError:
        return None


class StatementReader:
    """One ``FlexStatement``: its account and every account its rows name, over the statement's period."""

    def __init__(self, elem: Element, endpoint: str, order: SlashOrder | None, out: Collected) -> None:
        self.elem = elem
        self.endpoint = endpoint
        self.order = order
        self.out = out
        self.head = FlexRow(elem, endpoint, order, out.zone)
        self.account_id = self.head.text("accountId") or self.implied_account()
        self.to_date = self.head.day("toDate")
        self.generated = self.head.moment("whenGenerated")
        self.sections = {child.tag: child for child in elem}
        self.base: str | None = None

    def implied_account(self) -> str:
        """A consolidated statement may write ``accountId="-"``: its rows (all of one account) name it."""
        named = {
            v.strip() for child in self.elem.iter() if (v := child.get("accountId")) and v.strip() not in ("-", "")
        }
        if len(named) == 1:
            return named.pop()
        raise self.head.fail("accountId", f"missing, and its rows name {len(named)} accounts")

    def row(self, elem: Element) -> FlexRow:
        self.out.note_unknown(elem)
        return FlexRow(elem, self.endpoint, self.order, self.out.zone)

    def rows(self, section: str, tag: str, kind: str | None = None, *, count: bool = True) -> list[FlexRow]:
        """Every ``tag`` row of ``section``, counted as seen unless ``count`` is false (the caller counts by
        kind); other child tags are counted and skipped."""
        container = self.sections.get(section)
        if container is None:
            return []
        rows = []
        for child in container:
            if child.tag == tag:
                rows.append(self.row(child))
            else:
                self.out.coverage.seen(section, child.tag)
                self.out.coverage.skipped(section, f"<{child.tag}> is not read by this parser", child.tag)
        if count:
            self.out.coverage.seen(section, kind or tag, len(rows))
        return rows

    def account_of(self, row: FlexRow) -> str:
        # A row of another account (consolidated statement, IB UK segment account "U1234567F") is that
        # account's; no accountId (or "-") means the statement's own account.
        return row.text("accountId") or self.account_id

    def warn(self, text: str) -> None:
        self.out.warnings.append(f"{self.account_id}: {text}")

    def skip(self, section: str, kind: str | None, reason: str) -> None:
        self.out.coverage.skipped(section, reason, kind)

    def parse(self) -> None:
        self.out.note_unknown(self.elem)
        self.out.unknown.update(f"FlexStatement/{tag}" for tag in self.sections if tag not in SECTIONS)
        missing = [f"{name} ({tag})" for tag, name in SNAPSHOT_SECTIONS.items() if tag not in self.sections]
        if len(missing) == len(SNAPSHOT_SECTIONS):
            raise ValidationError(
                f"the Flex query for {self.account_id} has none of the sections a snapshot needs",
                source=SOURCE,
                endpoint=self.endpoint,
                hint=f"add the sections {', '.join(missing)} to the Flex query in Client Portal",
            )
        for name in missing:
            self.warn(f"the Flex query has no {name} section, so it is not captured; add it")
        own = self.out.book(self.account_id)
        own.own_statement, own.generated = True, self.generated
        self.account_info(own)
        self.totals()
        if own.base is None:
            own.base = self.deduce_base()
        self.base = own.base
        self.conversion_rates()
        self.positions()
        self.cash()
        self.trades()
        for book in self.out.books.values():
            if book.generated is None:
                book.generated = self.generated
            if book.base is None and own.base is not None:
                book.base = own.base  # an account named in rows only: its statement's base currency

    # --- account and totals ----------------------------------------------------------------------------
    def account_info(self, own: Book) -> None:
        # AccountInformation is one element whose attributes describe the statement's account.
        info = self.sections.get("AccountInformation")
        if info is None:
            return
        row = self.row(info)
        self.out.coverage.seen("AccountInformation", "account")
        own.base = _ccy(row.text("currency")) or own.base
        own.alias = row.text("acctAlias") or own.alias
        own.account_type = row.text("accountType") or own.account_type
        own.customer_type = row.text("customerType") or own.customer_type
        self.out.coverage.parsed("AccountInformation", "account")

    def deduce_base(self) -> str:
        """The base currency when AccountInformation does not give it, from what the rows imply."""
        candidates: list[set[str]] = []
        at_par = {
            code
            for child in self.elem.iter()
            if (child.get("fxRateToBase") or "").strip() in ("1", "1.0", "1.00")
            and (code := _ccy(child.get("currency"))) is not None
        }
        candidates.append(at_par)
        base_rows = {
            code
            for r in self.sections.get("CashReport", ())
            if (r.get("levelOfDetail") or "").lower() == "basecurrency"
            and (code := _ccy(r.get("currency"))) is not None
        }
        candidates.append(base_rows)
        summary = self.sections.get("EquitySummaryInBase", ())
        candidates.append({code for r in summary if (code := _ccy(r.get("currency"))) is not None})
        rates = self.sections.get("ConversionRates", ())
        candidates.append({code for r in rates if (code := _ccy(r.get("toCurrency"))) is not None})
        for found in candidates:
            if len(found) == 1:
                return next(iter(found))
        raise ParsingError(
            f"cannot tell the base currency of account {self.account_id}",
            source=SOURCE,
            endpoint=self.endpoint,
            hint="add Account Information (Currency) to the Flex query",
        )

    def totals(self) -> None:
        section = "EquitySummaryInBase"
        rows = self.rows(section, "EquitySummaryByReportDateInBase")
        if section in self.sections and not rows:
            self.warn("the equity summary (NAV in Base) is present but empty: no account total is captured")
        for row in rows:
            book = self.out.book(self.account_of(row))
            day = row.day("reportDate")
            if day is None:
                self.skip(section, "EquitySummaryByReportDateInBase", "no reportDate")
                continue
            total = row.dec("total")
            if day in book.totals and book.totals[day] != total:
                self.warn(f"two different account totals for {day}; using the later")
            book.totals[day] = total
            book.accruals[day] = (row.dec("dividendAccruals"), row.dec("interestAccruals"))
            if book.base is None:
                book.base = _ccy(row.text("currency"))
            self.out.coverage.parsed(section, "EquitySummaryByReportDateInBase")

    # --- rates ---------------------------------------------------------------------------------------------
    def conversion_rates(self) -> None:
        section, kind = "ConversionRates", "ConversionRate"
        for row in self.rows(section, kind):
            day, rate = row.day("reportDate"), row.dec("rate")
            src, tgt = _ccy(row.text("fromCurrency")), _ccy(row.text("toCurrency"))
            if day is None or rate is None:
                self.skip(section, kind, "no reportDate or rate")
            elif rate <= 0:  # IBKR writes -1 for a currency it has no rate for that day
                self.skip(section, kind, f"IBKR gave no rate (-1) for {row.text('fromCurrency')}")
            elif src is None or tgt is None:
                self.skip(section, kind, "unknown currency")
            else:
                src_div = normalise_currency(row.req_text("fromCurrency"))[1]
                tgt_div = normalise_currency(row.req_text("toCurrency"))[1]
                self.add_rate(src, tgt, rate * src_div / tgt_div, day, explicit=True)
                self.out.coverage.parsed(section, kind)

    def add_rate(self, src: str, tgt: str, rate: Decimal, day: date, *, explicit: bool) -> None:
        if src == tgt:
            return
        fx = FxRate(src, tgt, rate, report_asof(day), PROVIDER)
        key = (fx.asof_ts, src, tgt)
        if explicit:
            self.out.explicit_rates.add(key)
        elif key in self.out.explicit_rates:
            return  # IBKR's ConversionRates row wins over a position's fxRateToBase
        self.out.rates[key] = fx

    # --- holdings ------------------------------------------------------------------------------------------
    def positions(self) -> None:
        section = "OpenPositions"
        rows = self.rows(section, "OpenPosition")
        summary = [r for r in rows if (r.text("levelOfDetail") or "SUMMARY").upper() == "SUMMARY"]
        if not summary and rows:
            self.warn("OpenPositions has only LOT rows; lots are summed per instrument (choose Summary detail)")
        for row in rows:
            if summary and row not in summary:
                self.skip(section, "OpenPosition", f"{NO_LOSS}LOT row of a SUMMARY row")
        for row in summary or rows:
            try:
                self.position(row, lots=not summary)
            except UnusableRowError as exc:
                self.skip(section, "OpenPosition", str(exc))
            else:
                self.out.coverage.parsed(section, "OpenPosition")

    def position(self, row: FlexRow, *, lots: bool) -> None:
        book = self.out.book(self.account_of(row))
        day = row.day("reportDate") or self.to_date
        if day is None:
            raise UnusableRowError("no reportDate (and the statement has no toDate)")
        instrument, div = instrument_of(row)
        # position and markPrice are what a holding is: without them the statement cannot be valued, so it
        # fails (a ParsingError naming the attribute) rather than silently under-stating the account.
        quantity, mark, value = row.req_dec("position"), row.req_dec("markPrice"), row.dec("positionValue")
        if value is None:
            value = quantity * mark * instrument.multiplier
        cost, pnl = row.dec("costBasisMoney"), row.dec("fifoPnlUnrealized")
        position = Position(
            instrument=instrument,
            quantity=quantity,
            price_local=mark / div,  # per unit of the underlying; value = quantity x price x multiplier
            market_value_local=value / div,
            cost_basis=None if cost is None else cost / div,
            unrealized_pnl=None if pnl is None else pnl / div,
        )
        known = self.out.held.get(instrument.broker_instrument_id)
        self.out.held[instrument.broker_instrument_id] = instrument if known is None else filled(known, instrument)
        held = book.positions[day].get(instrument.broker_instrument_id)
        if held is not None:
            if lots:
                position = add_lot(held, position)
            else:
                self.warn(f"two summary rows for conid {instrument.broker_instrument_id} on {day}; kept the later")
        book.positions[day][instrument.broker_instrument_id] = position
        fx, base = row.dec("fxRateToBase"), book.base or self.base
        if fx is not None and fx > 0 and base is not None:
            self.add_rate(instrument.currency, base, fx * div, day, explicit=False)

    def cash(self) -> None:
        section, kind = "CashReport", "CashReportCurrency"
        rows = self.rows(section, kind)
        per_ccy = {self.account_of(r) for r in rows if not _is_base_summary(r)}
        for row in rows:
            account = self.account_of(row)
            if _is_base_summary(row) and account in per_ccy:
                self.skip(section, kind, f"{NO_LOSS}BASE_SUMMARY sums the per-currency rows")
                continue
            book = self.out.book(account)
            day = row.day("toDate") or self.to_date
            amount = row.dec("endingCash")
            if amount is None:
                amount = row.dec("endingSettledCash")
            code = row.text("currency")
            if _is_base_summary(row):
                # Only the base-currency summary was selected: it is the cash, in the base currency.
                code = code if code and code.upper() != BASE_SUMMARY else (book.base or self.base)
                self.warn("the Cash Report has only its base-currency summary: cash is stored in the base currency")
            if day is None or amount is None or code is None:
                self.skip(section, kind, "no toDate, endingCash or currency")
                continue
            try:
                currency, div = normalise_currency(code)
            except UnknownCurrencyError:
                self.skip(section, kind, f"unknown currency {code!r}")
                continue
            if currency in book.cash[day] and book.cash[day][currency] != amount / div:
                self.warn(f"two cash rows for {currency} on {day}; kept the later")
            book.cash[day][currency] = amount / div
            self.out.coverage.parsed(section, kind)

    # --- trades --------------------------------------------------------------------------------------------
    def trades(self) -> None:
        section = "Trades"
        for row in self.rows(section, "Trade", count=False):
            kind = "fx_conversion" if is_fx(row) else "trade"
            self.out.coverage.seen(section, kind)
            level = (row.text("levelOfDetail") or "EXECUTION").upper()
            if level != "EXECUTION":
                # ORDER / CLOSED_LOT / SYMBOL_SUMMARY restate executions and would count them twice
                self.skip(section, kind, f"{NO_LOSS}levelOfDetail {level} sums EXECUTION rows")
                continue
            ident, hashed = row_id(row)
            if hashed:
                self.warn(f"a {kind} row has none of the id columns {', '.join(ID_COLUMNS)}; stored under {ident}")
            try:
                self.trade(row, kind, ident)
            except UnusableRowError as exc:
                self.skip(section, kind, str(exc))
            else:
                self.out.coverage.parsed(section, kind)

    def trade(self, row: FlexRow, kind: str, ident: str) -> None:
        account = self.account_of(row)
        if kind == "fx_conversion":
            conversion = conversion_of(row, account, ident)
            if self.out.conversions.get(ident, conversion) != conversion:
                conversion = conversion_of(row, account, f"{ident}:{content_hash(row)}")
            self.out.conversions[conversion.broker_conversion_id] = conversion
            return
        trade = trade_of(row, account, ident)
        if self.out.trades.get(ident, trade) != trade:
            # the id is reused by a different row (a correction without its own transactionID): keep both
            trade = trade_of(row, account, f"{ident}:{content_hash(row)}")
        self.out.trades[trade.broker_trade_id] = trade


def _is_base_summary(row: FlexRow) -> bool:
    code = (row.text("currency") or "").upper()
    return code == BASE_SUMMARY or (row.text("levelOfDetail") or "").lower() == "basecurrency"
