"""The pure mapping decision: which global instrument a broker instrument is."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from portfolio_dashboard.domain import AssetClass, Instrument, cash_instrument
from portfolio_dashboard.domain.matching import (
    Candidate,
    Evidence,
    Member,
    decide,
    identifiers_to_fill,
    identity_of,
    normalise_exchange,
    normalise_symbol,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# How the brokers really identify things: IB by conid (Flex adds the ISIN), Schwab by CUSIP.
IB_AAPL = Instrument("ib", "265598", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", isin="US0378331005",
                     exchange="NASDAQ", broker_asset_class="STK")
IB_AAPL_GATEWAY = Instrument("ib", "265598", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", exchange="NASDAQ",
                             broker_asset_class="STK")  # the Client Portal gateway reports no ISIN
SCHWAB_AAPL = Instrument("schwab", "037833100", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", cusip="037833100",
                         broker_asset_class="EQUITY")
IB_VUSA = Instrument("ib", "128831206", "VUSA", "VANGUARD S&P 500 UCITS ETF", AssetClass.ETF, "GBP",
                     isin="IE00B3XXRP09", exchange="LSEETF", broker_asset_class="STK")
SCHWAB_VOO = Instrument("schwab", "922908363", "VOO", "VANGUARD S&P 500 ETF", AssetClass.ETF, "USD",
                        cusip="922908363", broker_asset_class="COLLECTIVE_INVESTMENT")
IB_SHEL_LSE = Instrument("ib", "416854402", "SHEL", "SHELL PLC", AssetClass.EQUITY, "GBP", exchange="LSE")
SCHWAB_SHEL_ADR = Instrument("schwab", "780259305", "SHEL", "SHELL PLC ADR", AssetClass.EQUITY, "USD")


def cand(*members: tuple[Instrument, str], created: int = 0, isin: str | None = None, cusip: str | None = None,
         figi: str | None = None, asset_class: str | None = None, currency: str | None = None) -> Candidate:
    first = members[0][0] if members else None
    return Candidate(
        global_id=uuid.uuid4(),
        created_at=T0 + timedelta(minutes=created),
        asset_class=asset_class or (str(first.asset_class) if first else None),
        currency=currency or (first.currency if first else None),
        isin=isin, cusip=cusip, figi=figi,
        members=tuple(Member(uuid.uuid4(), inst, source) for inst, source in members),
    )


def test_schwab_cusip_matches_the_ib_isin_through_the_computed_isin():
    g = cand((IB_AAPL, "broker"), isin="US0378331005")
    d = decide(SCHWAB_AAPL, [g])
    assert d.global_id == g.global_id
    assert d.evidence == Evidence.CUSIP
    assert (d.source, d.confidence) == ("broker", Decimal(1))


def test_ib_isin_matches_a_global_known_only_by_a_schwab_cusip():
    g = cand((SCHWAB_AAPL, "broker"), cusip="037833100")
    d = decide(IB_AAPL, [g])
    assert (d.global_id, d.evidence) == (g.global_id, Evidence.ISIN)


def test_same_isin_merges_even_across_currencies():
    # One security listed in two currencies is still one security.
    eur_listing = Instrument("ib", "999", "VUSA", "VANGUARD S&P 500", AssetClass.ETF, "EUR", isin="IE00B3XXRP09",
                             exchange="IBIS2")
    g = cand((IB_VUSA, "broker"), isin="IE00B3XXRP09")
    assert decide(eur_listing, [g]).global_id == g.global_id


def test_a_canadian_issuer_cusip_matches_its_ca_isin():
    ib_shop = Instrument("ib", "195014116", "SHOP", "SHOPIFY INC", AssetClass.EQUITY, "USD", isin="CA82509L1076")
    schwab_shop = Instrument("schwab", "82509L107", "SHOP", "SHOPIFY INC", AssetClass.EQUITY, "USD",
                             cusip="82509L107")
    g = cand((ib_shop, "broker"), isin="CA82509L1076")
    assert decide(schwab_shop, [g]).evidence == Evidence.CUSIP


def test_figi_match():
    a = Instrument("x", "1", "IBM", "IBM", AssetClass.EQUITY, "USD", figi="BBG000BLNQ16")
    b = Instrument("y", "2", "IBM.N", "INTL BUSINESS MACHINES", AssetClass.EQUITY, "USD", figi="bbg000blnq16")
    g = cand((a, "broker"), figi="BBG000BLNQ16")
    assert decide(b, [g]).evidence == Evidence.FIGI


def test_figi_match_is_vetoed_by_a_conflicting_isin():
    a = Instrument("x", "1", "IBM", "IBM", AssetClass.EQUITY, "USD", isin="US4592001014", figi="BBG000BLNQ16")
    b = Instrument("y", "2", "IBM", "IBM", AssetClass.EQUITY, "USD", isin="US0378331005", figi="BBG000BLNQ16")
    g = cand((a, "broker"), isin="US4592001014", figi="BBG000BLNQ16")
    assert decide(b, [g]).global_id is None


def test_invalid_isin_is_no_evidence():
    bad = Instrument("demo", "z", "AAPL", "Apple", AssetClass.EQUITY, "USD", isin="US0378331006")
    assert not identity_of(bad).identified
    g = cand((IB_AAPL, "broker"), isin="US0378331005")
    # falls through to the heuristic (no exchange on one side) rather than an identifier match
    assert decide(bad, [g]).evidence == Evidence.SYMBOL


def test_identifier_match_prefers_isin_then_the_oldest_global():
    older = cand((IB_AAPL, "broker"), isin="US0378331005", created=0)
    newer = cand((IB_AAPL, "broker"), isin="US0378331005", created=5)
    demo = Instrument("demo", "US0378331005", "AAPL", "Apple", AssetClass.EQUITY, "USD", isin="US0378331005")
    assert decide(demo, [newer, older]).global_id == older.global_id


def test_heuristic_with_exchange_scores_higher_than_without():
    demo = Instrument("demo", "d1", "AAPL", "Apple", AssetClass.EQUITY, "USD", exchange="XNAS")
    g = cand((IB_AAPL_GATEWAY, "broker"))
    d = decide(demo, [g])
    assert (d.global_id, d.evidence, d.source, d.confidence) == (g.global_id, Evidence.SYMBOL_EXCHANGE, "heuristic",
                                                                 Decimal("0.8"))
    d2 = decide(SCHWAB_AAPL, [g])  # Schwab reports no exchange
    assert (d2.global_id, d2.evidence, d2.confidence) == (g.global_id, Evidence.SYMBOL, Decimal("0.6"))


def test_same_ticker_on_another_exchange_and_currency_is_not_merged():
    g = cand((IB_SHEL_LSE, "broker"))
    assert decide(SCHWAB_SHEL_ADR, [g]).global_id is None  # GBP vs USD
    nyse = Instrument("demo", "d2", "SHEL", "Shell ADR", AssetClass.EQUITY, "GBP", exchange="NYSE")
    assert decide(nyse, [g]).global_id is None  # same currency, different known exchanges


def test_vusa_and_voo_are_different_instruments():
    g = cand((IB_VUSA, "broker"), isin="IE00B3XXRP09")
    assert decide(SCHWAB_VOO, [g]).global_id is None
    # Even under the same symbol, an IE ISIN and a US CUSIP are different securities.
    voo_named_vusa = Instrument("schwab", "922908363", "VUSA", "X", AssetClass.ETF, "GBP", cusip="922908363",
                                exchange="LSE")
    assert decide(voo_named_vusa, [g]).global_id is None


def test_heuristic_needs_same_asset_class():
    g = cand((IB_AAPL_GATEWAY, "broker"))
    option = Instrument("demo", "o1", "AAPL", "AAPL call", AssetClass.OPTION, "USD", exchange="NASDAQ")
    assert decide(option, [g]).global_id is None


def test_heuristic_never_joins_a_global_holding_another_instrument_of_the_same_broker():
    g = cand((IB_AAPL_GATEWAY, "broker"))
    other_conid = Instrument("ib", "38708077", "AAPL", "APPLE INC", AssetClass.EQUITY, "USD", exchange="NASDAQ")
    assert decide(other_conid, [g]).global_id is None


def test_heuristic_is_vetoed_by_a_heuristic_members_conflicting_cusip():
    g = cand((IB_AAPL_GATEWAY, "broker"), (SCHWAB_AAPL, "heuristic"))
    wrong = Instrument("demo", "d3", "AAPL", "Not Apple", AssetClass.EQUITY, "USD", cusip="922908363")
    assert decide(wrong, [g]).global_id is None


def test_ambiguous_heuristic_merges_nothing():
    a = cand((IB_AAPL_GATEWAY, "broker"))
    b = cand((Instrument("demo", "x", "AAPL", "Apple", AssetClass.EQUITY, "USD"), "broker"))
    d = decide(SCHWAB_AAPL, [a, b])
    assert (d.global_id, d.evidence) == (None, Evidence.NEW_IDENTIFIED)


def test_heuristic_member_identifiers_are_not_positive_evidence():
    g = cand((IB_AAPL_GATEWAY, "broker"), (SCHWAB_AAPL, "heuristic"))
    demo = Instrument("demo", "US0378331005", "AAPL", "Apple", AssetClass.EQUITY, "USD", isin="US0378331005",
                      exchange="NASDAQ")
    assert decide(demo, [g]).evidence == Evidence.SYMBOL_EXCHANGE


def test_manual_member_identifiers_are_positive_evidence():
    g = cand((IB_VUSA, "manual"))  # the global itself has no ISIN: a user put VUSA here by hand
    other = Instrument("demo", "v", "VUSA", "Vanguard", AssetClass.ETF, "GBP", isin="IE00B3XXRP09")
    assert decide(other, [g]).evidence == Evidence.ISIN


def test_cash_maps_per_currency():
    gbp = cand((cash_instrument("ib", "GBP"), "broker"))
    usd = cand((cash_instrument("ib", "USD"), "broker"), created=1)
    d = decide(cash_instrument("schwab", "GBP"), [usd, gbp])
    assert (d.global_id, d.evidence) == (gbp.global_id, Evidence.CASH)
    d2 = decide(cash_instrument("schwab", "EUR"), [usd, gbp])
    assert (d2.global_id, d2.evidence) == (None, Evidence.CASH)


def test_new_identity_with_and_without_identifiers():
    assert decide(IB_AAPL, []).evidence == Evidence.NEW_IDENTIFIED
    assert decide(IB_AAPL_GATEWAY, []).evidence == Evidence.NEW
    assert Evidence.NEW.strength < Evidence.SYMBOL.strength < Evidence.SYMBOL_EXCHANGE.strength < Evidence.ISIN.strength


@pytest.mark.parametrize(("a", "b"), [("LSEETF", "LSE"), ("XNAS", "NASDAQ"), ("NYSE ARCA", "ARCA"),
                                      ("IBIS2", "XETRA"), ("xlon", "LSE")])
def test_exchange_aliases(a, b):
    assert normalise_exchange(a) == normalise_exchange(b)


def test_smart_routing_is_not_an_exchange():
    assert normalise_exchange("SMART") is None
    assert normalise_exchange("") is None


def test_symbols_ignore_separators():
    assert normalise_symbol("BRK B") == normalise_symbol("BRK.B") == normalise_symbol("brk/b") == "BRKB"


def test_identifiers_to_fill():
    assert identifiers_to_fill(IB_AAPL) == {"isin": "US0378331005", "cusip": "037833100"}
    assert identifiers_to_fill(SCHWAB_AAPL) == {"cusip": "037833100"}  # a computed ISIN is not filled
    assert identifiers_to_fill(IB_AAPL_GATEWAY) == {}


def test_a_global_holding_a_listing_on_another_exchange_is_refused_as_a_whole():
    lse_usd = Instrument("demo", "d", "SHEL", "Shell", AssetClass.EQUITY, "USD", exchange="LSE")
    g = cand((SCHWAB_SHEL_ADR, "broker"), (lse_usd, "heuristic"))
    nyse = Instrument("demo", "528411590", "SHEL", "SHELL ADR", AssetClass.EQUITY, "USD", exchange="NYSE")
    assert decide(nyse, [g]).global_id is None
    # a listing in another currency does not count against it
    g2 = cand((IB_SHEL_LSE, "broker"), (SCHWAB_SHEL_ADR, "manual"))
    assert decide(nyse, [g2]).evidence == Evidence.SYMBOL
