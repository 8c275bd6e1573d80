"""`portfolio-dashboard export KIND`: any history as CSV or Parquet, with the source hash of every row.

Heavy libraries (pyarrow, the read models) are imported inside the command so `--help` stays fast.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from portfolio_dashboard.cli.common import option_date
from portfolio_dashboard.errors import PortfolioError

KINDS = ("daily-values", "positions", "trades", "flows", "income", "fx-rates")


def export_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    start: Annotated[str | None, typer.Option("--from", help="First day (inclusive), YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (inclusive), YYYY-MM-DD.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="A file, or a directory in which the file is named KIND.csv / KIND.parquet. "
                               "Default: the current directory.")] = None,
) -> None:
    """Write one kind of history (docs/exports.md lists every column)."""
    if kind not in KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", param_hint="KIND")
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("csv or parquet", param_hint="--format")
    first, last = option_date(start, "--from"), option_date(end, "--to")
    if first and last and last < first:
        raise typer.BadParameter("--to is before --from")
    from portfolio_dashboard.cli.common import fail, get_app
    from portfolio_dashboard.services.statements.export_history import export_history
    from portfolio_dashboard.services.statements.exports import ExportError

    app = get_app()
    began = datetime.now()
    try:
        app.migrate()
        with app.engine.connect() as conn:
            result = export_history(conn, kind, output or Path.cwd(), fmt="parquet" if fmt == "parquet" else "csv",
                                    start=first, end=last)
    except (PortfolioError, ExportError) as exc:
        fail(exc)
    took = (datetime.now() - began).total_seconds()
    typer.echo(f"{result.rows} {kind} row(s) written to {result.path} in {took:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
