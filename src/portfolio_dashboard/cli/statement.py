"""`portfolio-dashboard statement`: a statement for a UK tax year, a calendar year or any range, as a PDF or a
bundle of CSV files, assembled from the stored snapshots, flows, income and trades.

Heavy libraries (fpdf2, the read models) are imported inside the command so `--help` stays fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from portfolio_dashboard.cli.common import option_date
from portfolio_dashboard.errors import PortfolioError


def statement_cmd(
    tax_year: Annotated[str | None, typer.Option("--tax-year", help="A UK tax year, e.g. 2025-26.")] = None,
    year: Annotated[int | None, typer.Option("--year", help="A calendar year, e.g. 2025.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day of a range, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day of a range, YYYY-MM-DD.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="pdf, or csv (a bundle: a directory, or a .zip).")] = "pdf",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write it. Default: "
                                                "statement-<period>.pdf / a statement-<period> directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the headline figures as JSON.")] = False,
    show_account_ids: Annotated[bool, typer.Option(help="Print account numbers in full (masked by default).")]
    = False,
) -> None:
    """Holdings at the start and end (with the FX rates used), flows, income with withholding tax, the broker's
    realised gains, returns over the period and, for a tax year, UK capital gains; every figure carries the
    SHA-256 of its source response."""
    from portfolio_dashboard.domain.statement import period_for

    if fmt not in ("pdf", "csv"):
        raise typer.BadParameter("pdf or csv", param_hint="--format")
    try:
        period = period_for(tax_year=tax_year, year=year, start=option_date(start, "--from"),
                            end=option_date(end, "--to"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from portfolio_dashboard.cli.common import fail, get_app
    from portfolio_dashboard.services.statements.assemble import assemble_statement
    from portfolio_dashboard.services.statements.csv_bundle import write_csv_bundle
    from portfolio_dashboard.services.statements.pdf import render_pdf
    from portfolio_dashboard.services.statements.summary import statement_summary

    app = get_app()
    slug = period.label.lower().replace(" ", "-")
    target = output or Path.cwd() / (f"statement-{slug}.pdf" if fmt == "pdf" else f"statement-{slug}")
    try:
        app.migrate()
        with app.engine.connect() as conn:
            built = assemble_statement(conn, period, app.settings.timezone, generated_at=datetime.now(UTC),
                                       mask_account_ids=not show_account_ids)
    except PortfolioError as exc:
        fail(exc)
    if fmt == "pdf":
        render_pdf(built.statement, target)
    else:
        write_csv_bundle(built.statement, target)
    if as_json:
        typer.echo(json.dumps({**statement_summary(built.statement), "skipped": built.skipped,
                               "output": str(target)}, indent=2))
    else:
        typer.echo(f"{period.label}: written to {target}")
        for section, count in sorted(built.skipped.items()):
            typer.secho(f"note: {count} {section.replace('_', ' ')} row(s) left out: no GBP value stored",
                        fg="yellow", err=True)


def register(app: typer.Typer) -> None:
    app.command("statement")(statement_cmd)
