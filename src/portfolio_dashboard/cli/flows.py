"""`portfolio-dashboard flows` and `income`: the money that moved in and out of the accounts, and the income
it included. JSON prints amounts as exact decimal strings (never floats). The database layers are imported
inside the commands so that `--help` stays fast."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from portfolio_dashboard.cli.common import option_date, usage_error

if TYPE_CHECKING:
    from portfolio_dashboard.storage.reads.flows import FlowLine

KINDS = ("deposit", "withdrawal", "transfer_in", "transfer_out", "dividend", "payment_in_lieu", "interest",
         "withholding_tax", "fee", "fx_conversion", "other")


def _exact(value: Any) -> str | None:
    return None if value is None else str(value)


def flow_json(line: FlowLine) -> dict[str, str | None]:
    return {
        "id": str(line.id), "run_id": _exact(line.run_id), "broker": line.broker,
        "broker_account_id": line.broker_account_id, "broker_flow_id": line.broker_flow_id, "kind": line.kind,
        "instrument_id": _exact(line.instrument_id), "symbol": line.symbol, "isin": line.isin,
        "flow_ts": line.flow_ts.isoformat(), "currency": line.currency, "amount_local": str(line.amount_local),
        "amount_gbp": _exact(line.amount_gbp), "fx_rate_id": _exact(line.fx_rate_id),
        "quantity": _exact(line.quantity), "description": line.description,
        "raw_payload_id": _exact(line.raw_payload_id),
    }


def flows_command(
    account: Annotated[str | None, typer.Option(help="Only this account, as BROKER:ID (e.g. ib:U1234567).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day (inclusive), YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day (inclusive), YYYY-MM-DD.")] = None,
    kind: Annotated[str | None, typer.Option(help=f"Only this kind: {', '.join(KINDS)}.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (exact decimal strings).")] = False,
) -> None:
    """Deposits, withdrawals, transfers, dividends, interest, taxes and fees, oldest first."""
    from portfolio_dashboard.cli.common import fail, get_app
    from portfolio_dashboard.errors import PortfolioError
    from portfolio_dashboard.storage.reads.flows import flows
    from portfolio_dashboard.storage.reads.scope import Scope

    start, end = option_date(from_, "--from"), option_date(to, "--to")
    if kind is not None and kind not in KINDS:
        usage_error(f"--kind must be one of {', '.join(KINDS)}")
    scope = Scope()
    if account is not None:
        broker, sep, number = account.partition(":")
        if not sep or not broker or not number:
            usage_error("--account expects BROKER:ID, e.g. ib:U1234567")
        scope = Scope(accounts=((broker, number),))
    app = get_app()
    try:
        app.migrate()
        with app.engine.connect() as conn:
            lines = flows(conn, scope, start=start, end=end, kinds=(kind,) if kind else ())
    except PortfolioError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps([flow_json(x) for x in lines], indent=2))
        return
    for x in lines:
        gbp = "?" if x.amount_gbp is None else f"{x.amount_gbp:.2f}"
        what = x.symbol or x.description or ""
        typer.echo(f"{x.day}  {x.broker}:{x.broker_account_id}  {x.kind:<15} {x.amount_local:>14} {x.currency}  "
                   f"GBP {gbp:>12}  {what}")
    if not lines:
        typer.echo("no flows stored for that selection")


def income_command(
    tax_year: Annotated[str | None, typer.Option(help="A UK tax year (6 April - 5 April), e.g. 2025-26.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day (inclusive), YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day (inclusive), YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (exact decimal strings).")] = False,
) -> None:
    """Dividends and interest received, net of tax withheld, in GBP (default: the current UK tax year)."""
    from portfolio_dashboard.cli.common import fail, get_app
    from portfolio_dashboard.domain.cgt.tax_years import parse_tax_year, tax_year_of
    from portfolio_dashboard.domain.income import summarise
    from portfolio_dashboard.errors import PortfolioError
    from portfolio_dashboard.storage.reads.flows import income_lines

    if tax_year is not None and (from_ is not None or to is not None):
        usage_error("give either --tax-year or --from/--to, not both")
    app = get_app()
    start: date | None
    if tax_year is not None:
        try:
            year = parse_tax_year(tax_year)
        except ValueError as exc:
            usage_error(str(exc))
        start, end = year.start, year.end
    elif from_ is None and to is None:
        year = tax_year_of(date.today())
        start, end = year.start, year.end
    else:
        start = option_date(from_, "--from")
        end = option_date(to, "--to") or date.today()
    try:
        app.migrate()
        with app.engine.connect() as conn:
            summary = summarise(income_lines(conn, start=start, end=end), start, end)
    except PortfolioError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps({
            "from": _exact(start), "to": _exact(end), "total_gbp": str(summary.total_gbp),
            "by_kind": {k: str(v) for k, v in sorted(summary.by_kind.items())},
            "by_month": [{"month": f"{m:%Y-%m}", "amount_gbp": str(v)} for m, v in summary.by_month.items()],
            "by_instrument": [{"symbol": s.symbol, "isin": s.isin, "amount_gbp": str(s.net_gbp)}
                              for s in summary.by_security if s.symbol is not None or s.isin is not None],
        }, indent=2))
        return
    typer.echo(f"Income {start or 'from the first flow'} to {end}: GBP {summary.total_gbp:.2f} net "
               f"(gross {summary.gross_gbp:.2f}, withholding tax {summary.withholding_gbp:.2f})")
    for k, v in sorted(summary.by_kind.items()):
        typer.echo(f"  {k:<16} {v:>12.2f}")
    for s in summary.by_security:
        typer.echo(f"  {s.symbol or '(interest, no security)':<24} {s.net_gbp:>12.2f}")
    if summary.unvalued:
        typer.echo(f"  {summary.unvalued} flow(s) have no GBP value (no rate of their date) and are not counted")


def register(app: typer.Typer) -> None:
    app.command("flows")(flows_command)
    app.command("income")(income_command)
