"""What every command shares: the one failure helper (red, on stderr, exit status 1) and the process's App,
loaded on first use so that ``--help`` never pays for the settings, SQLAlchemy or the brokers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from portfolio_dashboard.bootstrap import App


def command_group(help_text: str) -> typer.Typer:
    """A group of commands (``portfolio-dashboard <group> ...``) that prints its help when called bare."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def fail(error: BaseException | str, code: int = 1) -> NoReturn:
    """Print ``error: <what went wrong>`` and end the command with ``code`` (2 for a configuration mistake:
    fix the setting and rerun)."""
    from portfolio_dashboard.errors import ConfigError

    typer.secho(f"error: {error}", fg="red", err=True)
    raise typer.Exit(2 if isinstance(error, ConfigError) else code)


@dataclass(slots=True)
class LoggingChoice:
    """The ``--log-format`` of this invocation; logging is set up with the App, on first use."""

    log_format: str = ""
    done: bool = False


LOGGING = LoggingChoice()


def use_log_format(log_format: str) -> None:
    """Record the global ``--log-format`` (called by the app's callback, before any command runs)."""
    LOGGING.log_format, LOGGING.done = log_format, False


def get_app() -> App:
    """The process-wide App (settings, engine, sources), built on first use; logging is set up then too,
    with ``--log-format`` or the settings' format."""
    from portfolio_dashboard import bootstrap
    from portfolio_dashboard.errors import ConfigError
    from portfolio_dashboard.logs import setup_logging

    try:
        app = bootstrap.get_app()  # validates every setting before the command starts anything
    except ConfigError as exc:
        fail(exc)
    if not LOGGING.done:
        setup_logging(LOGGING.log_format or app.settings.log_format)
        LOGGING.done = True
    return app
