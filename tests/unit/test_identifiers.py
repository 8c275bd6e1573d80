"""ISIN / CUSIP / FIGI check digits against published identifiers, and Luhn's error-detection property."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio_dashboard.domain.identifiers import (
    clean,
    cusip_check_digit,
    cusip_isin_candidates,
    cusip_to_isin,
    figi_check_digit,
    is_domestic_cusip,
    is_valid_cusip,
    is_valid_figi,
    is_valid_isin,
    isin_check_digit,
    isin_to_cusip,
    valid_cusip,
    valid_figi,
    valid_isin,
)

# Published identifiers of real securities.
ISINS = [
    "US0378331005",  # Apple
    "US9229083632",  # Vanguard S&P 500 ETF (VOO)
    "IE00B3XXRP09",  # Vanguard S&P 500 UCITS ETF (VUSA, LSE)
    "GB00BP6MXD84",  # Shell plc (LSE)
    "US7802593050",  # Shell plc ADR (NYSE)
    "CA82509L1076",  # Shopify (Canadian issuer, CUSIP starts with a digit)
    "US67066G1040",  # NVIDIA (a letter inside the CUSIP)
    "NL0010273215",  # ASML
    "DE0007164600",  # SAP
    "IE00B4L5Y983",  # iShares Core MSCI World
]
CUSIPS = {"037833100": "US0378331005", "922908363": "US9229083632", "67066G104": "US67066G1040",
          "780259305": "US7802593050"}


@pytest.mark.parametrize("isin", ISINS)
def test_published_isins_are_valid_and_any_other_check_digit_is_not(isin):
    assert is_valid_isin(isin)
    assert isin_check_digit(isin[:11]) == int(isin[11])
    for d in "0123456789":
        if d != isin[11]:
            assert not is_valid_isin(isin[:11] + d)


@pytest.mark.parametrize("raw", [" us0378331005 ", "US 0378 3310 05", "us0378331005"])
def test_isin_is_cleaned_before_validation(raw):
    assert valid_isin(raw) == "US0378331005"


@pytest.mark.parametrize("bad", [None, "", "   ", "US037833100", "US03783310055", "1S0378331005", "US03783310O5",
                                 "US037833100X", "ÜS0378331005"])
def test_malformed_isins_are_rejected(bad):
    assert not is_valid_isin(bad)
    assert valid_isin(bad) is None


@pytest.mark.parametrize(("cusip", "isin"), sorted(CUSIPS.items()))
def test_cusip_to_isin_matches_the_published_isin(cusip, isin):
    assert is_valid_cusip(cusip)
    assert cusip_check_digit(cusip[:8]) == int(cusip[8])
    assert cusip_to_isin(cusip) == isin
    assert isin_to_cusip(isin) == cusip


def test_canadian_cusip_gives_the_canadian_isin_and_both_are_candidates():
    assert cusip_to_isin("82509L107", "CA") == "CA82509L1076"
    us, ca = cusip_isin_candidates("82509L107")
    assert ca == "CA82509L1076"
    assert us.startswith("US82509L107")
    assert is_valid_isin(us)
    assert us != "US82509L1076"
    assert isin_to_cusip("CA82509L1076") == "82509L107"


def test_a_cins_is_valid_but_implies_no_isin():
    # Accenture plc: CINS G1151C101, ISIN IE00B4BNMY34 (its own country, not the CUSIP).
    assert is_valid_cusip("G1151C101")
    assert not is_domestic_cusip("G1151C101")
    assert cusip_isin_candidates("G1151C101") == ()
    with pytest.raises(ValueError, match="CINS"):
        cusip_to_isin("G1151C101")


@pytest.mark.parametrize(("cusip", "country", "message"), [
    ("037833101", "US", "not a valid CUSIP"), ("03783310", "US", "not a valid CUSIP"),
    ("037833100", "GB", "only US and CA"), ("", "US", "not a valid CUSIP")])
def test_cusip_to_isin_refuses_bad_input(cusip, country, message):
    with pytest.raises(ValueError, match=message):
        cusip_to_isin(cusip, country)


def test_isin_to_cusip_only_for_us_and_ca():
    assert isin_to_cusip("IE00B3XXRP09") is None
    assert isin_to_cusip("US0378331006") is None  # bad check digit
    assert isin_to_cusip(None) is None


def test_invalid_cusips():
    assert not is_valid_cusip("037833101")
    assert not is_valid_cusip("0378331")
    assert valid_cusip(" 037833100 ") == "037833100"
    assert valid_cusip("") is None


@pytest.mark.parametrize("figi", ["BBG000BLNQ16", "BBG000B9XRY4"])  # IBM (NYSE), Apple (US composite)
def test_published_figis_are_valid(figi):
    assert is_valid_figi(figi)
    assert figi_check_digit(figi[:11]) == int(figi[11])
    assert valid_figi(figi.lower()) == figi


@pytest.mark.parametrize("bad", ["BBG000BLNQ17", "BBA000BLNQ16", "BBG000BLNA16", "GBG000BLNQ16", "BBG000BLNQ1", None])
def test_invalid_figis(bad):
    # wrong check digit; third character not G; a vowel; an excluded (ISIN-like) prefix; too short; none
    assert not is_valid_figi(bad)


def test_clean_turns_blank_into_none():
    assert clean("  ") is None
    assert clean(None) is None
    assert clean(" ab c ") == "ABC"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
       st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=9, max_size=9),
       st.integers(min_value=2, max_value=10), st.integers(min_value=1, max_value=9))
def test_isin_check_digit_detects_every_single_digit_error(country, nsin, pos, delta):
    body = country + nsin
    isin = body + str(isin_check_digit(body))
    assert is_valid_isin(isin)
    if isin[pos].isdigit():
        wrong = isin[:pos] + str((int(isin[pos]) + delta) % 10) + isin[pos + 1:]
        assert not is_valid_isin(wrong)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.integers(min_value=0, max_value=7),
       st.integers(min_value=1, max_value=9))
def test_cusip_check_digit_detects_every_single_digit_error(body, pos, delta):
    cusip = body + str(cusip_check_digit(body))
    wrong = cusip[:pos] + str((int(cusip[pos]) + delta) % 10) + cusip[pos + 1:]
    assert is_valid_cusip(cusip)
    assert not is_valid_cusip(wrong)
    assert is_valid_isin(cusip_to_isin(cusip, "US"))
    assert is_valid_isin(cusip_to_isin(cusip, "CA"))
