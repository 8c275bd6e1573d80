"""Schwab transaction types and descriptions -> flow kinds (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from portfolio_dashboard.brokers.schwab_transactions import SkippedTransactionError, transaction_flows
from portfolio_dashboard.domain import FlowKind


def tx(tx_type: str, net: float, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "activityId": 1, "time": "2026-03-02T14:00:00+0000", "accountNumber": "12345678", "type": tx_type,
        "status": "VALID", "netAmount": net, "description": description, "transferItems": [], **extra,
    }


@pytest.mark.parametrize(
    ("tx_type", "net", "description", "kind"),
    [
        ("DIVIDEND_OR_INTEREST", 10.0, "QUALIFIED DIVIDEND", FlowKind.DIVIDEND),
        ("DIVIDEND_OR_INTEREST", 3.0, "NON-QUALIFIED DIV", FlowKind.DIVIDEND),
        ("DIVIDEND_OR_INTEREST", 1.5, "CREDIT INTEREST", FlowKind.INTEREST),
        ("DIVIDEND_OR_INTEREST", 0.4, "BANK INTEREST", FlowKind.INTEREST),
        ("DIVIDEND_OR_INTEREST", -1.5, "FOREIGN TAX PAID", FlowKind.WITHHOLDING_TAX),
        ("DIVIDEND_OR_INTEREST", -0.75, "NRA TAX ADJ", FlowKind.WITHHOLDING_TAX),
        ("DIVIDEND_OR_INTEREST", 2.0, "PAYMENT IN LIEU", FlowKind.PAYMENT_IN_LIEU),
        ("DIVIDEND_OR_INTEREST", -0.2, "ADR MGMT FEE", FlowKind.FEE),
        ("ACH_RECEIPT", 500.0, "TRANSFER FROM BANK", FlowKind.DEPOSIT),
        ("CASH_RECEIPT", 50.0, "CHECK DEPOSIT", FlowKind.DEPOSIT),
        ("WIRE_IN", 5000.0, "WIRE INCOMING", FlowKind.DEPOSIT),
        ("ACH_DISBURSEMENT", -500.0, "TRANSFER TO BANK", FlowKind.WITHDRAWAL),
        ("CASH_DISBURSEMENT", -50.0, "CHECK", FlowKind.WITHDRAWAL),
        ("WIRE_OUT", -5000.0, "WIRE OUTGOING", FlowKind.WITHDRAWAL),
        ("ELECTRONIC_FUND", 100.0, "ELECTRONIC FUND TRANSFER", FlowKind.DEPOSIT),
        ("ELECTRONIC_FUND", -100.0, "ELECTRONIC FUND TRANSFER", FlowKind.WITHDRAWAL),
        ("JOURNAL", 250.0, "JOURNALED CASH", FlowKind.TRANSFER_IN),
        ("JOURNAL", -250.0, "JOURNALED CASH", FlowKind.TRANSFER_OUT),
        ("JOURNAL", -4.0, "FOREIGN TAX WITHHELD", FlowKind.WITHHOLDING_TAX),
    ],
)
def test_kind_from_type_and_description(tx_type: str, net: float, description: str, kind: FlowKind) -> None:
    (flow,) = transaction_flows(tx(tx_type, net, description), None)
    assert flow.kind is kind
    assert flow.amount_local == Decimal(str(net))  # signed as Schwab signs netAmount: into the account positive
    assert (flow.broker_account_id, flow.broker_flow_id, flow.currency) == ("12345678", "1", "USD")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (tx("TRADE", -100.0, "BUY"), "trade"),
        (tx("MONEY_MARKET", 0, "MONEY MARKET PURCHASE"), "sweep"),
        (tx("SMA_ADJUSTMENT", 0, "SMA"), "memorandum"),
        (tx("ACH_RECEIPT", 10.0, "X", status="PENDING"), "PENDING"),
        (tx("ACH_RECEIPT", 0, "X"), "zero"),
        (tx("ACH_RECEIPT", "ten", "X"), "not a number"),
        (tx("ACH_RECEIPT", 10.0, "X", time="yesterday"), "ISO-8601"),
        (tx("SOMETHING_NEW", 10.0, "X"), "SOMETHING_NEW"),
        (tx("RECEIVE_AND_DELIVER", 0, "STOCK SPLIT"), "security event"),
    ],
)
def test_skips_say_why(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(SkippedTransactionError, match=reason):
        transaction_flows(body, None)


def test_security_delivered_out_is_a_transfer_out_at_its_value_under_the_holdings_instrument_id() -> None:
    item = {"instrument": {"assetType": "EQUITY", "symbol": "MSFT"}, "amount": -4, "price": 410.0}
    (flow,) = transaction_flows(
        tx("RECEIVE_AND_DELIVER", 0, "TRANSFER OF SECURITY OR OPTION OUT", transferItems=[item]),
        "87654321",
    )
    assert flow.kind is FlowKind.TRANSFER_OUT and flow.amount_local == Decimal("-1640.0")
    assert flow.quantity == Decimal(-4) and flow.broker_account_id == "87654321"
    assert flow.instrument is not None and flow.instrument.broker_instrument_id == "MSFT"
