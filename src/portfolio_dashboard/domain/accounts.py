"""A broker account as the broker identifies it."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Account:
    broker: str  # "ib", "schwab", "demo"
    broker_account_id: str  # the broker's own account number (IB "U1234567"; Schwab account number)
    name: str
    base_currency: str  # ISO 4217 code of the currency the broker reports the account total in
    wrapper: str | None = None  # the tax wrapper as the broker states it (ISA, GIA, SIPP, ...); None: not stated
