"""Schwab transactions that move money or securities, in the Trader API's documented ``Transaction`` shape.

``activityId``, ``time``, ``accountNumber``, ``type``, ``status``, ``subAccount``, ``tradeDate``,
``settlementDate``, ``netAmount``, ``activityType``, ``description`` and ``transferItems``
(``{instrument, amount, cost, price, feeType, positionEffect}``). Descriptions are the wording Schwab uses.
Served by ``FakeSchwab`` beside the trades; ``EXPECTED`` is what each should become (kind, amount).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

MARGIN_NUMBER, CASH_NUMBER = "12345678", "87654321"

_AAPL = {"assetType": "EQUITY", "status": "ACTIVE", "symbol": "AAPL", "instrumentId": 1206667, "type": "COMMON_STOCK"}
_MSFT = {"assetType": "EQUITY", "status": "ACTIVE", "symbol": "MSFT", "instrumentId": 1521, "type": "COMMON_STOCK"}
_USD = {"assetType": "CURRENCY", "status": "ACTIVE", "symbol": "CURRENCY_USD", "description": "USD currency",
        "instrumentId": 1, "closingPrice": 0}
_SWEEP = {"assetType": "CASH_EQUIVALENT", "status": "ACTIVE", "symbol": "SWVXX", "cusip": "808515795",
          "description": "SCHWAB PRIME ADVANTAGE MONEY INV", "instrumentId": 9001, "type": "MONEY_MARKET_FUND"}


def _tx(activity_id: int, when: datetime, account: str, tx_type: str, net: float, description: str,
        items: list[dict[str, Any]], status: str = "VALID", activity: str = "TRANSFER") -> dict[str, Any]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {
        "activityId": activity_id,
        "time": stamp,
        "accountNumber": account,
        "type": tx_type,
        "status": status,
        "subAccount": "CASH",
        "tradeDate": stamp,
        "settlementDate": stamp,
        "netAmount": net,
        "activityType": activity,
        "description": description,
        "transferItems": items,
    }


def _cash_item(amount: float) -> dict[str, Any]:
    return {"instrument": _USD, "amount": amount, "cost": amount}


def flow_transactions(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Money-moving transactions per account number."""
    day = timedelta(days=1)
    margin = [
        _tx(90000000001, now - 380 * day, MARGIN_NUMBER, "WIRE_IN", 20000.00, "WIRE INCOMING", [_cash_item(20000.0)]),
        _tx(90000000002, now - 60 * day, MARGIN_NUMBER, "ACH_RECEIPT", 5000.00, "TRANSFER FROM BANK",
            [_cash_item(5000.0)]),
        _tx(90000000003, now - 15 * day, MARGIN_NUMBER, "ACH_DISBURSEMENT", -1500.00, "TRANSFER TO BANK",
            [_cash_item(-1500.0)]),
        _tx(90000000004, now - 12 * day, MARGIN_NUMBER, "DIVIDEND_OR_INTEREST", 2.40, "ORDINARY DIVIDEND",
            [{"instrument": _AAPL, "amount": 0, "cost": 0}]),
        _tx(90000000005, now - 12 * day, MARGIN_NUMBER, "DIVIDEND_OR_INTEREST", -0.36, "FOREIGN TAX PAID",
            [{"instrument": _AAPL, "amount": 0, "cost": 0}]),
        _tx(90000000006, now - 3 * day, MARGIN_NUMBER, "DIVIDEND_OR_INTEREST", 0.87, "CREDIT INTEREST",
            [_cash_item(0.87)]),
        _tx(90000000007, now - 8 * day, MARGIN_NUMBER, "JOURNAL", -250.00, "JOURNALED CASH", [_cash_item(-250.0)]),
        _tx(90000000008, now - 40 * day, MARGIN_NUMBER, "RECEIVE_AND_DELIVER", 0, "TRANSFER OF SECURITY OR OPTION IN",
            [{"instrument": _MSFT, "amount": 3, "cost": 1230.00, "price": 410.00, "positionEffect": "OPENING"}]),
        _tx(90000000009, now - 35 * day, MARGIN_NUMBER, "RECEIVE_AND_DELIVER", 0, "STOCK SPLIT",
            [{"instrument": _AAPL, "amount": 10, "cost": 0, "positionEffect": "OPENING"}]),
        _tx(90000000010, now - 7 * day, MARGIN_NUMBER, "MONEY_MARKET", 0, "MONEY MARKET PURCHASE",
            [{"instrument": _SWEEP, "amount": 100, "cost": -100.0, "price": 1}]),
        _tx(90000000011, now - 6 * day, MARGIN_NUMBER, "ELECTRONIC_FUND", -100.00, "ELECTRONIC FUND TRANSFER",
            [_cash_item(-100.0)]),
        _tx(90000000012, now - 1 * day, MARGIN_NUMBER, "CASH_RECEIPT", 75.00, "CASH RECEIPT", [_cash_item(75.0)],
            status="PENDING"),
    ]
    cash = [
        _tx(91000000001, now - 90 * day, CASH_NUMBER, "CASH_RECEIPT", 1000.00, "CHECK DEPOSIT", [_cash_item(1000.0)]),
        _tx(91000000002, now - 8 * day, CASH_NUMBER, "JOURNAL", 250.00, "JOURNALED CASH", [_cash_item(250.0)]),
        _tx(91000000003, now - 4 * day, CASH_NUMBER, "WIRE_OUT", -300.00, "WIRE OUTGOING", [_cash_item(-300.0)]),
    ]
    return {MARGIN_NUMBER: margin, CASH_NUMBER: cash}


# activityId -> (kind, amount as text) for the flows above; the others are skipped with a reason
EXPECTED = {
    "80990733999": ("dividend", "12.5"),  # the QUALIFIED DIVIDEND among the fake's trades (tests/fakes/schwab.py)
    "90000000001": ("deposit", "20000.0"),
    "90000000002": ("deposit", "5000.0"),
    "90000000003": ("withdrawal", "-1500.0"),
    "90000000004": ("dividend", "2.4"),
    "90000000005": ("withholding_tax", "-0.36"),
    "90000000006": ("interest", "0.87"),
    "90000000007": ("transfer_out", "-250.0"),
    "90000000008": ("transfer_in", "1230.0"),
    "90000000011": ("withdrawal", "-100.0"),
    "91000000001": ("deposit", "1000.0"),
    "91000000002": ("transfer_in", "250.0"),
    "91000000003": ("withdrawal", "-300.0"),
}
SKIPPED = {"90000000009": "security event", "90000000010": "sweep", "90000000012": "PENDING"}
