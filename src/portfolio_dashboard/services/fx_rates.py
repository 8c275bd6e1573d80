"""Manual FX rates (for offline use) and the list of stored rates: the use cases behind ``portfolio-dashboard fx``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.manual_fx import ManualRateError, manual_rates, parse_rate_key
from portfolio_dashboard.domain import FxRate
from portfolio_dashboard.errors import NotFoundError
from portfolio_dashboard.storage.manual_fx import Removed, delete_manual_rates, rates_around
from portfolio_dashboard.storage.reads.fx import StoredRate, stored_rates
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

__all__ = ["ManualRateError", "delete_manual_rate", "list_stored_rates", "store_manual_rates"]

# A typed rate further than this from the other providers' rates around its date is probably a typo (an
# inverted pair, a slipped digit): stored as asked, with a warning. Daily moves of a major pair stay well
# inside 5 % (GBP's worst day since 1971, 2016-06-24, was about 8 %, and such days are what a user would
# check anyway).
SUSPICIOUS_DEVIATION = Decimal("0.05")
AROUND_DAYS = 7


@dataclass(frozen=True, slots=True)
class StoredManual:
    rates: list[FxRate]
    stored: int  # distinct rows
    warnings: list[str]


def store_manual_rates(app: App, texts: list[str]) -> StoredManual:
    """Parse rates like ``USD/GBP=0.7912[@date]`` and store them (provider ``manual``); raises ``ManualRateError``
    for a malformed one before anything is stored. Warns about a rate more than 5 % away from every other
    provider's rate within a week of its date."""
    parsed = manual_rates(texts)
    app.migrate()
    warnings: list[str] = []
    with UnitOfWork(app.engine) as uow:
        for rate in parsed:
            around = rates_around(uow.connection, rate.source_ccy, rate.target_ccy, rate.asof_ts, AROUND_DAYS)
            warning = deviation_warning(rate, [r for _, r, _ in around])
            if warning:
                warnings.append(warning)
        ids = uow.repo.upsert_fx_rates(parsed)
        uow.commit()
    return StoredManual(parsed, len(ids), warnings)


def deviation_warning(rate: FxRate, around: list[Decimal]) -> str | None:
    """A warning when ``rate`` is more than 5 % from the nearest of ``around`` (None when it is close to one
    of them, or there is nothing to compare with)."""
    if not around:
        return None
    nearest = min(around, key=lambda r: abs(rate.rate - r))
    off = abs(rate.rate - nearest) / nearest
    if off <= SUSPICIOUS_DEVIATION:
        return None
    low, high = min(around), max(around)
    span = f"{low:.6g}" if low == high else f"{low:.6g} to {high:.6g}"
    return (f"{rate.source_ccy}/{rate.target_ccy}={rate.rate} on {rate.asof_ts:%Y-%m-%d} is {off:.0%} away from the "
            f"stored rates within {AROUND_DAYS} days ({span}); check it (an inverted pair would be "
            f"{(1 / rate.rate):.6g}) — `fx delete {rate.source_ccy}/{rate.target_ccy}@{rate.asof_ts:%Y-%m-%d}` "
            "removes it")


def delete_manual_rate(app: App, spec: str) -> tuple[str, Removed]:
    """Delete the manual rate(s) ``PAIR@DATE`` names (``USD/GBP@2026-11-20``); ``NotFoundError`` when there is
    none. Returns the pair as written back and what was removed."""
    src, tgt, day = parse_rate_key(spec)
    app.migrate()
    with UnitOfWork(app.engine) as uow:
        removed = delete_manual_rates(uow.connection, src, tgt, day)
        if not removed.rates:
            raise NotFoundError(f"no manual {src}/{tgt} rate on {day:%Y-%m-%d}",
                                hint="`portfolio-dashboard fx list --pair " f"{src}/{tgt}` shows the stored ones")
        uow.commit()
    return f"{src}/{tgt}@{day:%Y-%m-%d}", removed


def list_stored_rates(app: App, pair: str | None, limit: int) -> list[StoredRate]:
    a, _, b = (pair or "").upper().replace("-", "/").partition("/")
    app.migrate()
    with app.engine.connect() as conn:
        return stored_rates(conn, a, b, limit)
