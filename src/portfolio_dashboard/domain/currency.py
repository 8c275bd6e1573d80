"""Currency codes: ISO 4217 validation and minor-unit normalisation.

Brokers quote LSE instruments in pence (GBX, GBp) and a few other markets in minor units. The canonical
model only holds major ISO currencies, so a minor-unit amount is divided by its factor on the way in.
"""

from decimal import Decimal

# Minor-unit codes brokers use, mapped to (major currency, units per major unit).
MINOR_UNITS: dict[str, tuple[str, Decimal]] = {
    "GBX": ("GBP", Decimal(100)),
    "GBP_PENCE": ("GBP", Decimal(100)),
    "ZAC": ("ZAR", Decimal(100)),
    "ILA": ("ILS", Decimal(100)),
}

# Active ISO 4217 codes (plus CNH, the offshore yuan that IBKR and others report). Kept as data rather than
# a dependency: the list changes about once a decade.
ISO_CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY CNH COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD
    XOF XPF YER ZAR ZMW ZWL
    """.split()
)


class UnknownCurrencyError(ValueError):
    """A currency code that is neither ISO 4217 nor a known minor unit."""


def normalise_currency(code: str) -> tuple[str, Decimal]:
    """Return ``(major ISO code, divisor)`` for a broker's currency code.

    ``GBp``/``GBX`` -> ``("GBP", 100)``; ``usd`` -> ``("USD", 1)``. Case matters only for ``GBp`` (pence),
    which brokers distinguish from ``GBP`` (pounds) by case alone.
    """
    raw = code.strip()
    if raw == "GBp":
        return "GBP", Decimal(100)
    upper = raw.upper()
    if upper in MINOR_UNITS:
        return MINOR_UNITS[upper]
    if upper in ISO_CURRENCIES:
        return upper, Decimal(1)
    raise UnknownCurrencyError(f"unknown currency code {code!r}")


def is_iso_currency(code: str) -> bool:
    return code in ISO_CURRENCIES
