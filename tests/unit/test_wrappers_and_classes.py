"""The wrapper a broker's account labels state, and the default asset class from broker metadata (pure)."""

import pytest

from portfolio_dashboard.domain.accounts import normalise_wrapper, wrapper_from_broker
from portfolio_dashboard.domain.asset_classes import ClassFacts, clean_class, default_class


@pytest.mark.parametrize(("broker", "labels", "wrapper"), [
    ("ib", ("Individual", "Individual", "ISA"), "ISA"),  # IB UK: the alias (or account type) says ISA
    ("ib", ("Individual ISA", None, None), "ISA"),
    ("ib", ("INDIVIDUAL", None, "Jane Doe"), None),  # nothing says which: left for the user
    ("ib", ("Individual", None, "my lifetime isa"), "LISA"),
    ("ib", ("Junior ISA",), "JISA"),
    ("ib", ("SIPP",), "SIPP"),
    ("ib", ("IRA Roth",), "IRA"),
    ("schwab", ("MARGIN",), "US_TAXABLE"),
    ("schwab", ("CASH",), "US_TAXABLE"),
    ("schwab", ("ROTH_IRA",), "IRA"),
    ("schwab", ("ROLLOVER_IRA",), "IRA"),
    ("ib", ("CASH",), None),  # an IB cash account may be a GIA or an ISA
    ("demo", ("General Investment Account",), "GIA"),
    ("ib", ("TRAPISA",), None),  # whole words only
])
def test_wrapper_from_broker_labels(broker, labels, wrapper):
    assert wrapper_from_broker(broker, *labels) == wrapper


def test_normalise_wrapper_accepts_what_people_type():
    assert normalise_wrapper(" isa ") == "ISA"
    assert normalise_wrapper("us taxable") == "US_TAXABLE"
    assert normalise_wrapper("Lifetime ISA") == "LISA"
    with pytest.raises(ValueError, match="unknown wrapper 'PEA'"):
        normalise_wrapper("PEA")


@pytest.mark.parametrize(("facts", "expected"), [
    (ClassFacts("etf", ("ETF",), "VANGUARD S&P 500 UCITS ETF"), ("Equity ETF", None)),
    (ClassFacts("etf", ("STK",), "iShares Physical Gold ETC"), ("Commodity ETF", "Gold")),
    (ClassFacts("etf", ("EXCHANGE_TRADED_FUND",), "Vanguard Total Bond Market ETF"), ("Bond ETF", None)),
    (ClassFacts("fund", ("MUTUAL_FUND",), "Schwab Value Advantage Money Fund"), ("Money Market Fund", None)),
    (ClassFacts("fund", ("MONEY_MARKET_FUND",), "SWVXX"), ("Money Market Fund", None)),
    (ClassFacts("equity", ("STK",), "APPLE INC"), ("Equity", None)),
    (ClassFacts("equity", ("EQUITY",), "APPLE INC"), ("Equity", None)),
    (ClassFacts("option", ("OPT",), "AAPL 20DEC26 200 C"), ("Option", None)),
    (ClassFacts("bond", ("FIXED_INCOME",), "UK TREASURY 4.25% 2032"), ("Bond", "Government")),
    (ClassFacts("cash", ("CASH",), "GBP cash"), ("Cash", None)),
    (ClassFacts(None, (), None), ("Other", None)),
])
def test_default_class(facts, expected):
    assert default_class(facts) == expected


def test_clean_class():
    assert clean_class("  Equity   ETF ") == "Equity ETF"
    assert clean_class("   ") is None
    assert clean_class(None) is None
