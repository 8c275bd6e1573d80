"""Applying migrations from code (``portfolio-dashboard migrate``, and before ``serve`` and ``capture``).

Alembic is imported only when a migration has to run: every command checks the schema first, and a schema
already at head (the usual case) is recognised by one query against ``alembic_version``, compared with the
head read from the revision files' own ``revision`` / ``down_revision`` lines.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|None)', re.MULTILINE)


@cache
def head_from_files() -> str:
    """The head revision read from the version files as text (no Alembic): the one revision no other revises."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _REVISION_LINE.finditer(path.read_text()))
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            revised.add(found["down_revision"])
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def is_current(engine: Engine) -> bool:
    """True when the schema is at head (checked with one query; False when there is no schema yet)."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
            return False
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_from_files()


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@cache
def head_revision() -> str:
    """The Alembic head: recorded as ``snapshot_runs.schema_version``."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when already there. Safe to run from several processes."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

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
