"""DATABASE_URL to a server over TCP with password (SCRAM) authentication: the whole capture works; failures
name the host and the reason and never show the password; ``sslmode`` is honoured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.fakes.pgserver import TcpPostgres, tcp_postgres


@pytest.fixture(scope="module")
def server() -> Iterator[TcpPostgres]:
    with tcp_postgres() as pg:
        yield pg


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def env(cli_env: dict[str, str], server: TcpPostgres, tmp_path: Path) -> dict[str, str]:
    return {**cli_env, "DATABASE_URL": server.url(), "PORTFOLIO_DATA_DIR": str(tmp_path / "data")}


def test_capture_against_a_password_protected_server_over_tcp(server: TcpPostgres, env: dict[str, str]) -> None:
    with psycopg.connect(server.admin_uri) as conn:
        method = conn.execute("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1").fetchone()
        encryption = conn.execute("SHOW password_encryption").fetchone()
    assert method == ("scram-sha-256",)
    assert encryption == ("scram-sha-256",)
    migrated = run(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    captured = run(env, "capture", "--source", "demo", "--trigger", "scheduled")
    assert captured.returncode == 0, captured.stderr
    status = run(env, "status", "--no-health")
    assert status.returncode == 0, status.stdout
    url = run(env, "db", "url")
    assert f"127.0.0.1:{server.port}/{server.database}" in url.stdout
    assert server.password not in url.stdout
    with psycopg.connect(server.url().replace("postgres://", "postgresql://")) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM positions").fetchone() == (17,)
        assert conn.execute("SELECT trigger_type, status FROM snapshot_runs").fetchall() == [("scheduled", "success")]
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'snapshots'").fetchone()
    assert owner == (server.user,)


def test_sslmode_is_honoured_and_the_error_names_the_host_not_the_password(
    server: TcpPostgres, env: dict[str, str]
) -> None:
    required = {**env, "DATABASE_URL": server.url(sslmode="require")}
    result = run(required, "migrate")
    assert result.returncode == 1
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{server.port}/{server.database}" in result.stderr
    assert "SSL" in result.stderr  # this server has no TLS: libpq refuses, as sslmode=require says
    assert "Traceback" not in result.stderr
    assert server.password not in result.stdout + result.stderr


def test_a_wrong_password_says_so_without_showing_either_password(server: TcpPostgres, env: dict[str, str]) -> None:
    wrong = {**env, "DATABASE_URL": server.url(password="pw-not-the-right-one")}
    result = run(wrong, "status", "--no-health")
    assert result.returncode == 1
    assert "password authentication failed" in result.stdout
    assert f"127.0.0.1:{server.port}" in result.stdout
    for secret in (server.password, "pw-not-the-right-one"):
        assert secret not in result.stdout + result.stderr
    spooled = run(wrong, "capture", "--source", "demo")
    assert spooled.returncode == 1
    assert "spooled" in spooled.stderr
    assert "pw-not-the-right-one" not in spooled.stdout + spooled.stderr


def sql_statements(path: Path, **passwords: str) -> list[str]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    for role, password in passwords.items():
        text = text.replace(f"CHANGE-ME-{role}", password)
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def test_the_documented_least_privilege_roles_are_enough_and_no_more(server: TcpPostgres, env: dict[str, str]) -> None:
    """deploy/postgres/*.sql as docs/automation.md runs them: the owner migrates, the app role captures,
    reprocesses and reports, and cannot change the schema."""
    sql_dir = Path(__file__).resolve().parents[2] / "deploy" / "postgres"
    owner_pw, app_pw = "pw-owner-" + server.password[-8:], "pw-app-" + server.password[-8:]
    with psycopg.connect(server.admin_uri, autocommit=True) as conn:
        for stmt in sql_statements(sql_dir / "01-roles.sql", owner=owner_pw, app=app_pw):
            conn.execute(stmt)
    admin_portfolio = server.admin_uri.replace("/postgres?", "/portfolio?")
    with psycopg.connect(admin_portfolio, autocommit=True) as conn:
        for stmt in sql_statements(sql_dir / "02-grants.sql"):
            conn.execute(stmt)
    base = f"127.0.0.1:{server.port}/portfolio?sslmode=disable"
    owner = {**env, "DATABASE_URL": f"postgresql://portfolio_owner:{owner_pw}@{base}"}
    app = {**env, "DATABASE_URL": f"postgresql://portfolio_app:{app_pw}@{base}"}
    assert run(owner, "migrate").returncode == 0
    for args in (("capture", "--source", "demo"), ("reprocess", "--all"), ("status", "--no-health"),
                 ("spool", "replay")):
        result = run(app, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    with psycopg.connect(f"postgresql://portfolio_app:{app_pw}@{base}") as conn:
        assert conn.execute("SELECT count(*) FROM positions").fetchone() == (17,)
        for ddl in ("CREATE TABLE intruder (a int)", "DROP TABLE positions", "ALTER TABLE snapshots ADD x int"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
            conn.rollback()
