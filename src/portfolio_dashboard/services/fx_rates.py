"""Manual FX rates (for offline use) and the list of stored rates: the use cases behind ``portfolio-dashboard fx``."""

from __future__ import annotations

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.manual_fx import ManualRateError, manual_rates
from portfolio_dashboard.domain import FxRate
from portfolio_dashboard.storage.reads.fx import StoredRate, stored_rates
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

__all__ = ["ManualRateError", "list_stored_rates", "store_manual_rates"]


def store_manual_rates(app: App, texts: list[str]) -> tuple[list[FxRate], int]:
    """Parse rates like ``USD/GBP=0.7912[@date]`` and store them (provider ``manual``); raises ``ManualRateError``
    for a malformed one before anything is stored. Returns the rates and how many distinct rows they are."""
    parsed = manual_rates(texts)
    app.migrate()
    with UnitOfWork(app.engine) as uow:
        ids = uow.repo.upsert_fx_rates(parsed)
        uow.commit()
    return parsed, len(ids)


def list_stored_rates(app: App, pair: str | None, limit: int) -> list[StoredRate]:
    a, _, b = (pair or "").upper().replace("-", "/").partition("/")
    app.migrate()
    with app.engine.connect() as conn:
        return stored_rates(conn, a, b, limit)
