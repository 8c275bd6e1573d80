"""A broker account as the broker identifies it, and the tax wrapper it sits in."""

from dataclasses import dataclass

# The tax wrappers a UK investor (with US accounts) reads a portfolio by; the same list as migration 0006's check.
WRAPPERS = ("ISA", "LISA", "JISA", "SIPP", "GIA", "US_TAXABLE", "IRA", "OTHER")
WRAPPER_LABELS = {
    "ISA": "ISA", "LISA": "Lifetime ISA", "JISA": "Junior ISA", "SIPP": "SIPP", "GIA": "GIA (taxable)",
    "US_TAXABLE": "US taxable", "IRA": "IRA", "OTHER": "Other",
}


@dataclass(frozen=True, slots=True)
class Account:
    broker: str  # "ib", "schwab", "demo"
    broker_account_id: str  # the broker's own account number (IB "U1234567"; Schwab account number)
    name: str
    base_currency: str  # ISO 4217 code of the currency the broker reports the account total in
    # The broker's own label for the account ("Individual ISA", "MARGIN", "IRA"), when it gives one
    account_type: str | None = None
    # The wrapper the broker's label implies (see ``wrapper_from_broker``); None when the label says nothing
    wrapper: str | None = None


def _words(*labels: str | None) -> str:
    return " " + " ".join((x or "").upper().replace("_", " ").replace("-", " ") for x in labels) + " "


def wrapper_from_broker(broker: str, *labels: str | None) -> str | None:
    """The wrapper a broker's own account labels state, or None when they do not say.

    ``labels`` are the broker's account type, customer type, alias or description, in any order. Only what a
    label states is taken: an IB account is "ISA" only when IB (or the user's alias there) says ISA; an IB
    account with no such word stays unset for the user to choose, since IB UK sells GIAs and ISAs alike.
    """
    text = _words(*labels)
    if " JUNIOR ISA " in text or " JISA " in text:
        return "JISA"
    if " LIFETIME ISA " in text or " LISA " in text:
        return "LISA"
    if " ISA " in text:
        return "ISA"
    if " SIPP " in text or " PERSONAL PENSION " in text:
        return "SIPP"
    if any(f" {w} " in text for w in ("IRA", "ROTH", "ROLLOVER", "SEP", "SIMPLE")):
        return "IRA"
    if broker == "schwab" and (" MARGIN " in text or " CASH " in text or " BROKERAGE " in text):
        return "US_TAXABLE"  # Schwab's plain brokerage account types; retirement ones are named IRA
    if " GIA " in text or " GENERAL INVESTMENT " in text:
        return "GIA"
    return None


def normalise_wrapper(value: str) -> str:
    """The stored wrapper code for what a user typed ("isa", "US taxable"); ValueError when unknown."""
    code = value.strip().upper().replace(" ", "_").replace("-", "_")
    aliases = {"LIFETIME_ISA": "LISA", "JUNIOR_ISA": "JISA", "TAXABLE": "GIA", "US": "US_TAXABLE"}
    code = aliases.get(code, code)
    if code not in WRAPPERS:
        raise ValueError(f"unknown wrapper {value!r}; one of {', '.join(WRAPPERS)}")
    return code
