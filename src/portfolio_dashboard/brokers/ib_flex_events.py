"""Flex sections kept beside the flows: ``ChangeInNAV``, ``CorporateActions``, ``OpenDividendAccruals`` (pure).

``ChangeInNAV`` is IBKR's own statement of the period per account, in the account's base currency; it is the
cross-check for our flows (see :func:`portfolio_dashboard.domain.flow_checks.reconcile`). Corporate actions
are stored as reported (tax treatment is for later); open accruals are dividends past their ex-date not yet
paid. Every row is kept or skipped with a reason in ``warnings``; nothing here raises on a row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from decimal import Decimal
from xml.etree.ElementTree import Element

from portfolio_dashboard.brokers.flex_values import SlashOrder
from portfolio_dashboard.brokers.ib_flex_rows import BROKER, IBKR_ZONE, FlowRow, RowIds, SkippedRowError
from portfolio_dashboard.domain import CorporateAction, DividendAccrual, NavChange

# NavChange field -> IBKR ChangeInNAV attribute
NAV_FIELDS = {
    "starting_value": "startingValue",
    "ending_value": "endingValue",
    "mtm": "mtm",
    "realized": "realized",
    "change_in_unrealized": "changeInUnrealized",
    "deposits_withdrawals": "depositsWithdrawals",
    "internal_cash_transfers": "internalCashTransfers",
    "asset_transfers": "assetTransfers",
    "dividends": "dividends",
    "withholding_tax": "withholdingTax",
    "change_in_dividend_accruals": "changeInDividendAccruals",
    "interest": "interest",
    "change_in_interest_accruals": "changeInInterestAccruals",
    "advisor_fees": "advisorFees",
    "broker_fees": "brokerFees",
    "other_fees": "otherFees",
    "commissions": "commissions",
    "fx_translation": "fxTranslation",
    "net_fx_trading": "netFxTrading",
    "corporate_action_proceeds": "corporateActionProceeds",
    "other": "other",
    "twr": "twr",
}


def nav_changes(
    elem: Element | None, account_id: str, order: SlashOrder | None, warnings: list[str],
    zone: tzinfo = IBKR_ZONE,
) -> Iterator[NavChange]:
    """The statement's ``ChangeInNAV`` (a single element; some queries wrap one per account in a container)."""
    if elem is None:
        return
    elems = [c for c in elem if c.tag == "ChangeInNAV"] or [elem]
    for child in elems:
        row = FlowRow(child, account_id, order, zone)
        try:
            from_date, to_date = row.day("fromDate"), row.day("toDate")
            if from_date is None or to_date is None:
                raise SkippedRowError("fromDate or toDate missing")
            figures: dict[str, Decimal | None] = {name: row.dec(attr) for name, attr in NAV_FIELDS.items()}
        except SkippedRowError as exc:
            warnings.append(f"{account_id}: ChangeInNAV skipped: {exc}")
            continue
        yield NavChange(
            broker=BROKER,
            broker_account_id=row.account_id,
            from_date=from_date,
            to_date=to_date,
            currency=row.text("currency"),
            **figures,  # keys are exactly NavChange's Decimal fields
        )


def corporate_actions(
    container: Element | None, account_id: str, order: SlashOrder | None, warnings: list[str],
    zone: tzinfo = IBKR_ZONE,
) -> Iterator[CorporateAction]:
    if container is None:
        return
    ids = RowIds()
    rows = [FlowRow(c, account_id, order, zone) for c in container if c.tag == "CorporateAction"]
    detail = any(r.level() == "DETAIL" for r in rows)
    for row in rows:
        if detail and row.level() != "DETAIL":
            warnings.append(f"{row.describe('CorporateActions')} skipped: a {row.level()} row restating DETAIL rows")
            continue
        try:
            currency, divisor = row.currency()
            report = row.day("reportDate")
            when = row.first_moment("dateTime", "reportDate")
            amount, proceeds, value = row.dec("amount"), row.dec("proceeds"), row.dec("value")
            yield CorporateAction(
                broker=BROKER,
                broker_account_id=row.account_id,
                broker_action_id=ids.of(row, "action"),
                action_ts=when,
                action_type=row.text("type"),
                instrument=row.instrument(currency),
                currency=currency,
                quantity=row.dec("quantity"),
                amount=None if amount is None else amount / divisor,
                proceeds=None if proceeds is None else proceeds / divisor,
                value=None if value is None else value / divisor,
                fx_rate_to_base=row.fx_to_base(divisor),
                group_id=row.text("actionID"),
                report_date=report,
                description=row.text("actionDescription") or row.text("description"),
            )
        except SkippedRowError as exc:
            warnings.append(f"{row.describe('CorporateActions')} skipped: {exc}")


def dividend_accruals(
    container: Element | None, account_id: str, order: SlashOrder | None, warnings: list[str],
    zone: tzinfo = IBKR_ZONE,
) -> Iterator[DividendAccrual]:
    if container is None:
        return
    for child in container:
        row = FlowRow(child, account_id, order, zone)
        if child.tag != "OpenDividendAccrual":
            warnings.append(f"{account_id}: OpenDividendAccruals element {child.tag!r} skipped")
            continue
        try:
            currency, divisor = row.currency()
            instrument = row.instrument(currency)
            if instrument is None:
                raise SkippedRowError("conid missing")
            money = {name: row.dec(name) for name in ("grossAmount", "tax", "fee", "netAmount")}
            per_unit = row.dec("grossRate")
            yield DividendAccrual(
                broker=BROKER,
                broker_account_id=row.account_id,
                instrument=instrument,
                currency=currency,
                ex_date=row.day("exDate"),
                pay_date=row.day("payDate"),
                quantity=row.dec("quantity"),
                gross_rate=None if per_unit is None else per_unit / divisor,
                gross_amount=_per(money["grossAmount"], divisor),
                tax=_per(money["tax"], divisor),
                fee=_per(money["fee"], divisor),
                net_amount=_per(money["netAmount"], divisor),
                fx_rate_to_base=row.fx_to_base(divisor),
            )
        except SkippedRowError as exc:
            warnings.append(f"{row.describe('OpenDividendAccruals')} skipped: {exc}")


def _per(value: Decimal | None, divisor: Decimal) -> Decimal | None:
    return None if value is None else value / divisor
