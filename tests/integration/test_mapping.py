"""Global instrument assignment on a real database, instruments shaped as the brokers identify them."""

import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain import AssetClass, Instrument, cash_instrument
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.engine import make_engine
from portfolio_dashboard.storage.mapping import (
    MappingError,
    assign_global_instruments,
    clear_manual_mapping,
    find_instrument,
    resolve_global,
    set_manual_mapping,
    split_to_new_global,
)
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

# IB identifies by conid; its Flex statements add the ISIN, the Client Portal gateway does not.
IB_AAPL_FLEX = Instrument("ib", "265598", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", isin="US0378331005",
                          exchange="NASDAQ", broker_asset_class="STK")
IB_AAPL_GATEWAY = Instrument("ib", "265598", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", exchange="NASDAQ",
                             broker_asset_class="STK")
# Schwab identifies by CUSIP and reports no ISIN and no exchange.
SCHWAB_AAPL = Instrument("schwab", "037833100", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", cusip="037833100",
                         broker_asset_class="EQUITY")
IB_VUSA = Instrument("ib", "128831206", "VUSA", "VANGUARD S&P 500 UCITS ETF", AssetClass.ETF, "GBP",
                     isin="IE00B3XXRP09", exchange="LSEETF", broker_asset_class="STK")
SCHWAB_VOO = Instrument("schwab", "922908363", "VOO", "VANGUARD S&P 500 ETF", AssetClass.ETF, "USD",
                        cusip="922908363", broker_asset_class="COLLECTIVE_INVESTMENT")


def capture_instruments(engine, *instruments):
    """What the writer does for one source's capture: upsert instruments, then assign in the same transaction."""
    with UnitOfWork(engine) as uow:
        ids = uow.repo.upsert_instruments(instruments)
        result = assign_global_instruments(uow.connection, ids, {i.key: i for i in instruments})
        uow.commit()
    return result


def mapping(engine, inst):
    with engine.connect() as conn:
        row = conn.execute(
            text("""SELECT m.global_instrument_id, m.mapping_source, m.confidence, m.evidence
                    FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id
                    WHERE i.broker = :b AND i.broker_instrument_id = :i"""),
            {"b": inst.broker, "i": inst.broker_instrument_id},
        ).one()
    return row[0], row[1], row[2], row[3]


def global_row(engine, gid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT name, symbol, asset_class, currency, isin, cusip, figi "
                                 "FROM global_instruments WHERE id = :g"), {"g": gid}).one()


@pytest.mark.parametrize("ib_first", [True, False])
def test_ib_conid_and_schwab_cusip_of_the_same_isin_merge(engine, ib_first):
    order = [IB_AAPL_FLEX, SCHWAB_AAPL] if ib_first else [SCHWAB_AAPL, IB_AAPL_FLEX]
    for inst in order:
        capture_instruments(engine, inst)
    g_ib, src_ib, conf_ib, _ = mapping(engine, IB_AAPL_FLEX)
    g_sw, src_sw, conf_sw, ev_sw = mapping(engine, SCHWAB_AAPL)
    assert g_ib == g_sw
    assert (src_ib, conf_ib, src_sw, conf_sw) == ("broker", Decimal(1), "broker", Decimal(1))
    # the global instrument learned both identifiers and a display name, whichever came first
    name, symbol, asset_class, currency, isin, cusip, _figi = global_row(engine, g_ib)
    assert (isin, cusip, symbol, asset_class, currency) == ("US0378331005", "037833100", "AAPL", "equity", "USD")
    assert name == "APPLE INC"
    if ib_first:
        assert ev_sw == "cusip"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM global_instruments")).scalar() == 1


def test_heuristic_match_is_upgraded_when_flex_brings_the_isin(engine):
    capture_instruments(engine, IB_AAPL_GATEWAY)  # no identifiers: an identity of its own
    g1, src, conf, ev = mapping(engine, IB_AAPL_GATEWAY)
    assert (src, conf, ev) == ("broker", Decimal(1), "new")
    capture_instruments(engine, SCHWAB_AAPL)  # nothing to match by identifier: symbol + USD + equity
    g2, src, conf, ev = mapping(engine, SCHWAB_AAPL)
    assert (g2, src, conf, ev) == (g1, "heuristic", Decimal("0.6"), "symbol")
    result = capture_instruments(engine, IB_AAPL_FLEX)  # Flex: the same conid, now with its ISIN
    assert result.changed == 2
    assert mapping(engine, IB_AAPL_FLEX)[1:] == ("broker", Decimal(1), "new_identified")
    assert mapping(engine, SCHWAB_AAPL) == (g1, "broker", Decimal(1), "cusip")  # upgraded in the same pass
    assert global_row(engine, g1)[4:6] == ("US0378331005", "037833100")


def test_gateway_capture_after_flex_keeps_the_isin_evidence(engine):
    capture_instruments(engine, IB_AAPL_FLEX)
    before = mapping(engine, IB_AAPL_FLEX)
    result = capture_instruments(engine, IB_AAPL_GATEWAY)  # reports no ISIN; the stored row keeps it
    assert (result.mapped, result.changed) == (0, 0)
    assert mapping(engine, IB_AAPL_GATEWAY) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT isin FROM instruments WHERE broker_instrument_id = '265598'")).scalar() \
            == "US0378331005"


def test_heuristic_merge_is_undone_when_the_identifiers_disagree(engine):
    ib_abc = Instrument("ib", "111", "ABC", "ABC CORP", AssetClass.EQUITY, "USD", exchange="NYSE")
    schwab_abc = Instrument("schwab", "922908363", "ABC", "SOMETHING ELSE", AssetClass.EQUITY, "USD",
                            cusip="922908363")
    capture_instruments(engine, ib_abc)
    capture_instruments(engine, schwab_abc)
    g1 = mapping(engine, ib_abc)[0]
    assert mapping(engine, schwab_abc)[:2] == (g1, "heuristic")
    flex_abc = Instrument("ib", "111", "ABC", "ABC CORP", AssetClass.EQUITY, "USD", isin="US0378331005",
                          exchange="NYSE")
    capture_instruments(engine, flex_abc)
    g_sw, src, _conf, ev = mapping(engine, schwab_abc)
    assert g_sw != g1
    assert (src, ev) == ("broker", "new_identified")


def test_manual_override_survives_later_captures_and_can_be_reset(engine):
    capture_instruments(engine, IB_AAPL_FLEX)
    capture_instruments(engine, SCHWAB_AAPL)
    merged = mapping(engine, IB_AAPL_FLEX)[0]
    with UnitOfWork(engine) as uow:
        split = split_to_new_global(uow.connection, find_instrument(uow.connection, "schwab", "037833100"))
        uow.commit()
    for _ in range(2):  # later captures bring the same (and stronger) evidence again
        result = capture_instruments(engine, SCHWAB_AAPL, IB_AAPL_FLEX)
        assert (result.mapped, result.changed) == (0, 0)
    assert mapping(engine, SCHWAB_AAPL) == (split, "manual", Decimal(1), "manual")
    assert split != merged
    with UnitOfWork(engine) as uow:
        decision = clear_manual_mapping(uow.connection, find_instrument(uow.connection, "schwab", "037833100"))
        uow.commit()
    assert decision is not None
    assert mapping(engine, SCHWAB_AAPL)[:2] == (merged, "broker")
    with engine.connect() as conn:  # the split identity, now empty, is gone
        assert conn.execute(text("SELECT count(*) FROM global_instruments")).scalar() == 1
    with UnitOfWork(engine) as uow:  # not manual any more: nothing to undo
        assert clear_manual_mapping(uow.connection, find_instrument(uow.connection, "schwab", "037833100")) is None


def test_manual_mapping_of_a_heuristic_one_is_never_re_assessed(engine):
    capture_instruments(engine, IB_AAPL_GATEWAY)
    capture_instruments(engine, SCHWAB_AAPL)
    vusa_result = capture_instruments(engine, IB_VUSA)
    assert vusa_result.globals_created == 1
    with UnitOfWork(engine) as uow:
        target = resolve_global(uow.connection, str(mapping(engine, IB_VUSA)[0])[:8])
        set_manual_mapping(uow.connection, find_instrument(uow.connection, "schwab", "037833100"), target)
        uow.commit()
    capture_instruments(engine, IB_AAPL_FLEX)  # would have upgraded the heuristic mapping
    assert mapping(engine, SCHWAB_AAPL)[:2] == (target, "manual")


def test_same_ticker_on_different_exchanges_and_currencies_is_not_merged(engine):
    # Shell in London (GBP) at IB, as the gateway reports it (no ISIN), and Shell's NYSE ADR (USD) at Schwab.
    ib_shel = Instrument("ib", "416854402", "SHEL", "SHELL PLC", AssetClass.EQUITY, "GBP", exchange="LSE")
    schwab_shel = Instrument("schwab", "780259305", "SHEL", "SHELL PLC ADR", AssetClass.EQUITY, "USD",
                             cusip="780259305")
    capture_instruments(engine, ib_shel)
    capture_instruments(engine, schwab_shel)
    assert mapping(engine, ib_shel)[0] != mapping(engine, schwab_shel)[0]
    # The same ticker in the same currency on two known exchanges: not merged either.
    demo_lse = Instrument("demo", "shel-lse-usd", "SHEL", "Shell", AssetClass.EQUITY, "USD", exchange="LSE")
    ib_nyse = Instrument("ib", "528411590", "SHEL", "SHELL PLC-ADR", AssetClass.EQUITY, "USD", exchange="NYSE")
    capture_instruments(engine, demo_lse)
    capture_instruments(engine, ib_nyse)
    # demo's LSE line could be Schwab's (Schwab names no exchange): a weak heuristic, listed for review ...
    assert mapping(engine, demo_lse)[:3] == (mapping(engine, schwab_shel)[0], "heuristic", Decimal("0.6"))
    # ... but then that global holds a USD listing on the LSE, so the NYSE one is refused as a whole.
    assert mapping(engine, ib_nyse)[0] not in {mapping(engine, i)[0] for i in (ib_shel, schwab_shel, demo_lse)}


def test_vusa_on_lse_and_voo_in_the_us_stay_apart(engine):
    capture_instruments(engine, IB_VUSA, SCHWAB_VOO)
    assert mapping(engine, IB_VUSA)[0] != mapping(engine, SCHWAB_VOO)[0]
    assert global_row(engine, mapping(engine, SCHWAB_VOO)[0])[4] is None  # a computed ISIN is not a fact


def test_cash_maps_per_currency_across_brokers(engine):
    capture_instruments(engine, cash_instrument("ib", "GBP"), cash_instrument("ib", "USD"))
    capture_instruments(engine, cash_instrument("schwab", "GBP"), cash_instrument("schwab", "USD"))
    ib_gbp, ib_usd = mapping(engine, cash_instrument("ib", "GBP")), mapping(engine, cash_instrument("ib", "USD"))
    assert mapping(engine, cash_instrument("schwab", "GBP"))[0] == ib_gbp[0]
    assert mapping(engine, cash_instrument("schwab", "USD"))[0] == ib_usd[0]
    assert ib_gbp[0] != ib_usd[0]
    assert ib_gbp[3] == "cash"
    assert global_row(engine, ib_gbp[0])[:4] == ("GBP cash", "GBP", "cash", "GBP")


def test_settled_mappings_are_left_alone(engine):
    capture_instruments(engine, IB_AAPL_FLEX, SCHWAB_AAPL, cash_instrument("ib", "GBP"))
    with engine.connect() as conn:
        before = conn.execute(text("SELECT instrument_id, updated_at FROM instrument_mapping ORDER BY 1")).all()
    result = capture_instruments(engine, IB_AAPL_FLEX, SCHWAB_AAPL, cash_instrument("ib", "GBP"))
    assert (result.mapped, result.changed, result.globals_created) == (0, 0, 0)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT instrument_id, updated_at FROM instrument_mapping ORDER BY 1")).all() \
            == before


def test_two_sources_capturing_at_once_create_one_global(engine):
    barrier = threading.Barrier(2)
    errors = []

    def one(inst):
        try:
            with UnitOfWork(engine) as uow:
                ids = uow.repo.upsert_instruments([inst])
                barrier.wait(timeout=10)
                assign_global_instruments(uow.connection, ids, {inst.key: inst})
                uow.commit()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in (IB_AAPL_FLEX, SCHWAB_AAPL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert mapping(engine, IB_AAPL_FLEX)[0] == mapping(engine, SCHWAB_AAPL)[0]


def test_manual_mapping_errors_name_what_to_do(engine):
    capture_instruments(engine, IB_AAPL_FLEX)
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        with pytest.raises(MappingError, match="no instrument schwab:nope"):
            find_instrument(conn, "schwab", "nope")
        iid = find_instrument(conn, "ib", "265598")
        with pytest.raises(MappingError, match="no global instrument"):
            set_manual_mapping(conn, iid, uuid.uuid4())
        with pytest.raises(MappingError, match="not a global instrument id"):
            resolve_global(conn, "xyz")
        with pytest.raises(MappingError, match="no global instrument id starts with"):
            resolve_global(conn, "ffffffffff")


def test_migration_0002_downgrades_and_upgrades(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        capture_instruments(engine, IB_AAPL_FLEX)
        migrate.downgrade(engine, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM asset_allocation_by_global_instrument")).scalar() == 0
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert mapping(engine, IB_AAPL_FLEX)[3] is None  # written before evidence existed: settled
    finally:
        engine.dispose()


def _advisory_locks(conn):
    return conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                             "AND pid = pg_backend_pid()")).scalar()


def test_settled_and_identifier_less_mappings_take_no_lock(engine):
    capture_instruments(engine, IB_AAPL_GATEWAY, IB_VUSA, cash_instrument("ib", "GBP"))
    with UnitOfWork(engine) as uow:
        ids = uow.repo.upsert_instruments([IB_AAPL_GATEWAY, IB_VUSA, cash_instrument("ib", "GBP")])
        result = assign_global_instruments(uow.connection, ids)
        assert _advisory_locks(uow.connection) == 0  # nothing could change: no serialisation
        assert (result.mapped, result.changed) == (0, 0)
    with UnitOfWork(engine) as uow:  # an unmapped instrument does take it
        ids = uow.repo.upsert_instruments([SCHWAB_VOO])
        assert assign_global_instruments(uow.connection, ids).mapped == 1
        assert _advisory_locks(uow.connection) == 1


def test_through_capture_flex_adding_the_isin_upgrades_the_heuristic_merge(app):
    """The real write path: the gateway knows AAPL by conid only, Schwab by CUSIP; the next IB capture (Flex)
    adds the ISIN, and both mappings become identifier-grade without any manual step."""
    from datetime import UTC, datetime, timedelta

    from portfolio_dashboard.domain import RunStatus, TriggerContext
    from portfolio_dashboard.services.capture import capture
    from tests.fakes.holdings import HoldingsSource, account, holding

    app.reference_factory = lambda _settings: None
    t0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)

    def ib(at, isin):
        return HoldingsSource("ib_gateway", "ib", [account("U1", "USD", [
            holding("265598", "AAPL", "USD", "10", "200", name="APPLE INC", isin=isin, exchange="NASDAQ")])],
            asof=at, rates={"USD": "0.8"})

    schwab = HoldingsSource("schwab", "schwab", [account("S1", "USD", [
        holding("037833100", "AAPL", "USD", "5", "200", name="APPLE INC", cusip="037833100")])],
        asof=t0, rates={"USD": "0.8"})
    for sources in ([ib(t0, None)], [schwab], [ib(t0 + timedelta(hours=1), "US0378331005")]):
        result = capture(TriggerContext(), app=app, sources={s.name: s for s in sources})
        assert result.status == RunStatus.SUCCESS, result.error_summary
        if sources == [schwab]:
            assert mapping(app.engine, SCHWAB_AAPL)[1:] == ("heuristic", Decimal("0.6"), "symbol")
    assert mapping(app.engine, SCHWAB_AAPL)[1:] == ("broker", Decimal(1), "cusip")
    assert mapping(app.engine, IB_AAPL_FLEX)[1:] == ("broker", Decimal(1), "new_identified")
    assert mapping(app.engine, SCHWAB_AAPL)[0] == mapping(app.engine, IB_AAPL_FLEX)[0]
