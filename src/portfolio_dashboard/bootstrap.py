"""The one place that wires concrete parts: settings -> engine, sources, FX reference provider.

Sources are imported lazily by name so that a user without, say, Schwab configured never imports it, and so
each source module stays independent of the others.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from portfolio_dashboard.brokers.base import BrokerSource, FetchContext, ReferenceRates
from portfolio_dashboard.config import Settings, load_settings
from portfolio_dashboard.domain import FxRate, RawResponse
from portfolio_dashboard.errors import ConfigError
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.engine import make_engine, resolve_database_url, unavailable_error

SOURCE_CLASSES: dict[str, str] = {
    "demo": "portfolio_dashboard.brokers.demo:DemoSource",
    "ib_gateway": "portfolio_dashboard.brokers.ib_gateway:IbGatewaySource",
    "ib_flex": "portfolio_dashboard.brokers.ib_flex:IbFlexSource",
    "schwab": "portfolio_dashboard.brokers.schwab:SchwabSource",
}
ECB_CLASS = "portfolio_dashboard.brokers.ecb:EcbRates"


def _load_class(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def build_source(name: str, settings: Settings) -> BrokerSource:
    if name not in SOURCE_CLASSES:
        raise ConfigError(f"unknown source {name!r}; choose from {', '.join(SOURCE_CLASSES)}")
    try:
        cls = _load_class(SOURCE_CLASSES[name])
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"source {name!r} is not available in this version ({exc})") from exc
    source: BrokerSource = cls.from_settings(settings)
    return source


class SourceReference:
    """Adapts a fetch/parse source that yields only rates (the ECB feed) to the FX chain's provider."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.name: str = source.name

    def load(self, record: Callable[[RawResponse], None]) -> Sequence[FxRate]:
        raws: list[RawResponse] = []

        def both(raw: RawResponse) -> None:
            raws.append(raw)
            record(raw)

        self.source.fetch(both, FetchContext())
        rates: Sequence[FxRate] = self.source.parse(raws).fx_rates
        return rates


def build_reference(settings: Settings) -> ReferenceRates | None:
    try:
        cls = _load_class(ECB_CLASS)
    except (ImportError, AttributeError):
        return None
    return SourceReference(cls.from_settings(settings))


@dataclass
class App:
    """Concrete parts for one process. ``engine`` starts the embedded server on first use."""

    settings: Settings
    source_factory: Callable[[str, Settings], BrokerSource] = build_source
    reference_factory: Callable[[Settings], ReferenceRates | None] = build_reference
    _engine: Engine | None = field(default=None, repr=False)
    _migrated: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                url = resolve_database_url(self.settings)
                self._engine = make_engine(url, timezone=self.settings.portfolio_timezone)
            return self._engine

    def migrate(self) -> None:
        """Apply migrations; ``DatabaseUnavailableError`` (host named, never the password) when unreachable."""
        engine = self.engine
        # Alembic keeps its context in module globals: one migration at a time per process.
        with _migrate_lock:
            if not self._migrated:
                try:
                    if not migrate.is_current(engine):  # the usual case costs one query, not Alembic
                        migrate.upgrade(engine)
                    migrate.track_timezone(engine, self.settings.portfolio_timezone)
                except OperationalError as exc:
                    raise unavailable_error(engine, exc) from None
                self._migrated = True

    def sources(self, names: Sequence[str] | None = None) -> dict[str, BrokerSource]:
        wanted = list(names) if names else self.settings.configured_sources
        return {n: self.source_factory(n, self.settings) for n in wanted}

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


_migrate_lock = threading.Lock()
_app: App | None = None
_app_lock = threading.Lock()


def get_app(settings: Settings | None = None) -> App:
    """The process-wide App (the UI and CLI share it); pass settings to replace it (tests)."""
    global _app
    with _app_lock:
        if settings is not None:
            if _app is not None:
                _app.dispose()
            _app = App(settings)
        elif _app is None:
            _app = App(load_settings())
        return _app
