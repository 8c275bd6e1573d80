"""Capital gains on a real database: the opening-pool and losses upserts, the read model's GBP rate choice and
raw payload hashes, and the service across two brokers (bed and breakfast), wrappers and chained losses."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Connection, text

from portfolio_dashboard.domain.cgt import TaxYear
from portfolio_dashboard.services import capital_gains as service
from portfolio_dashboard.storage import cgt_repository
from portfolio_dashboard.storage.reads import capital_gains as reads
from tests.integration import rows

D = Decimal


def wrapper(conn: Connection, broker: str, account_id: str, value: str) -> None:
    conn.execute(text("UPDATE broker_accounts SET wrapper = :w, wrapper_source = 'user' "
                      "WHERE broker = :b AND broker_account_id = :a"), {"w": value, "b": broker, "a": account_id})


def trade(conn: Connection, broker: str, account_id: str, trade_id: str, instrument_id: uuid.UUID, when: datetime,
          quantity: str, price: str, currency: str, *, commission: str | None = None, taxes: str | None = None,
          fx_rate_id: uuid.UUID | None = None, run_id: uuid.UUID | None = None) -> None:
    conn.execute(
        text("""INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity,
                    price_local, amount_local, currency, commission, taxes, fx_rate_id, run_id)
                VALUES (:b, :t, :a, :i, :ts, :q, :p, :amt, :c, :comm, :tax, :fx, :run)"""),
        {"b": broker, "t": trade_id, "a": account_id, "i": instrument_id, "ts": when, "q": D(quantity),
         "p": D(price), "amt": -D(quantity) * D(price), "c": currency,
         "comm": None if commission is None else D(commission), "tax": None if taxes is None else D(taxes),
         "fx": fx_rate_id, "run": run_id},
    )


def raw(conn: Connection, run_id: uuid.UUID, broker: str, body: dict[str, object]) -> str:
    encoded = json.dumps(body).encode()
    digest = hashlib.sha256(encoded).hexdigest()
    conn.execute(
        text("""INSERT INTO raw_payloads (run_id, broker, endpoint, payload_json, received_at, status_code,
                    content_sha256, source)
                VALUES (:r, :b, 'GET /x', CAST(:j AS jsonb), now(), 200, :h, :b)"""),
        {"r": run_id, "b": broker, "j": encoded.decode(), "h": digest},
    )
    return digest


def security(conn: Connection, symbol: str, isin: str, currency: str = "GBP") -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """One global instrument held at IB and at Schwab: (global id, IB instrument id, Schwab instrument id)."""
    gid = rows.global_instrument(conn, f"{symbol} plc", symbol=symbol)
    conn.execute(text("UPDATE global_instruments SET isin = :i WHERE id = :g"), {"i": isin, "g": gid})
    ib = rows.instrument(conn, "ib", f"ib-{symbol}", symbol=symbol, currency=currency, isin=isin)
    schwab = rows.instrument(conn, "schwab", f"sw-{symbol}", symbol=symbol, currency=currency, isin=isin)
    rows.mapping(conn, gid, ib)
    rows.mapping(conn, gid, schwab)
    return gid, ib, schwab


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_opening_pool_and_losses_upserts_are_idempotent(conn):
    gid = rows.global_instrument(conn, "Acme plc", symbol="ACME")
    kwargs = dict(quantity=D(100), cost_gbp=D("1234.56"), as_of=date(2020, 4, 5), note="from the old broker")
    assert cgt_repository.upsert_opening_pool(conn, gid, **kwargs) is True
    assert cgt_repository.upsert_opening_pool(conn, gid, **kwargs) is False  # same figures: nothing written
    assert cgt_repository.upsert_opening_pool(conn, gid, **{**kwargs, "cost_gbp": D("1300")}) is True
    [pool] = reads.opening_pools(conn)
    assert (pool.quantity, pool.cost_gbp, pool.as_of, pool.symbol) == (D(100), D(1300), date(2020, 4, 5), "ACME")
    assert cgt_repository.upsert_losses(conn, "2023-24", D("500.25")) is True
    assert cgt_repository.upsert_losses(conn, "2023-24", D("500.25")) is False
    assert cgt_repository.upsert_losses(conn, "2023-24", D("600")) is True
    assert reads.losses_brought_forward(conn) == {"2023-24": D(600)}


def test_rates_broker_then_stored_then_ecb_and_never_demo_for_a_real_account(conn):
    rows.account(conn, "ib", "U1", "GBP")
    _gid, ib, _sw = security(conn, "AAPL", "US0378331005", "USD")
    d1, d2, d3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 4)  # d3 a Saturday: ECB of the Friday
    own = rows.fx_rate(conn, at(d1, 20), "USD", "GBP", "0.80", provider="ib_flex")
    rows.fx_rate(conn, at(d1, 16), "USD", "GBP", "0.79", provider="ecb")
    rows.fx_rate(conn, at(d2, 9), "GBP", "USD", "1.25", provider="manual")  # stored the other way round
    rows.fx_rate(conn, at(d2, 16), "USD", "GBP", "0.70", provider="ecb")
    rows.fx_rate(conn, at(d3, 9), "USD", "GBP", "0.50", provider="demo")  # a simulated rate: never used here
    rows.fx_rate(conn, at(date(2024, 5, 3), 16), "USD", "GBP", "0.78", provider="ecb")
    trade(conn, "ib", "U1", "T1", ib, at(d1, 15), "10", "100", "USD", fx_rate_id=own)
    trade(conn, "ib", "U1", "T2", ib, at(d2, 15), "10", "100", "USD")
    trade(conn, "ib", "U1", "T3", ib, at(d3, 15), "-5", "100", "USD")
    found = {row.broker_trade_id: row for row in reads.taxable_trades(conn)}
    assert (found["T1"].broker_rate, found["T1"].ecb_rate) == (D("0.80"), D("0.79"))
    assert (found["T2"].broker_rate, found["T2"].stored_rate, found["T2"].ecb_rate) == (None, D("0.8"), D("0.70"))
    assert (found["T3"].stored_rate, found["T3"].ecb_rate) == (None, D("0.78"))
    inputs = service.load_inputs(conn)
    sources = {key[1]: detail.rate_source for key, detail in inputs.details.items()}
    assert sources == {"T1": "broker", "T2": "stored", "T3": "ecb"}


def test_trade_points_to_the_raw_payload_that_names_it(conn):
    rows.account(conn, "schwab", "S1", "USD")
    _gid, _ib, sw = security(conn, "MSFT", "US5949181045", "GBP")
    run_id = rows.run(conn)
    raw(conn, run_id, "schwab", {"accounts": []})
    naming = raw(conn, run_id, "schwab", {"transactions": [{"activityId": "A-77"}]})
    trade(conn, "schwab", "S1", "A-77", sw, at(date(2024, 6, 3)), "3", "10", "GBP", run_id=run_id)
    [row] = reads.taxable_trades(conn)
    assert row.raw_payload_sha256 == naming


def test_bed_and_breakfast_across_brokers_isa_excluded_and_unset_wrapper_reviewed(conn):
    rows.account(conn, "ib", "U1")
    rows.account(conn, "schwab", "S1")
    rows.account(conn, "ib", "U2")
    wrapper(conn, "ib", "U1", "GIA")
    wrapper(conn, "ib", "U2", "ISA")  # its sale must not count
    gid, ib, sw = security(conn, "ACME", "GB00ACME0001")
    trade(conn, "ib", "U1", "B1", ib, at(date(2024, 5, 1)), "100", "10", "GBP", commission="5", taxes="5")
    trade(conn, "ib", "U1", "S1", ib, at(date(2024, 9, 2)), "-100", "12", "GBP", commission="5")
    trade(conn, "schwab", "S1", "B2", sw, at(date(2024, 9, 20)), "100", "11", "GBP")  # 18 days later
    trade(conn, "ib", "U2", "X1", ib, at(date(2024, 9, 3)), "-50", "20", "GBP")
    result = service.report(conn, TaxYear(2024))
    doc = result.document
    [disposal] = doc["disposals"]
    assert (disposal["proceeds_gbp"], disposal["cost_gbp"], disposal["gain_gbp"]) == ("1200.00", "1105.00", "95.00")
    [match] = disposal["matches"]
    assert (match["rule"], match["acquired"], match["trades"][0]["broker"]) == ("30-day", "2024-09-20", "schwab")
    assert doc["pools"] == [{"symbol": "ACME", "isin": "GB00ACME0001", "quantity": "100", "cost_gbp": "1010.00",
                             "complete": True}]
    assert doc["excluded_sheltered_trades"] == 1
    reasons = [item["reason"] for item in doc["needs_review"]]
    assert any("schwab:S1 has no wrapper set" in reason and "accounts set" in reason for reason in reasons)
    assert doc["complete"] is False
    assert result.details[("ib", "B1")].costs_gbp == D(10)  # commission and stamp duty
    assert gid  # the pool is keyed on the global instrument both brokers share


def test_losses_chain_from_a_stated_year_through_computed_years(conn):
    rows.account(conn, "ib", "U1")
    wrapper(conn, "ib", "U1", "GIA")
    _gid, ib, _sw = security(conn, "ACME", "GB00ACME0001")
    trade(conn, "ib", "U1", "B1", ib, at(date(2022, 5, 3)), "100", "10", "GBP")
    trade(conn, "ib", "U1", "S1", ib, at(date(2023, 6, 1)), "-50", "8", "GBP")  # 2023-24: a loss of 100
    trade(conn, "ib", "U1", "S2", ib, at(date(2024, 6, 3)), "-50", "100", "GBP")  # 2024-25: a gain of 4500
    cgt_repository.upsert_losses(conn, "2023-24", D(400))
    totals = service.report(conn, TaxYear(2024)).document["totals"]
    assert totals["losses_brought_forward_gbp"] == "500.00"  # 400 stated + the year's own 100
    assert totals["losses_used_gbp"] == "500.00"
    assert totals["taxable_gain_gbp"] == "1000.00"  # 4500 - 3000 exempt - 500
    assert service.report(conn, TaxYear(2025)).document["totals"]["losses_brought_forward_gbp"] == "0.00"


def test_opening_pool_by_symbol_or_isin_and_an_ambiguous_symbol(conn):
    gid, _ib, _sw = security(conn, "ACME", "GB00ACME0001")
    found, changed = service.set_opening_pool(conn, "acme", quantity=D(10), cost_gbp=D(50), as_of=date(2020, 1, 1))
    assert (found.global_instrument_id, changed) == (gid, True)
    other = rows.global_instrument(conn, "Acme Inc", symbol="ACME")
    conn.execute(text("UPDATE global_instruments SET isin = 'US00ACME0002' WHERE id = :g"), {"g": other})
    with pytest.raises(service.SecurityNotFoundError, match="use the ISIN"):  # never a guess between two
        service.resolve_security(conn, "ACME")
    assert service.resolve_security(conn, "US00ACME0002").global_instrument_id == other


def test_cancelled_trades_are_left_out_once_the_broker_reports_a_status(conn):
    rows.account(conn, "ib", "U1")
    wrapper(conn, "ib", "U1", "GIA")
    _gid, ib, _sw = security(conn, "ACME", "GB00ACME0001")
    trade(conn, "ib", "U1", "B1", ib, at(date(2024, 5, 1)), "10", "10", "GBP")
    trade(conn, "ib", "U1", "B2", ib, at(date(2024, 5, 2)), "10", "10", "GBP")
    assert [r.broker_trade_id for r in reads.taxable_trades(conn)] == ["B1", "B2"]  # both executed
    # trades.status (executed / cancelled / corrected) comes from the broker's rows; a cancellation is left out
    conn.execute(text("UPDATE trades SET status = 'cancelled' WHERE broker_trade_id = 'B2'"))
    assert [r.broker_trade_id for r in reads.taxable_trades(conn)] == ["B1"]


def test_a_split_reported_by_ibkr_adjusts_the_pool_and_other_actions_are_reviewed(conn):
    rows.account(conn, "ib", "U1")
    wrapper(conn, "ib", "U1", "GIA")
    _gid, ib, _sw = security(conn, "ACME", "GB00ACME0001")
    trade(conn, "ib", "U1", "B1", ib, at(date(2024, 5, 1)), "10", "100", "GBP")
    trade(conn, "ib", "U1", "S1", ib, at(date(2024, 7, 1)), "-20", "60", "GBP")
    for action_id, kind, description, day in (
        ("A1", "FS", "ACME(GB00ACME0001) SPLIT 4 FOR 1 (ACME, ACME PLC, GB00ACME0001)", date(2024, 6, 10)),
        ("A2", "TC", "ACME(GB00ACME0001) MERGED(Acquisition) WITH NEWCO 1 FOR 2", date(2024, 9, 1)),
    ):
        conn.execute(text(
            """INSERT INTO corporate_actions (broker, broker_account_id, broker_action_id, action_ts, action_type,
                   instrument_id, description, report_date) VALUES ('ib', 'U1', :a, :ts, :k, :i, :d, :day)"""),
            {"a": action_id, "ts": at(day), "k": kind, "i": ib, "d": description, "day": day})
    doc = service.report(conn, TaxYear(2024)).document
    [disposal] = doc["disposals"]
    # 10 bought at £100 became 40 at £25: 20 sold for £1,200 against half the cost
    assert (disposal["quantity"], disposal["cost_gbp"], disposal["gain_gbp"]) == ("20", "500.00", "700.00")
    assert any("corporate action TC" in item["reason"] for item in doc["needs_review"])


def test_a_wrapper_the_broker_states_is_stored_but_never_over_the_users_choice(conn):
    from portfolio_dashboard.domain import Account
    from portfolio_dashboard.storage.repositories import Repository

    repo = Repository(conn)

    def stored() -> tuple[str | None, str | None]:
        row = conn.execute(text("SELECT wrapper, wrapper_source FROM broker_accounts WHERE broker_account_id = 'D1'"))
        return tuple(row.one())  # type: ignore[return-value]

    repo.upsert_accounts([Account("demo", "D1", "Demo", "GBP")])
    assert stored() == (None, None)  # not stated: unknown (counted as taxable, listed for review)
    repo.upsert_accounts([Account("demo", "D1", "Demo", "GBP", wrapper="GIA")])
    assert stored() == ("GIA", "broker")
    repo.upsert_accounts([Account("demo", "D1", "Demo", "GBP")])
    assert stored() == ("GIA", "broker")  # a capture that states nothing keeps it
    wrapper(conn, "demo", "D1", "ISA")
    repo.upsert_accounts([Account("demo", "D1", "Demo", "GBP", wrapper="GIA")])
    assert stored() == ("ISA", "user")
