"""Each parser carries the broker's account type and the wrapper it states onto the domain Account."""

from __future__ import annotations

from dataclasses import replace

from portfolio_dashboard.brokers.schwab_parse import parse_responses
from tests.fakes.flex_statement import GENERATED, PREVIOUS_DAY, REPORT_DAY, sample_accounts, statement_xml
from tests.unit.test_ib_flex_statement import parse as parse_flex_bodies
from tests.unit.test_schwab_parse import capture as schwab_capture


def _accounts(result):
    return {s.account.broker_account_id: s.account for s in result.snapshots}


def test_flex_account_information_type_and_alias():
    gbp, usd = sample_accounts()
    body = statement_xml([replace(gbp, alias="Stocks and Shares ISA"), usd], from_date=PREVIOUS_DAY,
                         to_date=REPORT_DAY, generated=GENERATED)
    accounts = _accounts(parse_flex_bodies(body))
    isa, plain = accounts[gbp.account_id], accounts[usd.account_id]
    assert (isa.account_type, isa.wrapper, isa.name) == ("Individual", "ISA", "Stocks and Shares ISA")
    assert (plain.account_type, plain.wrapper) == ("Individual", None)  # nothing says ISA or GIA: the user's call


def test_schwab_account_type_is_a_us_taxable_wrapper():
    accounts = list(_accounts(parse_responses(schwab_capture())).values())
    assert accounts
    assert {(a.account_type, a.wrapper) for a in accounts} <= {("MARGIN", "US_TAXABLE"), ("CASH", "US_TAXABLE")}
