"""Where a benchmark's database comes from: ``DATABASE_URL`` if set, else an embedded server of its own."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory

from portfolio_dashboard.config import load_settings, mask_url_password
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.embedded import start_embedded, stop_embedded
from portfolio_dashboard.storage.engine import make_engine

BENCH_DATABASE = "portfolio_bench"


@contextlib.contextmanager
def bench_database(
    data_dir: Path | None, *, timezone: str = "Europe/London", revision: str = "head"
) -> Iterator[str]:
    """Yield a migrated SQLAlchemy URL.

    ``DATABASE_URL`` wins (the benchmark then writes into that server's database: point it at a scratch
    database). Otherwise an embedded server runs in ``data_dir`` (kept afterwards, so a generated history can
    be reused) or in a temporary directory (deleted afterwards).
    """
    configured = load_settings().database_url  # the settings read the environment, normalise the scheme
    if configured is not None:
        url = configured.get_secret_value()
        _migrate(url, timezone, revision)
        print(f"database: {mask_url_password(url)} (from DATABASE_URL)")
        yield url
        return
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pd-bench-")))
            cleanup = "delete"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            cleanup = "stop"
        pgdata = data_dir / "pgdata"
        url = start_embedded(pgdata, database=BENCH_DATABASE, cleanup_mode=cleanup)
        stack.callback(stop_embedded, pgdata)
        _migrate(url, timezone, revision)
        print(f"database: embedded PostgreSQL in {data_dir}")
        yield url


def _migrate(url: str, timezone: str, revision: str) -> None:
    """Bring the schema to ``revision`` (up or down: ``--revision 0001`` measures the views before 0004)."""
    engine = make_engine(url, timezone=timezone)
    try:
        current = migrate.current_revision(engine)
        script = ScriptDirectory.from_config(migrate.alembic_config())
        target = script.get_current_head() if revision == "head" else revision
        ancestors = {s.revision for s in script.iterate_revisions(current, "base")} if current else set()
        if current is not None and target in ancestors and target != current:
            migrate.downgrade(engine, target)
        else:
            migrate.upgrade(engine, target or "head")
            if target == script.get_current_head():
                migrate.track_timezone(engine, timezone)
        print(f"schema revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as psycopg wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPU(s), {cpu}, {system}, Python {platform.python_version()}"


def today() -> str:
    return datetime.now(UTC).date().isoformat()
