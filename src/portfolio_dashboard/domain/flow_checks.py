"""Cross-checking our flows against the broker's own statement of the period (IBKR ``ChangeInNAV``).

``ChangeInNAV`` states each figure in the account's base currency; each flow is converted with the
broker's own ``fx_rate_to_base``. The mapping follows IBKR's Change in NAV lines: ``depositsWithdrawals``
holds deposits and withdrawals only (internal cash transfers and in-kind transfers have their own lines),
``dividends`` includes payments in lieu, ``interest`` includes broker and bond interest.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from portfolio_dashboard.domain.flows import CashFlow, FlowKind, NavChange

CENT = Decimal("0.01")
NAV_FIGURES: dict[str, frozenset[FlowKind]] = {
    "deposits_withdrawals": frozenset({FlowKind.DEPOSIT, FlowKind.WITHDRAWAL}),
    "dividends": frozenset({FlowKind.DIVIDEND, FlowKind.PAYMENT_IN_LIEU}),
    "withholding_tax": frozenset({FlowKind.WITHHOLDING_TAX}),
    "interest": frozenset({FlowKind.INTEREST}),
}


@dataclass(frozen=True, slots=True)
class NavCheck:
    broker_account_id: str
    figure: str  # a NavChange field name
    broker_value: Decimal | None  # what the broker's statement says (None: the query omits it)
    ours: Decimal  # our flows of those kinds, in base currency, rounded to the cent
    unconverted: int  # flows we could not convert (no broker rate, currency not the base)

    @property
    def matches(self) -> bool:
        return self.unconverted == 0 and self.broker_value is not None and self.ours == self.broker_value


def reconcile(flows: Iterable[CashFlow], nav: NavChange) -> list[NavCheck]:
    """One check per figure of ``NAV_FIGURES`` for ``nav``'s account and period (dates inclusive)."""
    mine = [
        f
        for f in flows
        if f.broker == nav.broker
        and f.broker_account_id == nav.broker_account_id
        and nav.from_date <= f.flow_ts.date() <= nav.to_date
    ]
    checks = []
    for figure, kinds in NAV_FIGURES.items():
        total, unconverted = Decimal(0), 0
        for flow in (f for f in mine if f.kind in kinds):
            if flow.fx_rate_to_base is not None:
                total += flow.amount_local * flow.fx_rate_to_base
            elif nav.currency is not None and flow.currency == nav.currency:
                total += flow.amount_local
            else:
                unconverted += 1
        broker_value = getattr(nav, figure)
        checks.append(NavCheck(nav.broker_account_id, figure, broker_value, total.quantize(CENT), unconverted))
    return checks
