"""Flex money rows read date-times as the holdings parser does: the zone a value names, else the statement's."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from defusedxml.ElementTree import fromstring

from portfolio_dashboard.brokers.ib_flex_flows import parse_flex_flows

STATEMENT = """<FlexQueryResponse><FlexStatements count="1">
<FlexStatement accountId="U9000020" fromDate="20250522" toDate="20250522">
<CashTransactions>
<CashTransaction accountId="U9000020" currency="USD" type="Deposits/Withdrawals" amount="100"
 dateTime="{value}" transactionID="501" levelOfDetail="DETAIL" />
</CashTransactions>
</FlexStatement></FlexStatements></FlexQueryResponse>"""

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(("value", "zone", "expected"), [
    # a named zone wins (AEST is UTC+10, EDT UTC-4), whatever the statement's zone
    ("2025-05-22 20:41:57 AEST", LONDON, datetime(2025, 5, 22, 20, 41, 57, tzinfo=ZoneInfo("Australia/Sydney"))),
    ("20250522;104235 EDT", LONDON, datetime(2025, 5, 22, 10, 42, 35, tzinfo=ZoneInfo("America/New_York"))),
    # none named: the statement's zone (IB_FLEX_TIMEZONE), not a fixed New York
    ("20250522;104235", LONDON, datetime(2025, 5, 22, 10, 42, 35, tzinfo=LONDON)),
    ("20250522", LONDON, datetime(2025, 5, 22, tzinfo=LONDON)),
])
def test_a_cash_row_is_dated_in_its_own_zone_else_the_statements(value: str, zone: ZoneInfo,
                                                                  expected: datetime) -> None:
    flows = parse_flex_flows([(fromstring(STATEMENT.format(value=value)), "GET /x")], zone)
    [flow] = flows.cash_flows
    assert flow.amount_local == Decimal(100)
    assert flow.flow_ts == expected  # the same instant
    assert flow.flow_ts.utcoffset() == expected.utcoffset()


def test_the_default_zone_is_new_york() -> None:
    flows = parse_flex_flows([(fromstring(STATEMENT.format(value="20250522;104235")), "GET /x")])
    assert flows.cash_flows[0].flow_ts == datetime(2025, 5, 22, 10, 42, 35, tzinfo=ZoneInfo("America/New_York"))
