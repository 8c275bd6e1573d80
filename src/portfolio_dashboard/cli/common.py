"""What every command shares: the exit-status table and the one failure helper (red, on stderr), and the
process's App, loaded on first use so that ``--help`` never pays for the settings, SQLAlchemy or the brokers.

Exit status, the same for every command (README and docs/automation.md print this table):

====  ==========================================================================================
0     success: everything asked for was done
2     partial or degraded: some of it was done (a source failed, files quarantined, a warning
      state in ``status``); the rest is recorded and a rerun or a look is worthwhile
1     failure: nothing useful was done (every source failed, the database unreachable, an
      unknown run id)
2     usage or configuration: a wrong option, argument or setting; fix it and rerun (nothing ran)
====  ==========================================================================================

Partial and usage share 2 on purpose (the issue's contract; click also exits 2 on a usage error): both
say "look at the message", while 1 says "it did not work". Commands end through ``finish`` (an outcome
word) or ``fail``/``usage_error``, never with a bare number; ``exit_with`` passes a child process's status
through (``serve``), and ``run`` is the handler around the whole app (a database that went away mid-command).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal, NoReturn

import typer

if TYPE_CHECKING:
    from portfolio_dashboard.bootstrap import App


def command_group(help_text: str) -> typer.Typer:
    """A group of commands (``portfolio-dashboard <group> ...``) that prints its help when called bare."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_PARTIAL = 2  # partial or degraded
EXIT_USAGE = 2  # usage or configuration

Outcome = Literal["success", "partial", "degraded", "fail", "usage"]

EXIT_CODES: dict[str, int] = {
    "success": EXIT_SUCCESS,
    "partial": EXIT_PARTIAL,
    "degraded": EXIT_PARTIAL,
    "fail": EXIT_FAILURE,
    "usage": EXIT_USAGE,
}


def exit_code(outcome: str) -> int:
    """The exit status of an outcome word (a run's status, a report's outcome); anything unknown is a failure."""
    return EXIT_CODES.get(outcome, EXIT_FAILURE)


def finish(outcome: str) -> NoReturn:
    """End the command with the exit status of ``outcome`` (see the table above)."""
    raise typer.Exit(exit_code(outcome))


def exit_with(status: int) -> NoReturn:
    """End the command with a child process's own exit status (``serve`` runs the dashboard as a child)."""
    raise typer.Exit(status)


def fail(error: BaseException | str | Sequence[str], outcome: Outcome = "fail") -> NoReturn:
    """Print ``error: <what went wrong>`` (a line each, given several) and end the command: exit 1, or 2 for a
    configuration mistake (a ``ConfigError``, or ``outcome="usage"``: fix the setting or option and rerun)."""
    from portfolio_dashboard.errors import ConfigError

    for line in [error] if isinstance(error, BaseException | str) else error:
        typer.secho(f"error: {line}", fg="red", err=True)
    finish("usage" if isinstance(error, ConfigError) else outcome)


def usage_error(message: str) -> NoReturn:
    """A wrong option or argument (one the parser could not catch): one line, exit 2."""
    fail(message, "usage")


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


def option_date(value: str | None, name: str) -> date | None:
    """An option's ``YYYY-MM-DD`` value (None when not given); a usage error naming the option otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be a date like 2025-04-05, not {value!r}") from None


def run(app: typer.Typer) -> None:
    """Run the command line: a command whose database went away says where and why, not a traceback."""
    try:
        app()
    except Exception as exc:
        # SQLAlchemy is only looked at when a command loaded it (--help never does)
        operational = sys.modules.get("sqlalchemy.exc")
        if operational is None or not isinstance(exc, operational.OperationalError):
            raise
        from portfolio_dashboard.services.database import unavailable

        # outside Typer's context here, so exit directly (typer.Exit would surface as a traceback)
        typer.secho(f"error: {unavailable(get_app(), exc)}", fg="red", err=True)
        raise SystemExit(EXIT_FAILURE) from None
