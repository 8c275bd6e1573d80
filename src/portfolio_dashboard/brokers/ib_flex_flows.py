"""Money in and out of IBKR accounts from a Flex ``FlexQueryResponse`` (pure, no I/O).

Sections read (names and attributes as IBKR's Activity Flex Query reference documents them)::

    CashTransactions / CashTransaction(type, accountId, currency, fxRateToBase, amount, dateTime, settleDate,
        reportDate, conid, symbol, isin, description, transactionID, tradeID, actionID, code, levelOfDetail)
    Transfers / Transfer(type INTERNAL|ACATS|FOP, direction IN|OUT, assetCategory, quantity, transferPrice,
        positionAmount, positionAmountInBase, cashTransfer, transactionID, ...)
    CorporateActions / CorporateAction          -> :mod:`ib_flex_events` (stored, not flows)
    ChangeInNAV (one per statement)             -> :mod:`ib_flex_events`
    OpenDividendAccruals / OpenDividendAccrual  -> :mod:`ib_flex_events`

**Never double count.** A query may emit both ``DETAIL`` rows and ``SUMMARY`` rows that add them up; when a
section holds DETAIL rows the SUMMARY ones are skipped (with a warning), otherwise the SUMMARY rows are
the only record and are kept. The same transaction read twice (overlapping statements, a consolidated
statement repeating another account's rows) has the same ``transactionID`` and is kept once.

**Reversals and corrections.** IBKR corrects a dividend or its withholding tax by issuing a new row with
the opposite sign (``code`` ``Re``) and, for a correction, a further row with the right amount — each
with its own ``transactionID``. Every one is kept as its own flow: re-reading them changes nothing (the ids
are stable) and the account's flows sum to what really happened, which is also how ``ChangeInNAV`` counts.

**FX conversions** are ``Trades`` rows (``assetCategory="CASH"``) and are read by the trades parser into
``ParseResult.fx_conversions``; they move money between currencies inside an account, not into it, so they
are not flows here. ``CashTransactions`` documents no conversion type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from decimal import Decimal
from xml.etree.ElementTree import Element

from portfolio_dashboard.brokers.flex_values import FlexValueError, SlashOrder, slash_order
from portfolio_dashboard.brokers.ib_flex_events import corporate_actions, dividend_accruals, nav_changes
from portfolio_dashboard.brokers.ib_flex_rows import BROKER, IBKR_ZONE, FlowRow, RowIds, SkippedRowError
from portfolio_dashboard.domain import CashFlow, CorporateAction, DividendAccrual, FlowKind, Instrument, NavChange

# CashTransaction.type -> kind (lower-cased; IBKR has written both "Deposits/Withdrawals" and
# "Deposits & Withdrawals"). Deposits and withdrawals are told apart by the amount's sign.
CASH_TYPES: dict[str, FlowKind | None] = {
    "deposits/withdrawals": None,
    "deposits & withdrawals": None,
    "dividends": FlowKind.DIVIDEND,
    "payment in lieu of dividends": FlowKind.PAYMENT_IN_LIEU,
    "withholding tax": FlowKind.WITHHOLDING_TAX,
    "871(m) withholding": FlowKind.WITHHOLDING_TAX,
    "broker interest paid": FlowKind.INTEREST,
    "broker interest received": FlowKind.INTEREST,
    "bond interest paid": FlowKind.INTEREST,
    "bond interest received": FlowKind.INTEREST,
    "other fees": FlowKind.FEE,
    "commission adjustments": FlowKind.FEE,
    "advisor fees": FlowKind.FEE,
    "broker fees": FlowKind.FEE,
    "other income": FlowKind.OTHER,
    "price adjustments": FlowKind.OTHER,
}
# Attributes holding dates in these sections; their slash-formatted values decide MM/dd vs dd/MM.
_DATE_ATTRS = ("dateTime", "settleDate", "reportDate", "date", "exDate", "payDate", "fromDate", "toDate")


@dataclass
class FlexFlows:
    cash_flows: list[CashFlow] = field(default_factory=list)
    corporate_actions: list[CorporateAction] = field(default_factory=list)
    nav_changes: list[NavChange] = field(default_factory=list)
    dividend_accruals: list[DividendAccrual] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_flex_flows(roots: Iterable[tuple[Element, str]], zone: tzinfo = IBKR_ZONE) -> FlexFlows:
    """Flows, corporate actions, NAV statements and accruals of every ``FlexQueryResponse`` root given.

    ``roots`` are ``(FlexQueryResponse element, endpoint)`` pairs. Never raises on a row: a row that is not
    a flow is skipped with a reason in ``warnings``. ``zone`` is the statement's zone (``IB_FLEX_TIMEZONE``)
    for date-times that name none.
    """
    out = FlexFlows()
    flows: dict[tuple[str, str], CashFlow] = {}
    actions: dict[tuple[str, str], CorporateAction] = {}
    navs: dict[tuple[str, str, str], NavChange] = {}
    accruals: dict[str, DividendAccrual] = {}
    for root, _endpoint in roots:
        order = _slash_order(root, out.warnings)
        container = root.find("FlexStatements")
        for stmt in [] if container is None else container.findall("FlexStatement"):
            account_id = (stmt.get("accountId") or "").strip()
            if not account_id:
                out.warnings.append("a FlexStatement without accountId: its money rows were skipped")
                continue
            sections = {child.tag: child for child in stmt}
            for flow in _statement_flows(sections, account_id, order, out.warnings, zone):
                flows.setdefault((flow.broker_account_id, flow.broker_flow_id), flow)
            for action in corporate_actions(sections.get("CorporateActions"), account_id, order, out.warnings, zone):
                actions.setdefault((action.broker_account_id, action.broker_action_id), action)
            for nav in nav_changes(sections.get("ChangeInNAV"), account_id, order, out.warnings, zone):
                navs[(nav.broker_account_id, nav.from_date.isoformat(), nav.to_date.isoformat())] = nav
            for accrual in dividend_accruals(sections.get("OpenDividendAccruals"), account_id, order, out.warnings,
                                         zone):
                accruals[accrual.key] = accrual
    out.cash_flows = sorted(flows.values(), key=lambda f: (f.broker_account_id, f.flow_ts, f.broker_flow_id))
    out.corporate_actions = sorted(actions.values(), key=lambda a: (a.broker_account_id, a.action_ts))
    out.nav_changes = sorted(navs.values(), key=lambda n: (n.broker_account_id, n.from_date))
    out.dividend_accruals = sorted(accruals.values(), key=lambda a: a.key)
    out.warnings = list(dict.fromkeys(out.warnings))
    return out


def _slash_order(root: Element, warnings: list[str]) -> SlashOrder | None:
    try:
        return slash_order(
            value for elem in root.iter() for attr in _DATE_ATTRS if "/" in (value := elem.get(attr) or "")
        )
    except FlexValueError as exc:
        # Unambiguous dates still read; ambiguous ones make their rows skipped with this reason.
        warnings.append(f"Flex money rows: {exc}")
        return None


def chosen_rows(
    container: Element | None, tag: str, account_id: str, order: SlashOrder | None, section: str, warnings: list[str],
    zone: tzinfo = IBKR_ZONE,
) -> list[FlowRow]:
    """The rows to read: DETAIL rows when there are any (SUMMARY rows restate them), else all rows."""
    if container is None:
        return []
    rows = [FlowRow(child, account_id, order, zone) for child in container if child.tag == tag]
    others = sorted({child.tag for child in container if child.tag != tag})
    if others:
        warnings.append(f"{account_id}: {section} holds unexpected elements {others}; skipped")
    if any(r.level() == "DETAIL" for r in rows):
        for r in rows:
            if r.level() != "DETAIL":
                warnings.append(f"{r.describe(section)} skipped: a {r.level()} row restating DETAIL rows")
        return [r for r in rows if r.level() == "DETAIL"]
    return rows


def _statement_flows(
    sections: dict[str, Element], account_id: str, order: SlashOrder | None, warnings: list[str],
    zone: tzinfo = IBKR_ZONE,
) -> Iterable[CashFlow]:
    ids = RowIds()
    for row in chosen_rows(
        sections.get("CashTransactions"), "CashTransaction", account_id, order, "CashTransactions", warnings, zone
    ):
        try:
            yield cash_transaction(row, ids)
        except SkippedRowError as exc:
            warnings.append(f"{row.describe('CashTransactions')} skipped: {exc}")
    for row in chosen_rows(sections.get("Transfers"), "Transfer", account_id, order, "Transfers", warnings, zone):
        try:
            yield from transfer(row, ids)
        except SkippedRowError as exc:
            warnings.append(f"{row.describe('Transfers')} skipped: {exc}")


def cash_transaction(row: FlowRow, ids: RowIds) -> CashFlow:
    type_text = row.text("type")
    if type_text is None:
        raise SkippedRowError("type missing")
    key = type_text.lower()
    if key not in CASH_TYPES:
        raise SkippedRowError(f"type {type_text!r} is not one this parser knows (kept in the raw statement)")
    currency, divisor = row.currency()
    amount = row.req_dec("amount") / divisor
    if amount == 0:
        raise SkippedRowError("amount is zero")
    kind = CASH_TYPES[key]
    if kind is None:
        kind = FlowKind.DEPOSIT if amount > 0 else FlowKind.WITHDRAWAL
    description = row.text("description")
    if "Re" in row.codes():
        description = f"reversal: {description or type_text}"
    return CashFlow(
        broker=BROKER,
        broker_account_id=row.account_id,
        broker_flow_id=ids.of(row, "cash"),
        kind=kind,
        flow_ts=row.first_moment("dateTime", "settleDate", "reportDate"),
        currency=currency,
        amount_local=amount,
        instrument=row.instrument(currency),
        fx_rate_to_base=row.fx_to_base(divisor),
        description=description,
    )


def transfer(row: FlowRow, ids: RowIds) -> list[CashFlow]:
    """One Transfer row: cash moved (``assetCategory="CASH"``) or a security moved at its market value."""
    direction = (row.text("direction") or "").upper()
    if direction not in ("IN", "OUT"):
        raise SkippedRowError(f"direction {row.text('direction')!r} is neither IN nor OUT")
    sign = Decimal(1) if direction == "IN" else Decimal(-1)
    kind = FlowKind.TRANSFER_IN if direction == "IN" else FlowKind.TRANSFER_OUT
    currency, divisor = row.currency()
    when = row.first_moment("dateTime", "date", "settleDate", "reportDate")
    flow_id = ids.of(row, "transfer")
    how = " ".join(x for x in (row.text("type"), direction, row.text("deliveringBroker") or row.text("account")) if x)
    fx = row.fx_to_base(divisor)

    def flow(
        suffix: str,
        amount: Decimal,
        description: str,
        instrument: Instrument | None = None,
        quantity: Decimal | None = None,
    ) -> CashFlow:
        return CashFlow(
            broker=BROKER,
            broker_account_id=row.account_id,
            broker_flow_id=flow_id + suffix,
            kind=kind,
            flow_ts=when,
            currency=currency,
            amount_local=sign * abs(amount) / divisor,  # IBKR's sign varies by query; the direction decides
            instrument=instrument,
            fx_rate_to_base=fx,
            quantity=quantity,
            description=description,
        )

    if (row.text("assetCategory") or "").upper() == "CASH":
        amount = row.dec("cashTransfer")
        if amount is None or amount == 0:
            amount = row.dec("positionAmount")
        if amount is None or amount == 0:
            raise SkippedRowError("a cash transfer without cashTransfer or positionAmount")
        return [flow("", amount, f"cash transfer {how}")]
    instrument = row.instrument(currency)
    if instrument is None:
        raise SkippedRowError("a security transfer without conid")
    quantity = row.dec("quantity")
    value = row.dec("positionAmount")
    if value is None:
        price = row.dec("transferPrice")
        if price is None or quantity is None:
            raise SkippedRowError("a security transfer with neither positionAmount nor quantity and transferPrice")
        value = quantity * price
    moved = None if quantity is None else sign * abs(quantity)
    flows = [flow("", value, f"{instrument.symbol} in kind {how}", instrument, moved)]
    cash = row.dec("cashTransfer")
    if cash:  # cash that moved with the securities (an ACATS of a whole account)
        flows.append(flow(":cash", cash, f"cash with {instrument.symbol} {how}"))
    return flows
