"""`portfolio-dashboard import flex FILE.xml …`: statements downloaded from the broker, stored like fetched ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(help="Import statements downloaded from a broker (history before the first capture).",
                         no_args_is_help=True)


@import_app.command("flex")
def import_flex_cmd(
    files: Annotated[list[Path], typer.Argument(help="Activity Flex Query statements (XML) from IBKR's Client "
                                                     "Portal: Performance & Reports > Flex Queries.")],
) -> None:
    """Store Flex statements of any past period exactly as a fetched statement (raw kept; idempotent)."""
    from portfolio_dashboard.cli.common import fail, finish, get_app
    from portfolio_dashboard.errors import PortfolioError
    from portfolio_dashboard.services.reporting import run_summary
    from portfolio_dashboard.services.statement_import import import_flex

    try:
        result = import_flex(get_app(), files)
    except PortfolioError as exc:
        fail(exc.user_message())
    for name in result.already_stored:
        typer.echo(f"{name}: already imported (the same bytes are stored); nothing new")
    if result.run is not None:
        typer.echo(run_summary(result.run))
    finish(result.outcome)
