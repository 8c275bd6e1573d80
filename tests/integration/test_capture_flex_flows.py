"""A Flex quarter with money sections through the real capture path: every flow stored once, GBP at the
broker's own rate for the GBP account, our figures equal to ChangeInNAV (no warning), a changed ChangeInNAV
figure warned on the run, and re-capture and reprocess storing nothing new."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain import RunStatus
from portfolio_dashboard.services.reprocess import Selection, reprocess
from tests.fakes.flex_flows import GBP_ACCT, USD_ACCT, quarter
from tests.fakes.ib_flex import FakeFlex
from tests.integration.test_capture_ib_flex import QUERY, TOKEN, rows, run, use_ecb


@pytest.fixture
def flex() -> Iterator[FakeFlex]:
    with FakeFlex(token=TOKEN, query_id=QUERY, statement=quarter()) as fake:
        yield fake


def test_a_flex_quarter_is_stored_once_and_matches_change_in_nav(app, flex) -> None:  # type: ignore[no-untyped-def]
    use_ecb(app, None)
    first = run(app, flex)
    assert first.status == RunStatus.SUCCESS, first.error_summary
    assert not [w for w in first.warnings if "ChangeInNAV" in w], first.warnings
    stored = rows(app, "SELECT broker_account_id, broker_flow_id, kind, amount_local, amount_gbp, fx_rate_id, "
                       "raw_payload_id, run_id FROM cash_flows ORDER BY 1, 2")
    assert first.sources[0].flows_written == len(stored) > 20
    assert all(r["raw_payload_id"] is not None and r["run_id"] == first.run_id for r in stored)
    by_id = {r["broker_flow_id"]: r for r in stored}
    # the GBP account's USD dividend at IBKR's own fxRateToBase, with the rate row it used
    assert by_id["6001"]["amount_gbp"] == Decimal("10.000") and by_id["6001"]["fx_rate_id"] is not None
    provider = rows(app, "SELECT provider FROM fx_rates WHERE id = :i", i=by_id["6001"]["fx_rate_id"])
    assert provider[0]["provider"] == "ib_flex"
    # a summary row restating a dividend is not a flow
    assert sum(1 for r in stored if r["kind"] == "dividend" and r["amount_local"] == Decimal("12.50")) == 1
    assert {r["broker_account_id"] for r in stored} == {GBP_ACCT, USD_ACCT}
    assert rows(app, "SELECT count(*) AS n FROM nav_changes")[0]["n"] == 2
    assert rows(app, "SELECT count(*) AS n FROM corporate_actions")[0]["n"] == 1
    assert rows(app, "SELECT net_amount FROM dividend_accruals")[0]["net_amount"] == Decimal("10.62")

    again = run(app, flex)
    assert again.sources[0].flows_written == 0
    report = reprocess(app, Selection(all=True))
    assert report.flows_written == 0
    assert rows(app, "SELECT broker_account_id, broker_flow_id, kind, amount_local, amount_gbp, fx_rate_id, "
                     "raw_payload_id, run_id FROM cash_flows ORDER BY 1, 2") == stored


def test_a_change_in_nav_we_cannot_match_is_a_run_warning(app) -> None:  # type: ignore[no-untyped-def]
    use_ecb(app, None)
    statement = quarter().replace(b'dividends="65.60"', b'dividends="65.70"')
    with FakeFlex(token=TOKEN, query_id=QUERY, statement=statement) as fake:
        result = run(app, fake)
    assert result.status == RunStatus.SUCCESS
    assert any(f"ib:{GBP_ACCT}" in w and "our dividends 65.60 differ from the broker's ChangeInNAV 65.70" in w
               for w in result.warnings), result.warnings
    stored = text("SELECT warnings FROM snapshot_runs WHERE run_id = :r")
    with app.engine.connect() as conn:
        assert any("ChangeInNAV" in w for w in conn.execute(stored, {"r": result.run_id}).scalar_one())
