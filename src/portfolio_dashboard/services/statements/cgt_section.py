"""The capital gains report (the ``cgt --json`` shape of issue 21) laid out as statement rows.

The report arrives as plain JSON-like data with money as exact decimal strings; this module only picks and
labels its fields, so the statement shows the CGT figures exactly as the CGT report computed them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from portfolio_dashboard.services.statements import fmt

TOTAL_LABELS = (
    ("disposals", "Number of disposals"),
    ("proceeds_gbp", "Disposal proceeds"),
    ("allowable_costs_gbp", "Allowable costs"),
    ("gains_gbp", "Gains in the year"),
    ("losses_gbp", "Losses in the year"),
    ("net_gain_gbp", "Net gain"),
    ("annual_exempt_amount_gbp", "Annual exempt amount"),
    ("losses_brought_forward_gbp", "Losses brought forward used"),
    ("taxable_gain_gbp", "Taxable gain"),
)


@dataclass(frozen=True, slots=True)
class CgtSection:
    notes: tuple[str, ...]
    totals: tuple[tuple[str, str], ...]  # (label, shown value)
    disposals: tuple[tuple[str, ...], ...]  # date, symbol, isin, quantity, proceeds, cost, gain, matches


def cgt_rows(report: Mapping[str, object]) -> CgtSection:
    notes: list[str] = []
    if report.get("complete") is False:
        notes.append("Incomplete: some disposals have no known cost (see needs review).")
    review = report.get("needs_review")
    if isinstance(review, Sequence) and not isinstance(review, str) and review:
        notes.append("Needs review: " + "; ".join(str(item) for item in review))
    totals_raw = report.get("totals")
    totals: list[tuple[str, str]] = []
    if isinstance(totals_raw, Mapping):
        for key, label in TOTAL_LABELS:
            if key in totals_raw:
                value = totals_raw[key]
                totals.append((label, str(value) if key == "disposals" else _money(value)))
    disposals: list[tuple[str, ...]] = []
    raw_disposals = report.get("disposals")
    if isinstance(raw_disposals, Sequence):
        for item in raw_disposals:
            if isinstance(item, Mapping):
                disposals.append(_disposal(item))
    return CgtSection(tuple(notes), tuple(totals), tuple(disposals))


def _disposal(item: Mapping[str, object]) -> tuple[str, ...]:
    matches = item.get("matches")
    shown: list[str] = []
    if isinstance(matches, Sequence):
        for match in matches:
            if isinstance(match, Mapping):
                shown.append(f"{match.get('rule')} {_number(match.get('quantity'))}")
    return (
        _date(item.get("date")),
        str(item.get("symbol", "")),
        str(item.get("isin") or ""),
        _number(item.get("quantity")),
        _money(item.get("proceeds_gbp")),
        _money(item.get("cost_gbp")),
        _money(item.get("gain_gbp")),
        ", ".join(shown),
    )


def _date(value: object) -> str:
    """ISO dates printed the way the rest of the statement prints them (dd/mm/yyyy)."""
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return "" if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, float):  # a float here would already have lost exactness
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _money(value: object) -> str:
    amount = _decimal(value)
    return "" if amount is None else fmt.money(amount)


def _number(value: object) -> str:
    amount = _decimal(value)
    return "" if amount is None else fmt.number(amount)
