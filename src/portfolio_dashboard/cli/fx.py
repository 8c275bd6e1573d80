"""`portfolio-dashboard fx`: manual FX rates for offline use, and what rates are stored."""

from __future__ import annotations

from typing import Annotated

import typer

from portfolio_dashboard.cli.common import command_group, fail, get_app, usage_error
from portfolio_dashboard.errors import PortfolioError

fx_app = command_group("FX rates: add or delete manual rates for offline use, list stored rates.")


@fx_app.command("set")
def fx_set(
    rates: Annotated[list[str], typer.Argument(help="Rates like USD/GBP=0.7912 or USD/GBP=0.7912@2026-11-20.")],
) -> None:
    """Store manual rates (provider `manual`); captures use them when no broker rate is nearer in time."""
    from portfolio_dashboard.services.fx_rates import ManualRateError, store_manual_rates

    try:
        result = store_manual_rates(get_app(), rates)
    except ManualRateError as exc:
        usage_error(str(exc))
    except PortfolioError as exc:
        fail(exc)
    for rate in result.rates:
        typer.echo(f"stored {rate.source_ccy}->{rate.target_ccy} {rate.rate} as of "
                   f"{rate.asof_ts:%Y-%m-%d %H:%M %Z} (manual)")
    typer.echo(f"{result.stored} manual rate(s) stored")
    for warning in result.warnings:
        typer.secho(f"warning: {warning}", fg="yellow", err=True)


@fx_app.command("delete")
def fx_delete(
    key: Annotated[str, typer.Argument(help="The manual rate to remove, as PAIR@DATE: USD/GBP@2026-11-20.")],
) -> None:
    """Remove a manual rate (only provider `manual`: rates a broker reported are never deleted)."""
    from portfolio_dashboard.services.fx_rates import ManualRateError, delete_manual_rate

    try:
        name, removed = delete_manual_rate(get_app(), key)
    except ManualRateError as exc:
        usage_error(str(exc))
    except PortfolioError as exc:
        fail(exc)
    typer.echo(f"deleted {removed.rates} manual rate(s) {name}")
    if removed.uses:
        typer.secho(f"warning: {removed.uses} stored row(s) were valued with it; value them again with "
                    f"`portfolio-dashboard reprocess --since {removed.first_use:%Y-%m-%d}`", fg="yellow", err=True)


@fx_app.command("list")
def fx_list(
    pair: Annotated[str | None, typer.Option(help="Only this pair, e.g. USD/GBP (either direction).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest rates.")] = 20,
) -> None:
    """The newest stored rates with their provider (ib, ib_flex, ecb, manual, demo …)."""
    from portfolio_dashboard.services.fx_rates import list_stored_rates

    try:
        rows = list_stored_rates(get_app(), pair, limit)
    except PortfolioError as exc:
        fail(exc)
    for r in rows:
        typer.echo(f"{r.asof_ts:%Y-%m-%d %H:%M %Z}  {r.source_ccy}->{r.target_ccy}  {r.rate}  {r.provider}")
    if not rows:
        typer.echo("no rates stored")
