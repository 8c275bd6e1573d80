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
are IBKR's US Eastern time unless they name a zone (``20250612;104235 EDT``); the default zone can be
overridden (setting ``IB_FLEX_TIMEZONE``).

**Several days.** ``EquitySummaryInBase`` has one row per report date, so a statement over a year gives one
snapshot per day with the account total; positions (``OpenPositions``) and cash (``CashReport``, which
reports the period's ending cash) only exist for the day IBKR gives them — usually the statement's last.

**Accounts.** Every row is stored under its own ``accountId`` (consolidated statements and IB UK segment
accounts such as ``U1234567F`` put other accounts' rows in one FlexStatement); a row without one (or ``-``)
belongs to its statement's account. Accounts without a FlexStatement of their own take the base currency of
the statement that holds their rows.

**Coverage.** Every row of the sections this parser reads is counted, and each is parsed or skipped with a
reason (see :class:`CoverageLine`); each skip is also a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from xml.etree.ElementTree import Element

from portfolio_dashboard.brokers.flex_values import FlexValueError, slash_order
from portfolio_dashboard.brokers.ib_flex_flows import parse_flex_flows
from portfolio_dashboard.brokers.ib_flex_protocol import SOURCE, read_xml
from portfolio_dashboard.brokers.ib_flex_reader import Book, Collected, StatementReader
from portfolio_dashboard.brokers.ib_flex_rows import (
    BROKER,
    DATE_HINT,
    IBKR_ZONE,
    PROVIDER,
    report_asof,
)
from portfolio_dashboard.brokers.ib_flex_trades import filled
from portfolio_dashboard.brokers.safety import reject_future
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    CashBalance,
    ParseResult,
    RawResponse,
    skip_warnings,
)
from portfolio_dashboard.domain.accounts import wrapper_from_broker
from portfolio_dashboard.errors import ParsingError, ValidationError

log = logging.getLogger(__name__)

__all__ = ["BROKER", "IBKR_ZONE", "PROVIDER", "parse_flex", "report_asof"]

# Attributes holding dates; their slash-formatted values decide MM/dd vs dd/MM for the whole response.
_DATE_ATTRS = ("fromDate", "toDate", "reportDate", "tradeDate", "dateTime", "whenGenerated")


def parse_flex(raws: Sequence[RawResponse], *, zone: tzinfo = IBKR_ZONE, now: datetime | None = None) -> ParseResult:
    """Every ``FlexQueryResponse`` among ``raws``; status responses (in progress, errors) are skipped.

    ``zone`` is the zone of date-times that name none (setting ``IB_FLEX_TIMEZONE``); ``now`` (default: the
    clock) bounds the as-of: a snapshot more than a few minutes in the future is a validation error.
    """
    out = Collected(zone=zone)
    found = False
    roots: list[tuple[Element, str]] = []
    statements: list[RawResponse] = []
    named: dict[str, RawResponse] = {}  # account -> the last statement naming it (later ones overwrite its days)
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
        statements.append(raw)
        named.update((s.get("accountId") or "", raw) for s in root.iterfind("FlexStatements/FlexStatement"))
    if not found:
        raise ParsingError(
            "no Flex statement (FlexQueryResponse) among the recorded responses",
            source=SOURCE,
            hint="the statement was not retrieved; run the capture again",
        )
    # A segment or consolidated account's rows can sit in another account's statement: with one statement
    # every snapshot was read from it.
    only = statements[0] if len(statements) == 1 else None
    snapshots = [replace(s, source_raw=named.get(s.account.broker_account_id, only)) for s in _snapshots(out)]
    reject_future(snapshots, now or datetime.now(UTC), source=SOURCE)
    # Trade rows often carry fewer identifiers than position rows; a trade must not blank out what the
    # position said about the same conid when both are stored.
    trades = [
        replace(t, instrument=filled(out.held[t.instrument.broker_instrument_id], t.instrument))
        if t.instrument.broker_instrument_id in out.held
        else t
        for t in out.trades.values()
    ]
    if out.unknown:
        log.info("ib_flex: attributes/sections this parser does not know (kept in raw XML): %s", sorted(out.unknown))
    coverage = out.coverage.lines()
    out.warnings.extend(skip_warnings(coverage))
    flows = parse_flex_flows(roots, zone)
    return ParseResult(
        snapshots=tuple(sorted(snapshots, key=lambda s: (s.account.broker_account_id, s.asof_ts))),
        fx_rates=tuple(sorted(out.rates.values(), key=lambda r: (r.asof_ts, r.source_ccy, r.target_ccy))),
        trades=tuple(sorted(trades, key=lambda t: (t.trade_ts, t.broker_trade_id))),
        warnings=tuple(dict.fromkeys(out.warnings + flows.warnings)),
        fx_conversions=tuple(sorted(out.conversions.values(), key=lambda c: (c.ts, c.broker_conversion_id))),
        coverage=coverage,
        cash_flows=tuple(flows.cash_flows),
        corporate_actions=tuple(flows.corporate_actions),
        nav_changes=tuple(flows.nav_changes),
        dividend_accruals=tuple(flows.dividend_accruals),
    )


def _parse_response(root: Element, endpoint: str, out: Collected) -> None:
    out.note_unknown(root)
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
    out.note_unknown(container)
    statements = container.findall("FlexStatement")
    declared = container.get("count")
    if declared is not None and declared.strip() != str(len(statements)):
        out.warnings.append(f"FlexStatements says count={declared} but holds {len(statements)} statements")
    out.coverage.seen("FlexStatements", "account statement", len(statements))
    if not statements:
        raise ValidationError(
            "the Flex statement holds no accounts",
            source=SOURCE,
            endpoint=endpoint,
            hint="check the Flex query's account selection in Client Portal",
        )
    for stmt in statements:
        StatementReader(stmt, endpoint, order, out).parse()
        out.coverage.parsed("FlexStatements", "account statement")


def _snapshots(out: Collected) -> list[AccountSnapshot]:
    snapshots: dict[str, AccountSnapshot] = {}
    for account_id, book in out.books.items():
        days = set(book.totals) | {d for d, p in book.positions.items() if p} | {d for d, c in book.cash.items() if c}
        if not days:
            continue
        if book.base is None:
            raise ValidationError(f"cannot tell the base currency of account {account_id}", source=SOURCE)
        # AccountInformation.name is the holder's personal name; the alias (or the number) names the account.
        account = Account(BROKER, account_id, book.alias or f"IBKR {account_id}", book.base,
                          account_type=book.account_type,
                          wrapper=wrapper_from_broker(BROKER, book.account_type, book.customer_type, book.alias))
        for day in sorted(days):
            snap = _snapshot(account, book, day)
            snapshots[snap.key] = snap
    return list(snapshots.values())


def _snapshot(account: Account, book: Book, day: date) -> AccountSnapshot:
    asof, source = report_asof(day), "flex-report-date"
    if book.generated is not None and book.generated < asof:
        asof, source = book.generated, "flex-when-generated"
    positions = book.positions.get(day, {})
    cash = book.cash.get(day, {})
    dividends, interest = book.accruals.get(day, (None, None))
    return AccountSnapshot(
        account=account,
        asof_ts=asof,
        asof_source=source,
        positions=tuple(positions[k] for k in sorted(positions)),
        cash=tuple(CashBalance(ccy, amount) for ccy, amount in sorted(cash.items()) if amount != 0),
        total_value_local=book.totals.get(day),
        accrued_dividends_local=dividends,
        accrued_interest_local=interest,
    )
