"""``portfolio-dashboard accounts ...`` and ``classes ...``: the user's wrappers, account names and asset classes.

Both write through ``services.user_settings`` (the same calls as the dashboard's pages), with source 'user' so
captures and reprocess keep them.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from portfolio_dashboard.cli.common import fail, get_app
from portfolio_dashboard.errors import PortfolioError

accounts_app = typer.Typer(help="Broker accounts: tax wrapper (ISA, GIA, SIPP, ...) and display name.",
                           no_args_is_help=True)
classes_app = typer.Typer(help="Your own asset classes per instrument (\"Equity ETF\", \"Money Market Fund\").",
                          no_args_is_help=True)


def _account_json(a: object) -> dict[str, object]:
    from portfolio_dashboard.storage.reads.accounts import AccountSetting

    assert isinstance(a, AccountSetting)
    return {
        "account": a.key, "broker": a.broker, "broker_account_id": a.broker_account_id, "name": a.name,
        "display_name": a.display_name, "base_currency": a.base_currency, "account_type": a.account_type,
        "wrapper": a.wrapper, "wrapper_source": a.wrapper_source,
        "last_snapshot": a.last_asof.isoformat() if a.last_asof else None,
    }


@accounts_app.command("list")
def accounts_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False,
    broker: Annotated[str | None, typer.Option(help="Only this broker (ib, schwab, demo).")] = None,
) -> None:
    """Every account captured so far, with its wrapper and who set it (broker or you)."""
    from portfolio_dashboard.services.user_settings import list_accounts

    app = get_app()
    app.migrate()
    rows = list_accounts(app.engine, broker)
    if as_json:
        typer.echo(json.dumps([_account_json(a) for a in rows], indent=2))
        return
    if not rows:
        typer.echo("No accounts yet: run `portfolio-dashboard capture` first.")
        return
    for a in rows:
        wrapper = f"{a.wrapper} ({a.wrapper_source})" if a.wrapper else "no wrapper"
        kind = f"  broker type: {a.account_type}" if a.account_type else ""
        typer.echo(f"{a.key:<28} {wrapper:<22} {a.label} [{a.base_currency or '?'}]{kind}")


@accounts_app.command("set")
def accounts_set(
    account: Annotated[str, typer.Argument(help="BROKER:ID, e.g. ib:U1234567.")],
    wrapper: Annotated[str | None, typer.Option(
        help="ISA, LISA, JISA, SIPP, GIA, US_TAXABLE, IRA or OTHER. Kept across captures.")] = None,
    clear_wrapper: Annotated[bool, typer.Option(
        "--clear-wrapper", help="Forget the wrapper; the next capture may set the broker's again.")] = False,
    name: Annotated[str | None, typer.Option(help="The name shown for the account (empty: the broker's).")] = None,
) -> None:
    """Set an account's wrapper and/or name."""
    from portfolio_dashboard.services.user_settings import update_account

    if wrapper is not None and clear_wrapper:
        fail(PortfolioError("give --wrapper or --clear-wrapper, not both"))
    app = get_app()
    app.migrate()
    try:
        a = update_account(app.engine, account, wrapper=wrapper, clear_wrapper=clear_wrapper, name=name)
    except PortfolioError as exc:
        fail(exc)
    typer.echo(f"{a.key}: wrapper {a.wrapper or 'none'}{f' ({a.wrapper_source})' if a.wrapper else ''}, "
               f"shown as {a.label!r}")


@classes_app.command("list")
def classes_list(as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False) -> None:
    """Every instrument with its class and sub-class (yours, or the default from the brokers' data)."""
    from portfolio_dashboard.services.user_settings import list_classes

    app = get_app()
    app.migrate()
    rows = list_classes(app.engine)
    if as_json:
        typer.echo(json.dumps([{
            "id": str(c.id), "symbol": c.symbol, "name": c.name, "isin": c.isin, "class": c.effective_class,
            "subclass": c.effective_subclass, "source": "user" if c.is_user else "default",
            "broker_labels": list(c.broker_labels),
        } for c in rows], indent=2))
        return
    for c in rows:
        sub = f" · {c.effective_subclass}" if c.effective_subclass else ""
        typer.echo(f"{(c.symbol or '?'):<10} {(c.isin or ''):<13} {c.effective_class}{sub}"
                   f"  ({'yours' if c.is_user else 'default'})  {c.name or ''}")


@classes_app.command("set")
def classes_set(
    instrument: Annotated[str, typer.Argument(help="Symbol, ISIN or id (from `classes list`).")],
    class_: Annotated[str | None, typer.Option("--class", help="e.g. \"Equity ETF\".")] = None,
    subclass: Annotated[str | None, typer.Option(help="e.g. \"US large cap\".")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the default from the brokers' data.")] = False,
) -> None:
    """Set an instrument's class and sub-class; captures and reprocess keep them."""
    from portfolio_dashboard.services.user_settings import resolve_instrument, update_class

    if not reset and class_ is None and subclass is None:
        fail(PortfolioError("nothing to change", hint="give --class and/or --subclass, or --reset"))
    app = get_app()
    app.migrate()
    try:
        gid = resolve_instrument(app.engine, instrument)
        c = update_class(app.engine, gid, None if reset else class_, None if reset else subclass)
    except PortfolioError as exc:
        fail(exc)
    sub = f" · {c.effective_subclass}" if c.effective_subclass else ""
    typer.echo(f"{c.symbol or instrument}: {c.effective_class}{sub} ({'yours' if c.is_user else 'default'})")
