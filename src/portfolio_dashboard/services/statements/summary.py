"""A statement's headline figures as JSON-ready data (money as exact decimal strings).

What ``portfolio-dashboard statement --json`` can print, and what tests compare the PDF's text against:
every figure here is derived from the statement's rows, exactly as the PDF and the CSV bundle derive theirs.
"""

from __future__ import annotations

from decimal import Decimal

from portfolio_dashboard.domain.statement import Statement


def statement_summary(statement: Statement) -> dict[str, object]:
    st = statement
    income = st.income_total
    returns = st.returns
    return {
        "title": st.title,
        "period": {
            "label": st.period.label,
            "kind": st.period.kind,
            "start": st.period.start.isoformat(),
            "end": st.period.end.isoformat(),
        },
        "base_currency": st.base_currency,
        "accounts": [
            {
                "broker": a.broker,
                "account_id": a.shown_id(st.mask_account_ids),
                "wrapper": a.wrapper,
                "currency": a.currency,
            }
            for a in st.accounts
        ],
        "value_start_gbp": _s(st.value_start_gbp),
        "value_end_gbp": _s(st.value_end_gbp),
        "holdings_start": len(st.holdings_start),
        "holdings_end": len(st.holdings_end),
        "net_flows_gbp": _s(st.net_flows_gbp),
        "flows_by_kind_gbp": {kind: _s(total) for kind, total in st.flows_by_kind()},
        "income": {
            "payments": income.rows,
            "gross_gbp": _s(income.gross_gbp),
            "withholding_tax_gbp": _s(income.withholding_tax_gbp),
            "net_gbp": _s(income.net_gbp),
        },
        "income_by_security_gbp": {g.key: _s(g.net_gbp) for g in st.income_by_security()},
        "income_by_month_gbp": {g.key: _s(g.net_gbp) for g in st.income_by_month()},
        "realised_gain_gbp": _s(st.realised_gain_gbp),
        "realised_by_security_gbp": {security: _s(total) for security, total in st.realised_by_security()},
        "returns": None
        if returns is None
        else {
            "twr": _o(returns.twr),
            "mwr": _o(returns.mwr),
            "gain_gbp": _o(returns.gain_gbp),
            "net_flows_gbp": _o(returns.net_flows_gbp),
            "unavailable": returns.unavailable,
        },
        "capital_gains": None if st.capital_gains is None else dict(st.capital_gains),
        "sources": list(st.sources()),
    }


def _s(value: Decimal) -> str:
    return format(value, "f")


def _o(value: Decimal | None) -> str | None:
    return None if value is None else _s(value)
