"""`portfolio-dashboard fx`: manual FX rates for offline use, and what rates are stored."""

from __future__ import annotations

from typing import Annotated

import typer

from portfolio_dashboard.cli.common import command_group, fail, get_app
from portfolio_dashboard.errors import PortfolioError

fx_app = command_group("FX rates: add manual rates for offline use, list stored rates.")


@fx_app.command("set")
def fx_set(
    rates: Annotated[list[str], typer.Argument(help="Rates like USD/GBP=0.7912 or USD/GBP=0.7912@2026-11-20.")],
) -> None:
    """Store manual rates (provider `manual`); captures use them when no broker rate is nearer in time."""
    from portfolio_dashboard.services.fx_rates import ManualRateError, store_manual_rates

    try:
        parsed, stored = store_manual_rates(get_app(), rates)
    except (ManualRateError, PortfolioError) as exc:
        fail(exc)
    for rate in parsed:
        typer.echo(f"stored {rate.source_ccy}->{rate.target_ccy} {rate.rate} as of "
                   f"{rate.asof_ts:%Y-%m-%d %H:%M %Z} (manual)")
    typer.echo(f"{stored} manual rate(s) stored")


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
