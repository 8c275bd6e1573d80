"""Planted secrets never reach an output channel.

Distinctive values are planted for every secret the product handles — the Schwab app secret and its OAuth
tokens (issued by the fake), the Flex token, a DATABASE_URL password, tokens in ALERT_URLS, the IB gateway's
session id — and then
captures run down their success and failure paths (Flex echoing the token in an error, a revoked Schwab
login, a gateway that is not logged in, a database that cannot be reached). Then every channel is scanned:

* log records of every logger at DEBUG (tracebacks included), in the capture's process;
* stdout and stderr of the real CLI (capture, status, db url, migrate; text and JSON);
* every row of every table (``row_to_json``), raw payload bodies included;
* the messages of the errors raised, the run outcomes, ``repr`` of settings and sources, health details;
* the alert messages sent, and every file of the local spool (written while the database is away).

* the dashboard (Streamlit AppTest): the Connections page (each source's health, Flex echoing the token), and
  the Runs page with every run and every raw payload opened.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from portfolio_dashboard.bootstrap import build_source, get_app
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.monitoring import run_alerts_quietly
from tests.chaos.world import FLEX_TOKEN, World, closed_port_url
from tests.fakes.ib_gateway import SESSION_ID
from tests.fakes.schwab import CLIENT_ID, CLIENT_SECRET, seed_tokens

pytestmark = pytest.mark.slow
DB_PASSWORD = "planted-db-pw-Zq81x"
ALERT_TOKEN = "planted-alert-token-Kw27"
CLI = [sys.executable, "-m", "portfolio_dashboard"]


def alert_urls(*extra: str) -> str:
    """An apprise URL with a token to a loopback port nothing listens on (delivery fails, never leaves)."""
    dead = closed_port_url("http").split("://", 1)[1]
    return " ".join([f"json://hook:{ALERT_TOKEN}@{dead}/notify?token={ALERT_TOKEN}", *extra])


def with_password(db_url: str) -> str:
    """The test database's URL with a password (the server trusts its socket, so it is never checked)."""
    return db_url.replace("://postgres@", f"://postgres:{DB_PASSWORD}@", 1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "data", tls=False) as w:
        yield w


class Everything(logging.Handler):
    """Every log record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


def planted(world: World) -> dict[str, str]:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    found = {"schwab app secret": CLIENT_SECRET, "schwab basic auth": basic, "flex token": FLEX_TOKEN,
             "database password": DB_PASSWORD, "alert token": ALERT_TOKEN, "gateway session": SESSION_ID}
    for i, token in enumerate(world.schwab.issued):
        found[f"schwab token/code {i}"] = token
    return found


def leaks(secrets: dict[str, str], channels: dict[str, str]) -> list[str]:
    out = []
    for channel, content in channels.items():
        for name, secret in secrets.items():
            for form in {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}:
                if form and form in content:
                    out.append(f"{name} in {channel}")
    return out


def database_dump(db_url: str) -> str:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            return "\n".join(
                row for t in list(tables)
                for row in conn.execute(text(f'SELECT row_to_json(t)::text FROM "{t}" t')).scalars()
            )
    finally:
        engine.dispose()


def cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False)
    return f"$ {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def settings_for(world: World, db_url: str, data_dir: Path, **extra: object):  # type: ignore[no-untyped-def]
    env = {k.lower(): v for k, v in world.env().items()}
    return load_settings(**{**env, "database_url": with_password(db_url), "portfolio_data_dir": data_dir,
                            **extra, "_env_file": None})


def page_text(at: Any) -> str:
    """Everything an AppTest page rendered, as text."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "code", "text", "json", "exception"):
        parts += [str(getattr(el, "value", el)) for el in at.get(kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    parts += [str(o) for sb in at.selectbox for o in sb.options]
    parts += [str(getattr(b, "url", "")) for b in at.get("link_button")]
    return "\n".join(parts)


def dashboard_text() -> str:
    """The Connections page, and the Runs page with every run and each of its raw payloads opened."""
    import streamlit as st

    from tests.ui.conftest import run_page

    st.cache_data.clear()
    out = []
    connections = run_page("connections")
    assert not connections.exception
    out.append(page_text(connections))
    runs = run_page("runs")
    assert not runs.exception
    for i in range(len(runs.selectbox(key="run_choice").options)):
        runs.selectbox(key="run_choice").select_index(i).run()
        payloads = next(sb for sb in runs.selectbox if sb.key and sb.key.startswith("payload_"))
        for j in range(len(payloads.options)):
            runs.selectbox(key=payloads.key).select_index(j).run()
            assert not runs.exception
            out.append(page_text(runs))
    assert "FlexStatementResponse" in "\n".join(out)  # the payload viewer did show the bodies
    return "\n".join(out)


def spool_files(data_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (data_dir / "spool").rglob("*") if p.is_file())


def test_secrets_stay_out_of_logs_errors_and_the_database(world: World, db_url: str, tmp_path: Path,
                                                          all_logs: Everything) -> None:
    from tests.fakes import alert_target

    alert_target.reset()
    settings = settings_for(world, db_url, tmp_path / "data",
                            alert_urls=alert_urls(f"pdtest://alerts-{ALERT_TOKEN}"))
    app = get_app(settings)
    channels: dict[str, str] = {"settings repr": repr(settings) + str(settings.model_dump())}
    try:
        # 1. everything works (Schwab refreshes its access token first: the token call's body is a secret)
        seed_tokens(world.schwab, world.token_path, access_expires_in=-timedelta(minutes=1))
        ok = capture(TriggerContext(), app=app)
        assert str(ok.status) == "success", ok.error_summary
        # 2. everything fails: Flex echoes the token in its error, Schwab's login is revoked, the gateway is
        #    logged out
        world.next_capture()
        world.flex.echo_token = True
        world.flex.send_errors.append("1015")
        seed_tokens(world.schwab, world.token_path, access_expires_in=-timedelta(minutes=1))
        world.schwab.revoke_refresh_tokens()
        world.gateway.logged_in = False
        failed = capture(TriggerContext(), app=app)
        assert str(failed.status) == "fail"
        assert {o.error_category for o in failed.sources} == {"auth"}
        channels["run outcomes"] = json.dumps([ok.error_summary, failed.error_summary, ok.warnings],
                                              default=str) + repr(ok) + repr(failed)
        # the failures fire alerts: one delivered (the fake target), one refused (a closed port)
        run_alerts_quietly(app)
        sent = alert_target.received()
        assert sent, "the failed run should have fired an alert"
        channels["alert messages"] = "\n".join(f"{m.title}\n{m.body}" for m in sent)
        # 3. what a status page shows for each source, and how they describe themselves
        for name in ("ib_gateway", "schwab", "ib_flex"):
            source = build_source(name, settings)
            channels[f"{name} health and repr"] = repr(source) + repr(source.health())
        # 4. the dashboard's pages over all of it
        world.flex.send_errors.append("1015")  # the Connections page's Flex check gets the token echoed back
        channels["dashboard"] = dashboard_text()
    finally:
        app.dispose()
    # 5. a database that cannot be reached, with the password in its URL: everything goes to the spool
    unreachable = closed_port_url("postgresql").replace("://", f"://pd:{DB_PASSWORD}@") + "/portfolio"
    world.gateway.logged_in, world.flex.echo_token = True, False
    down = get_app(settings_for(world, db_url, tmp_path / "d2", database_url=unreachable))
    try:
        spooled = capture(TriggerContext(), app=down)
        assert str(spooled.status) == "fail" and "spooled" in (spooled.error_summary or "")
        channels["offline run"] = repr(spooled)
        channels["spool files"] = spool_files(tmp_path / "d2")
        assert "body_b64" in channels["spool files"]
    finally:
        down.dispose()
    channels["logs at DEBUG"] = "\n".join(all_logs.lines)
    channels["database rows"] = database_dump(db_url)
    assert "accountNumbers" in channels["database rows"] and "FlexStatementResponse" in channels["database rows"]
    assert len(all_logs.lines) > 100  # the DEBUG scan saw the libraries' chatter too
    assert leaks(planted(world), channels) == []


def test_secrets_stay_out_of_cli_output(world: World, cli_env: dict[str, str], db_url: str) -> None:
    env = {**cli_env, **world.env(), "DATABASE_URL": with_password(db_url), "ALERT_URLS": alert_urls()}
    seed_tokens(world.schwab, world.token_path, access_expires_in=-timedelta(minutes=1))
    outputs = [cli(env, "capture", "--json"), cli(env, "db", "url")]
    world.flex.echo_token = True
    world.flex.send_errors.append("1012")
    seed_tokens(world.schwab, world.token_path, access_expires_in=-timedelta(minutes=1))
    world.schwab.revoke_refresh_tokens()
    outputs += [cli(env, "--log-format", "json", "capture"), cli(env, "status", "--json")]
    down = {**env, "DATABASE_URL": closed_port_url("postgresql").replace("://", f"://pd:{DB_PASSWORD}@") + "/x"}
    outputs += [cli(down, "capture"), cli(down, "status"), cli(down, "spool", "list"), cli(env, "spool", "replay"),
                cli(env, "alerts", "test")]
    everything = "\n".join(outputs)
    assert "Flex error 1012" in everything and "auth schwab" in everything  # both failure paths were taken
    assert ":***@" in everything  # `db url` shows where, masked
    channels = {f"cli output {i}": out for i, out in enumerate(outputs)}
    channels["database rows"] = database_dump(db_url)
    channels["data directory"] = "\n".join(p.read_text(errors="replace")
                                           for p in Path(cli_env["PORTFOLIO_DATA_DIR"]).rglob("*")
                                           if p.is_file() and "token" not in p.name)  # the token file holds them
    assert leaks(planted(world), channels) == [], everything[-3000:]
    shown = cli(env, "db", "url", "--show-password")  # the one place it is printed: only when asked
    assert DB_PASSWORD in shown
