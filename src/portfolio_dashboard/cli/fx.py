"""`portfolio-dashboard fx`: manual FX rates for offline use, and what rates are stored."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import text

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.brokers.manual_fx import ManualRateError, manual_rates
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

fx_app = typer.Typer(help="FX rates: add manual rates for offline use, list stored rates.", no_args_is_help=True)


@fx_app.command("set")
def fx_set(
    rates: Annotated[list[str], typer.Argument(help="Rates like USD/GBP=0.7912 or USD/GBP=0.7912@2026-11-20.")],
) -> None:
    """Store manual rates (provider `manual`); captures use them when no broker rate is nearer in time."""
    try:
        parsed = manual_rates(rates)
    except ManualRateError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    app = get_app()
    try:
        app.migrate()
        with UnitOfWork(app.engine) as uow:
            ids = uow.repo.upsert_fx_rates(parsed)
            uow.commit()
    except PortfolioError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    for rate in parsed:
        typer.echo(f"stored {rate.source_ccy}->{rate.target_ccy} {rate.rate} as of "
                   f"{rate.asof_ts:%Y-%m-%d %H:%M %Z} (manual)")
    typer.echo(f"{len(ids)} manual rate(s) stored")


@fx_app.command("list")
def fx_list(
    pair: Annotated[str | None, typer.Option(help="Only this pair, e.g. USD/GBP (either direction).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest rates.")] = 20,
) -> None:
    """The newest stored rates with their provider (ib, ib_flex, ecb, manual, demo …)."""
    app = get_app()
    a, _, b = (pair or "").upper().replace("-", "/").partition("/")
    try:
        app.migrate()
        with app.engine.connect() as conn:
            rows = conn.execute(text(
                """SELECT asof_ts, source_ccy, target_ccy, rate, provider FROM fx_rates
                   WHERE CAST(:a AS text) = '' OR (source_ccy = :a AND target_ccy = :b)
                      OR (source_ccy = :b AND target_ccy = :a)
                   ORDER BY asof_ts DESC LIMIT :n"""), {"a": a, "b": b, "n": limit}).all()
    except PortfolioError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    for r in rows:
        typer.echo(f"{r.asof_ts:%Y-%m-%d %H:%M %Z}  {r.source_ccy}->{r.target_ccy}  {r.rate}  {r.provider}")
    if not rows:
        typer.echo("no rates stored")
