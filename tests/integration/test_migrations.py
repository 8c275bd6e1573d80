"""Migrations: `portfolio-dashboard migrate` creates the schema and is then a no-op; `downgrade base` followed
by `upgrade head` gives the identical schema, from code and from the `alembic` command line."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.engine import make_engine
from tests.conftest import _ENV_PREFIXES
from tests.integration import rows

REPO = Path(__file__).resolve().parents[2]
HEAD = migrate.head_revision()


def fingerprint(conn: Connection) -> dict[str, list[tuple[str, ...]]]:
    """Everything a migration defines: columns, constraints, indexes and view definitions."""
    queries = {
        "columns": """SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
                      FROM information_schema.columns WHERE table_schema = 'public'""",
        "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                          FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "views": """SELECT viewname, pg_get_viewdef(viewname::regclass, true)
                    FROM pg_views WHERE schemaname = 'public'""",
        "functions": """SELECT oid::regprocedure::text, pg_get_functiondef(oid)
                        FROM pg_proc WHERE pronamespace = 'public'::regnamespace""",
        "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
                       FROM pg_trigger WHERE NOT tgisinternal""",
    }
    return {k: sorted(tuple(str(v) for v in r) for r in conn.execute(text(q))) for k, q in queries.items()}


def user_objects(conn: Connection) -> list[str]:
    """Tables, views, indexes and functions a migration left behind (Alembic's own table aside)."""
    return sorted(r[0] for r in conn.execute(text(
        """SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'i')
           UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"""
    )) if not r[0].startswith("alembic_version"))


@pytest.fixture
def empty_engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    yield engine
    engine.dispose()


def clean_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_ENV_PREFIXES)}
    env["DATABASE_URL"] = database_url
    env["PORTFOLIO_DATA_DIR"] = str(tmp_path / "data")
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_migrate_command_creates_the_schema_and_then_does_nothing(
    empty_db_url: str, empty_engine: Engine, tmp_path: Path
) -> None:
    env = clean_env(empty_db_url, tmp_path)
    cli = [sys.executable, "-m", "portfolio_dashboard", "migrate"]
    assert f"schema base -> {HEAD}" in run(cli, env, tmp_path)
    with empty_engine.connect() as conn:
        created = fingerprint(conn)
    assert f"schema already at {HEAD}; nothing to do" in run(cli, env, tmp_path)
    with empty_engine.connect() as conn:
        assert fingerprint(conn) == created
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    assert {"snapshots", "positions", "daily_portfolio_value"} <= {c[0] for c in created["columns"]}


def test_downgrade_base_then_upgrade_head_from_code(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        at_head = fingerprint(conn)
    migrate.downgrade(empty_engine, "base")
    assert migrate.current_revision(empty_engine) is None
    with empty_engine.connect() as conn:
        assert user_objects(conn) == []
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == HEAD
    with empty_engine.connect() as conn:
        assert fingerprint(conn) == at_head


def test_every_downgrade_restores_the_previous_revision_exactly(empty_engine: Engine) -> None:
    """Step by step: upgrading to N+1 and back to N leaves exactly N's schema."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [s.revision for s in reversed(list(script.walk_revisions()))]
    assert revisions[0] == "0001"
    assert revisions[-1] == HEAD
    for previous, following in itertools.pairwise(revisions):
        migrate.upgrade(empty_engine, previous)
        with empty_engine.connect() as conn:
            before = fingerprint(conn)
        migrate.upgrade(empty_engine, following)
        migrate.downgrade(empty_engine, previous)
        with empty_engine.connect() as conn:
            assert fingerprint(conn) == before, f"downgrade {following} -> {previous}"


def test_alembic_command_line(empty_db_url: str, empty_engine: Engine, tmp_path: Path) -> None:
    """`alembic -c alembic.ini ...` with DATABASE_URL set (in the postgres:// form of an existing .env)."""
    env = clean_env(empty_db_url.replace("postgresql+psycopg://", "postgres://"), tmp_path)
    alembic = [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini")]
    run([*alembic, "upgrade", "head"], env, tmp_path)
    assert migrate.current_revision(empty_engine) == HEAD
    with empty_engine.connect() as conn:
        at_head = fingerprint(conn)
    run([*alembic, "downgrade", "base"], env, tmp_path)
    with empty_engine.connect() as conn:
        assert user_objects(conn) == []
    run([*alembic, "upgrade", "head"], env, tmp_path)
    with empty_engine.connect() as conn:
        assert fingerprint(conn) == at_head


def test_upgrading_a_database_with_history_fills_the_daily_cache(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0001")
    with empty_engine.begin() as conn:
        run = rows.run(conn)
        rows.account(conn, "ib", "U1")
        for day in (1, 2, 5):
            rows.snapshot(conn, run, "ib", "U1", datetime(2026, 6, day, 23, 30, tzinfo=UTC), str(100 + day))
        before = conn.execute(text("SELECT * FROM daily_account_value ORDER BY day")).all()
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT daily_value_cache_usable()")).scalar() is True
        assert conn.execute(text("SELECT * FROM daily_account_value ORDER BY day")).all() == before
        assert len(before) == 5
    migrate.downgrade(empty_engine, "0001")
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT * FROM daily_account_value ORDER BY day")).all() == before
