"""Applying migrations from code (``portfolio-dashboard migrate``, and before ``serve`` and ``capture``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@cache
def head_revision() -> str:
    """The Alembic head: recorded as ``snapshot_runs.schema_version``."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when already there. Safe to run from several processes."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def track_timezone(engine: Engine, zone: str) -> None:
    """Keep the daily-value cache for ``zone`` (the app's PORTFOLIO_TIMEZONE) from now on; cheap when kept.

    The daily views are exact without it (they compute in any zone); with it, reading them costs a small
    fraction (revision 0004: ``daily_value_cache_track``).
    """
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regprocedure('daily_value_cache_track(text)') IS NULL")).scalar():
            return  # a schema before 0004
        if conn.execute(text("SELECT 1 FROM daily_value_cache_zones WHERE zone = :z"), {"z": zone}).first():
            return
        conn.execute(text("SELECT daily_value_cache_track(:z)"), {"z": zone})
