"""Money in and out from Flex statements: CashTransactions, Transfers, ChangeInNAV, CorporateActions, accruals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dashboard.brokers.ib_flex_flows import parse_flex_flows
from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.domain import CashFlow, FlowKind, RawResponse
from portfolio_dashboard.domain.flow_checks import reconcile
from tests.fakes.flex_flows import (
    GBP_ACCT,
    Q_FROM,
    Q_TO,
    USD_ACCT,
    Cash,
    cash_transactions,
    change_in_nav,
    quarter,
)
from tests.fakes.flex_statement import FlexAccount, statement_xml

ENDPOINT = "GET /AccountManagement/FlexWebService/GetStatement?t=***&q=1&v=3"


def raw(body: bytes) -> RawResponse:
    return RawResponse("ib_flex", "ib", ENDPOINT, datetime(2026, 4, 1, 9, tzinfo=UTC), 200, body, "text/xml")


def root(body: bytes) -> Element:
    elem: Element = fromstring(body)
    return elem


def by_id(flows: Iterable[CashFlow]) -> dict[str, CashFlow]:
    return {f.broker_flow_id: f for f in flows}


def test_the_quarter_reconciles_with_change_in_nav_to_the_penny_per_account() -> None:
    result = parse_flex([raw(quarter())])
    assert {n.broker_account_id for n in result.nav_changes} == {GBP_ACCT, USD_ACCT}
    for nav in result.nav_changes:
        checks = reconcile(result.cash_flows, nav)
        assert [c.figure for c in checks] == ["deposits_withdrawals", "dividends", "withholding_tax", "interest"]
        for check in checks:
            assert check.matches, check
    gbp = next(n for n in result.nav_changes if n.broker_account_id == GBP_ACCT)
    assert (gbp.from_date, gbp.to_date, gbp.currency) == (Q_FROM, Q_TO, "GBP")
    assert gbp.deposits_withdrawals == Decimal("7350.00")
    assert gbp.twr == Decimal("2.874")
    assert gbp.fx_translation == Decimal("-4.10")


def test_reconcile_notices_a_missing_or_doubled_row() -> None:
    result = parse_flex([raw(quarter())])
    gbp = next(n for n in result.nav_changes if n.broker_account_id == GBP_ACCT)
    without_correction = [f for f in result.cash_flows if f.broker_flow_id != "6009"]
    dividends = next(c for c in reconcile(without_correction, gbp) if c.figure == "dividends")
    assert not dividends.matches
    assert dividends.ours == Decimal("52.40")  # 65.60 - 13.20
    doubled = [*result.cash_flows, next(f for f in result.cash_flows if f.broker_flow_id == "5001")]
    deposits = next(c for c in reconcile(doubled, gbp) if c.figure == "deposits_withdrawals")
    assert deposits.ours == Decimal("12350.00") and not deposits.matches


def test_kinds_signs_and_ids_per_account() -> None:
    flows = parse_flex([raw(quarter())]).cash_flows
    gbp = by_id([f for f in flows if f.broker_account_id == GBP_ACCT])
    usd = by_id([f for f in flows if f.broker_account_id == USD_ACCT])
    kinds = {k: f.kind for k, f in gbp.items()}
    assert kinds["5001"] is FlowKind.DEPOSIT and kinds["5003"] is FlowKind.WITHDRAWAL
    assert kinds["6001"] is FlowKind.DIVIDEND and kinds["6002"] is FlowKind.WITHHOLDING_TAX
    assert kinds["6011"] is FlowKind.PAYMENT_IN_LIEU and kinds["6013"] is FlowKind.INTEREST
    assert kinds["6014"] is FlowKind.FEE and kinds["9003"] is FlowKind.TRANSFER_IN
    withdrawal = gbp["5003"]
    assert withdrawal.amount_local == Decimal("-1000") and withdrawal.currency == "GBP"
    dividend = gbp["6001"]
    assert dividend.instrument is not None
    assert dividend.instrument.broker_instrument_id == "265598"
    assert dividend.instrument.isin == "US0378331005"
    assert dividend.fx_rate_to_base == Decimal("0.8")
    assert dividend.flow_ts == datetime(2026, 2, 13, 20, 20, tzinfo=dividend.flow_ts.tzinfo)
    assert str(dividend.flow_ts.tzinfo) == "America/New_York"
    assert (gbp["6007"].description or "").startswith("reversal:")
    assert {"8001", "8006", "9001", "9002"} <= set(usd)
    assert usd["8006"].kind is FlowKind.INTEREST  # bond coupon


def test_summary_rows_restating_detail_are_skipped_with_a_reason() -> None:
    result = parse_flex([raw(quarter())])
    aapl_dividends = [
        f for f in result.cash_flows
        if f.kind is FlowKind.DIVIDEND and f.instrument is not None and f.instrument.symbol == "AAPL"
    ]
    assert [f.broker_flow_id for f in aapl_dividends] == ["6001"]
    assert any("SUMMARY row restating DETAIL rows" in w for w in result.warnings)


def test_summary_only_rows_are_kept_with_stable_ids() -> None:
    rows = [
        Cash("Dividends", "USD", "10", "1", datetime(2026, 1, 2), None, "X div", "1", "X", level="SUMMARY"),
        Cash("Dividends", "USD", "10", "1", datetime(2026, 1, 2), None, "X div", "1", "X", level="SUMMARY"),
    ]
    acct = FlexAccount(USD_ACCT, "USD", "u", {}, money=[cash_transactions(USD_ACCT, rows)])
    body = statement_xml([acct], from_date=Q_FROM, to_date=Q_TO, generated=datetime(2026, 4, 1))
    first = parse_flex_flows([(root(body), ENDPOINT)]).cash_flows
    again = parse_flex_flows([(root(body), ENDPOINT)]).cash_flows
    assert len(first) == 2  # two equal rows are two payments, told apart by their order
    assert [f.broker_flow_id for f in first] == [f.broker_flow_id for f in again]
    assert len({f.broker_flow_id for f in first}) == 2


def test_reversal_and_correction_net_to_what_happened_and_recapture_adds_nothing() -> None:
    once = parse_flex([raw(quarter())]).cash_flows
    twice = parse_flex([raw(quarter()), raw(quarter())]).cash_flows
    assert once == twice
    msft = [f for f in once if f.broker_account_id == GBP_ACCT and f.instrument and f.instrument.symbol == "MSFT"]
    by_kind: dict[FlowKind, Decimal] = {}
    for f in msft:
        by_kind[f.kind] = by_kind.get(f.kind, Decimal(0)) + f.amount_local
    assert by_kind == {FlowKind.DIVIDEND: Decimal("16.50"), FlowKind.WITHHOLDING_TAX: Decimal("-2.45")}


def test_in_kind_transfer_is_a_flow_of_its_market_value_with_quantity() -> None:
    flows = parse_flex([raw(quarter())]).cash_flows
    acats = next(f for f in flows if f.broker_flow_id == "9001")
    assert acats.kind is FlowKind.TRANSFER_IN
    assert acats.amount_local == Decimal("4000") and acats.quantity == Decimal("10")
    assert acats.instrument is not None and acats.instrument.symbol == "MSFT"
    internal = next(f for f in flows if f.broker_flow_id == "9002")
    assert internal.kind is FlowKind.TRANSFER_OUT and internal.amount_local == Decimal("-125")
    assert internal.instrument is None


def test_corporate_actions_and_open_accruals_are_kept() -> None:
    result = parse_flex([raw(quarter())])
    (split,) = result.corporate_actions
    assert (split.broker_action_id, split.group_id, split.action_type) == ("7001", "145678", "FS")
    assert split.quantity == Decimal("50") and split.instrument is not None
    (accrual,) = result.dividend_accruals
    assert accrual.instrument.symbol == "AAPL" and accrual.pay_date == date(2026, 4, 10)
    assert accrual.net_amount == Decimal("10.62") and accrual.fx_rate_to_base == Decimal("0.8")
    assert not [f for f in result.cash_flows if f.flow_ts.date() > Q_TO]  # an accrual is not a payment


def test_unknown_types_and_bad_rows_are_skipped_with_reasons_never_silently() -> None:
    rows = [
        Cash("Mystery Credit", "USD", "5", "1", datetime(2026, 1, 2), "1"),
        Cash("Dividends", "XXQ", "5", "1", datetime(2026, 1, 2), "2"),
        Cash("Dividends", "USD", "abc", "1", datetime(2026, 1, 2), "3"),
        Cash("Dividends", "USD", "0", "1", datetime(2026, 1, 2), "4"),
        Cash("Dividends", "USD", "7", "1", datetime(2026, 1, 2), "5"),
    ]
    acct = FlexAccount(USD_ACCT, "USD", "u", {}, money=[cash_transactions(USD_ACCT, rows)])
    body = statement_xml([acct], from_date=Q_FROM, to_date=Q_TO, generated=datetime(2026, 4, 1))
    result = parse_flex_flows([(root(body), ENDPOINT)])
    assert [f.broker_flow_id for f in result.cash_flows] == ["5"]
    skipped = [w for w in result.warnings if "skipped" in w]
    assert len(skipped) == 4
    assert any("Mystery Credit" in w for w in skipped) and any("XXQ" in w for w in skipped)


def test_pence_rows_are_converted_to_pounds() -> None:
    rows = [Cash("Dividends", "GBp", "1250", "0.01", datetime(2026, 1, 2), "1", "VOD div", "9", "VOD")]
    acct = FlexAccount(GBP_ACCT, "GBP", "g", {}, money=[cash_transactions(GBP_ACCT, rows)])
    body = statement_xml([acct], from_date=Q_FROM, to_date=Q_TO, generated=datetime(2026, 4, 1))
    (flow,) = parse_flex_flows([(root(body), ENDPOINT)]).cash_flows
    assert (flow.currency, flow.amount_local, flow.fx_rate_to_base) == ("GBP", Decimal("12.5"), Decimal("1.00"))


def test_statement_without_money_sections_has_no_flows() -> None:
    acct = FlexAccount(USD_ACCT, "USD", "u", {Q_TO: "1"}, money=[change_in_nav(USD_ACCT, "USD", Q_FROM, Q_TO)])
    body = statement_xml([acct], from_date=Q_FROM, to_date=Q_TO, generated=datetime(2026, 4, 1))
    result = parse_flex([raw(body)])
    assert result.cash_flows == ()
    assert len(result.nav_changes) == 1 and result.nav_changes[0].dividends is None


_ATTRS = ["type", "currency", "amount", "fxRateToBase", "dateTime", "transactionID", "levelOfDetail", "code",
          "direction", "positionAmount", "quantity", "conid", "fromDate", "toDate", "exDate", "accountId"]
_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "-", "1e999", "NaN", "20260231", "01/02/2026", "13/13/2026", "DETAIL", "SUMMARY", "Re",
                     "IN", "OUT", "CASH", "GBp", "Dividends", "Deposits/Withdrawals", "-0", "1,234.50"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_parse_never_crashes_on_odd_rows(data: st.DataObject) -> None:
    tree = root(quarter())
    rows = [e for e in tree.iter() if e.tag in (
        "CashTransaction", "Transfer", "CorporateAction", "ChangeInNAV", "OpenDividendAccrual")]
    for _ in range(data.draw(st.integers(1, 8))):
        elem = data.draw(st.sampled_from(rows))
        attr = data.draw(st.sampled_from(_ATTRS))
        if data.draw(st.booleans()):
            elem.set(attr, data.draw(_VALUES))
        else:
            elem.attrib.pop(attr, None)
    result = parse_flex_flows([(tree, ENDPOINT)])
    for flow in result.cash_flows:
        assert isinstance(flow.amount_local, Decimal) and flow.flow_ts.tzinfo is not None
        assert flow.amount_local != 0
    keys = [(f.broker_account_id, f.broker_flow_id) for f in result.cash_flows]
    assert len(keys) == len(set(keys))


def test_each_row_stays_under_its_own_account_and_a_repeated_row_counts_once() -> None:
    shared = Cash("Deposits/Withdrawals", "USD", "300", "1", datetime(2026, 2, 2), "4242", "ACH DEPOSIT")
    own = Cash("Deposits/Withdrawals", "GBP", "100", "1", datetime(2026, 2, 3), "4243", "DEPOSIT")
    # A consolidated statement: U1234567's statement lists U7654321's row, which U7654321's own repeats.
    first = FlexAccount(GBP_ACCT, "GBP", "g", {}, money=[
        cash_transactions(GBP_ACCT, [own]).replace(
            "</CashTransactions>", cash_transactions(USD_ACCT, [shared]).split("\n", 1)[1]
        )
    ])
    second = FlexAccount(USD_ACCT, "USD", "u", {}, money=[cash_transactions(USD_ACCT, [shared])])
    body = statement_xml([first, second], from_date=Q_FROM, to_date=Q_TO, generated=datetime(2026, 4, 1))
    flows = parse_flex_flows([(root(body), ENDPOINT)]).cash_flows
    assert sorted((f.broker_account_id, f.broker_flow_id) for f in flows) == [
        (GBP_ACCT, "4243"),
        (USD_ACCT, "4242"),
    ]
