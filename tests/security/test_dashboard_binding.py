"""The dashboard listens on 127.0.0.1 unless told otherwise: nothing on the network (the tailnet included)
sees the portfolio by default."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from portfolio_dashboard.cli import root as cli
from portfolio_dashboard.cli import supervise


class FakeStreamlit:
    """Stands in for the Streamlit process ``serve`` starts: records its command line."""

    calls: ClassVar[list[list[str]]] = []

    def __init__(self, cmd: list[str], **kwargs: Any) -> None:
        FakeStreamlit.calls.append(cmd)

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def poll(self) -> int:
        return 0


def _bound_address(monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    FakeStreamlit.calls.clear()
    monkeypatch.setattr(supervise.subprocess, "Popen", FakeStreamlit)  # serve runs its child there
    result = CliRunner().invoke(cli.app, ["serve", *args])
    assert result.exit_code == 0, result.output
    (cmd,) = FakeStreamlit.calls
    return cmd[cmd.index("--server.address") + 1]


def test_the_dashboard_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.config import load_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    try:
        get_app(load_settings())  # the CLI's process-wide app, from the environment
        assert _bound_address(monkeypatch) == "127.0.0.1"
        get_app(load_settings(dashboard_host="100.101.102.103"))  # a deliberate choice (e.g. a Tailscale IP)
        assert _bound_address(monkeypatch) == "100.101.102.103"
        assert _bound_address(monkeypatch, "--host", "127.0.0.1") == "127.0.0.1"
    finally:
        get_app().dispose()


def test_the_bare_command_takes_serves_options(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    # `portfolio-dashboard --port 8611` serves, like `portfolio-dashboard serve --port 8611`
    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.config import load_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    try:
        get_app(load_settings())
        FakeStreamlit.calls.clear()
        monkeypatch.setattr(supervise.subprocess, "Popen", FakeStreamlit)
        result = CliRunner().invoke(cli.app, ["--port", "8611", "--host", "127.0.0.1"])
        assert result.exit_code == 0, result.output
        (cmd,) = FakeStreamlit.calls
        assert cmd[cmd.index("--server.port") + 1] == "8611"
        assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
        assert "http://127.0.0.1:8611" in result.stdout
    finally:
        get_app().dispose()
