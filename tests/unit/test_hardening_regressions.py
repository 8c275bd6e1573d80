"""Regressions for bugs the chaos campaigns found (tests/chaos), each reduced to its smallest case."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from portfolio_dashboard.brokers.schwab_parse import parse_responses as schwab_parse
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import ParsingError


def _raw(endpoint: str, body: object) -> RawResponse:
    return RawResponse("schwab", "schwab", endpoint, datetime.now(UTC), 200, json.dumps(body).encode(),
                       "application/json", {"date": "Tue, 24 Nov 2026 00:15:34 GMT"})


def test_schwab_transfer_item_with_a_list_as_asset_type_is_a_parsing_error() -> None:
    # Found by the property campaign: an unhashable assetType escaped as TypeError from the fee check.
    account = {"securitiesAccount": {"accountNumber": "123", "type": "CASH", "positions": [],
                                     "currentBalances": {"cashBalance": 1, "liquidationValue": 1}}}
    trade = {"activityId": 1, "accountNumber": "123", "time": "2026-11-20T14:30:00+0000", "type": "TRADE", "status": "VALID",
             "netAmount": -10, "transferItems": [{"instrument": {"assetType": ["EQUITY"], "symbol": "AAPL"},
                                                  "amount": 1, "cost": -10, "price": 10}]}
    raws = [_raw("GET /trader/v1/accounts", [account]),
            _raw("GET /trader/v1/accounts/HASH/transactions", [trade])]
    with pytest.raises(ParsingError, match="assetType"):
        schwab_parse(raws)


@pytest.mark.parametrize("conid", ["²", "１２３", "٣", "12a", "", " ", "0"])
def test_ib_conid_that_is_not_ascii_digits_is_a_parsing_error(conid: str) -> None:
    # Found by the property campaign: "²".isdigit() is True but int("²") raises ValueError (uncategorised).
    from portfolio_dashboard.brokers.ib_gateway_payloads import conid_of

    with pytest.raises(ParsingError, match="conid"):
        conid_of({"conid": conid}, "GET /portfolio/U1/positions/0")
