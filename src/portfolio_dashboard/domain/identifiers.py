"""Security identifiers: ISIN (ISO 6166), CUSIP and FIGI, validated by their check digits. Pure functions.

* ISIN: 2-letter country, 9-character national number, 1 check digit. The check digit is the Luhn
  "modulus 10 double-add-double" over the digit string obtained by replacing every letter with its value
  (A=10 ... Z=35, so "US" becomes "3028"), doubling from the rightmost digit of the body.
* CUSIP: 8 characters plus a check digit. Each *character* (digit, A=10 ... Z=35, ``*``=36, ``@``=37,
  ``#``=38) gets a value; every second character (2nd, 4th, ...) is doubled; the digits of the results are
  summed; the check is ``(10 - sum % 10) % 10``.
* FIGI: ``BBG`` style 12 characters, consonants and digits; the check digit is computed like CUSIP's (per
  character, every second character doubled) over the first 11 — the FIGI standard, section 6.1.2.

A US or Canadian ISIN is the country code, the 9-character CUSIP and a new check digit, which is how we
derive an ISIN for a broker that reports only a CUSIP (Schwab). The country cannot be read off a CUSIP: a
Canadian issuer's shares listed in New York have a CUSIP starting with a digit too (Shopify 82509L107,
ISIN CA82509L1076), so callers that do not know the country try both (``cusip_isin_candidates``).
"""

from __future__ import annotations

import re
from functools import lru_cache

_ISIN_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
_CUSIP_RE = re.compile(r"^[A-Z0-9*@#]{8}[0-9]$")
_FIGI_RE = re.compile(r"^[B-DF-HJ-NP-TV-Z]{2}G[B-DF-HJ-NP-TV-Z0-9]{8}[0-9]$")
# Prefixes the FIGI standard excludes so a FIGI can never be mistaken for an ISIN.
_FIGI_EXCLUDED_PREFIXES = frozenset({"BS", "BM", "GG", "GB", "GH", "KY", "VG"})
CUSIP_COUNTRIES = ("US", "CA")  # countries whose ISIN embeds the CUSIP


def _char_value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    return {"*": 36, "@": 37, "#": 38}[ch]


def _double_add_double_per_char(body: str) -> int:
    """The CUSIP/FIGI check: double every second character's value (2nd, 4th, ...), sum the digits."""
    total = 0
    for i, ch in enumerate(body):
        v = _char_value(ch)
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return (10 - total % 10) % 10


def clean(value: str | None) -> str | None:
    """Upper-case and strip an identifier; ``None`` for missing or blank (brokers send "" for "none")."""
    if value is None:
        return None
    out = value.strip().upper().replace(" ", "")
    return out or None


@lru_cache(maxsize=8192)
def isin_check_digit(body: str) -> int:
    """Check digit for the first 11 characters of an ISIN."""
    body = body.upper()
    if len(body) != 11 or not body.isalnum() or not body.isascii():
        raise ValueError(f"an ISIN body is 11 letters or digits, not {body!r}")
    digits = "".join(str(_char_value(ch)) for ch in body)
    total = 0
    # Luhn: double every second digit starting from the rightmost digit of the body.
    for i, d in enumerate(reversed(digits)):
        v = int(d)
        if i % 2 == 0:
            v *= 2
        total += v // 10 + v % 10
    return (10 - total % 10) % 10


def is_valid_isin(value: str | None) -> bool:
    value = clean(value)
    if value is None or not _ISIN_RE.match(value):
        return False
    return isin_check_digit(value[:11]) == int(value[11])


@lru_cache(maxsize=8192)
def cusip_check_digit(body: str) -> int:
    """Check digit for the first 8 characters of a CUSIP."""
    body = body.upper()
    if len(body) != 8 or not all(ch.isascii() and (ch.isalnum() or ch in "*@#") for ch in body):
        raise ValueError(f"a CUSIP body is 8 letters, digits or *@#, not {body!r}")
    return _double_add_double_per_char(body)


def is_valid_cusip(value: str | None) -> bool:
    value = clean(value)
    if value is None or not _CUSIP_RE.match(value):
        return False
    return cusip_check_digit(value[:8]) == int(value[8])


def is_domestic_cusip(value: str | None) -> bool:
    """A valid US/Canadian CUSIP: a CINS (foreign issuer, first character a letter) has an ISIN of its own
    country that does not embed the CUSIP, so no ISIN can be derived from it."""
    value = clean(value)
    return value is not None and is_valid_cusip(value) and value[0].isdigit()


def cusip_to_isin(cusip: str, country: str = "US") -> str:
    """The ISIN of a US or Canadian security from its CUSIP, e.g. ``037833100`` -> ``US0378331005``."""
    country = country.upper()
    if country not in CUSIP_COUNTRIES:
        raise ValueError(f"only US and CA ISINs embed a CUSIP, not {country!r}")
    value = clean(cusip)
    if value is None or not is_valid_cusip(value):
        raise ValueError(f"not a valid CUSIP: {cusip!r}")
    if not value[0].isdigit():
        raise ValueError(f"{value} is a CINS (foreign issuer): its ISIN does not embed it")
    body = country + value
    return body + str(isin_check_digit(body))


def cusip_isin_candidates(cusip: str | None) -> tuple[str, ...]:
    """Every ISIN a domestic CUSIP may have (US and CA); empty for anything else."""
    if not is_domestic_cusip(cusip):
        return ()
    assert cusip is not None
    return tuple(cusip_to_isin(cusip, c) for c in CUSIP_COUNTRIES)


def isin_to_cusip(isin: str | None) -> str | None:
    """The CUSIP embedded in a valid US/CA ISIN, else ``None``."""
    value = clean(isin)
    if value is None or not is_valid_isin(value) or value[:2] not in CUSIP_COUNTRIES:
        return None
    cusip = value[2:11]
    return cusip if is_valid_cusip(cusip) else None


def figi_check_digit(body: str) -> int:
    """Check digit for the first 11 characters of a FIGI."""
    body = body.upper()
    if len(body) != 11 or not body.isalnum() or not body.isascii():
        raise ValueError(f"a FIGI body is 11 letters or digits, not {body!r}")
    return _double_add_double_per_char(body)


def is_valid_figi(value: str | None) -> bool:
    value = clean(value)
    if value is None or not _FIGI_RE.match(value) or value[:2] in _FIGI_EXCLUDED_PREFIXES:
        return False
    return figi_check_digit(value[:11]) == int(value[11])


def valid_isin(value: str | None) -> str | None:
    """The cleaned ISIN when valid, else ``None`` (an invalid identifier is no evidence)."""
    value = clean(value)
    return value if is_valid_isin(value) else None


def valid_cusip(value: str | None) -> str | None:
    value = clean(value)
    return value if is_valid_cusip(value) else None


def valid_figi(value: str | None) -> str | None:
    value = clean(value)
    return value if is_valid_figi(value) else None
