"""`portfolio-dashboard cgt`: UK capital gains of a tax year, opening pools, losses brought forward, what-if.

The heavy modules (SQLAlchemy, the engine) are imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from portfolio_dashboard.cli.common import command_group, fail

if TYPE_CHECKING:
    from portfolio_dashboard.domain.cgt import SaleEstimate, TaxYear

cgt_app = typer.Typer(
    help="UK capital gains (HMRC share matching across every taxable account). See docs/capital-gains.md.",
    invoke_without_command=True,
)
pool_app = command_group("Opening Section 104 pools (holdings bought before the records begin).")
losses_app = command_group("Capital losses brought forward into a tax year.")
cgt_app.add_typer(pool_app, name="pool")
cgt_app.add_typer(losses_app, name="losses")


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").lstrip("£"))
    except InvalidOperation:
        fail(f"{what} is not a number: {text!r}")
    if not value.is_finite():
        fail(f"{what} is not a number: {text!r}")
    return value


def _year(text: str | None) -> TaxYear:
    from portfolio_dashboard.domain.cgt import parse_tax_year, tax_year_of

    if text is None:
        return tax_year_of(date.today())
    try:
        return parse_tax_year(text)
    except ValueError as exc:
        fail(str(exc))


def _gbp(value: object) -> str:
    """An exact decimal string from the report as ``£1,234.56`` (``—`` for unknown)."""
    if value is None:
        return "—"
    amount = Decimal(str(value))
    return f"{'-' if amount < 0 else ''}£{abs(amount):,.2f}"


def _print_report(doc: dict[str, Any]) -> None:
    totals = doc["totals"]
    status = "complete" if doc["complete"] else "NOT complete: see needs review"
    typer.echo(f"Capital gains, tax year {doc['tax_year']} ({status})")
    typer.echo("")
    rows = [
        ("Number of disposals", str(totals["disposals"])),
        ("Disposal proceeds", _gbp(totals["proceeds_gbp"])),
        ("Allowable costs (including purchase price)", _gbp(totals["allowable_costs_gbp"])),
        ("Gains in the year, before losses", _gbp(totals["gains_gbp"])),
        ("Losses in the year", _gbp(totals["losses_gbp"])),
        ("Net gain", _gbp(totals["net_gain_gbp"])),
        ("Annual exempt amount", _gbp(totals["annual_exempt_amount_gbp"])),
        ("Losses brought forward", _gbp(totals["losses_brought_forward_gbp"])),
        ("Losses used this year", _gbp(totals["losses_used_gbp"])),
        ("Losses carried forward", _gbp(totals["losses_carried_forward_gbp"])),
        ("Taxable gain", _gbp(totals["taxable_gain_gbp"])),
    ]
    for part, label in (("before_2024_10_30", "before 30 Oct 2024"), ("from_2024_10_30", "from 30 Oct 2024")):
        if part in totals:
            rows.append((f"Net gain {label}", _gbp(totals[part]["net_gain_gbp"])))
    if totals["incomplete_disposals"]:
        rows.append(("Incomplete disposals (not in the totals)", str(totals["incomplete_disposals"])))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"  {label:<{width}}  {value:>14}")
    if totals["proceeds_over_reporting_threshold"]:
        typer.echo(f"  proceeds exceed {_gbp(totals['reporting_threshold_gbp'])}: report the gains on your return")
    typer.echo("")
    typer.echo(f"Disposals ({len(doc['disposals'])})")
    for item in doc["disposals"]:
        typer.echo(f"  {item['date']}  {item['symbol']:<8} {item['quantity']:>10}"
                   f"  proceeds {_gbp(item['proceeds_gbp'])}  cost {_gbp(item['cost_gbp'])}"
                   f"  gain {_gbp(item['gain_gbp'])}")
        for match in item["matches"]:
            acquired = f" acquired {match['acquired']}" if match["acquired"] else ""
            typer.echo(f"      {match['rule']:<8} {match['quantity']:>10}  cost {_gbp(match['cost_gbp'])}{acquired}")
    typer.echo("")
    typer.echo(f"Section 104 pools at 5 April ({len(doc['pools'])})")
    for pool in doc["pools"]:
        typer.echo(f"  {pool['symbol']:<8} {pool['isin'] or '':<13} {pool['quantity']:>12}  {_gbp(pool['cost_gbp'])}")
    if doc["needs_review"]:
        typer.echo("")
        typer.echo(f"Needs review ({len(doc['needs_review'])})")
        for item in doc["needs_review"]:
            where = " ".join(str(part) for part in (item["date"], item["symbol"]) if part)
            typer.echo(f"  {where + ': ' if where else ''}{item['reason']}")


@cgt_app.callback()
def cgt_report(
    ctx: typer.Context,
    tax_year: Annotated[str | None, typer.Option(help="Tax year like 2024-25 (default: the current one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON (money as exact decimals).")] = False,
) -> None:
    """The tax year's capital gains: totals in the Self Assessment shape, disposals with their matches, pools."""
    if ctx.invoked_subcommand is not None:
        return
    from portfolio_dashboard.cli.common import get_app
    from portfolio_dashboard.services.capital_gains import report

    year = _year(tax_year)
    app = get_app()
    app.migrate()
    with app.engine.connect() as conn:
        result = report(conn, year)
    if as_json:
        typer.echo(json.dumps(result.document, indent=2))
    else:
        _print_report(result.document)


@pool_app.command("set")
def pool_set(
    security: Annotated[str, typer.Argument(help="Symbol or ISIN of the security.")],
    quantity: Annotated[str, typer.Option(help="Shares in the pool at the close of --as-of.")],
    cost: Annotated[str, typer.Option(help="The pool's total allowable cost in GBP.")],
    as_of: Annotated[str, typer.Option(help="The date the pool is stated at (YYYY-MM-DD).")],
    note: Annotated[str | None, typer.Option(help="Where the figure comes from.")] = None,
) -> None:
    """State the Section 104 pool of a security at a date (trades on or before it are taken as in it)."""
    from portfolio_dashboard.cli.common import get_app
    from portfolio_dashboard.services.capital_gains import SecurityNotFoundError, set_opening_pool

    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of is not a date (YYYY-MM-DD): {as_of!r}")
    app = get_app()
    app.migrate()
    with app.engine.connect() as conn:
        try:
            found, changed = set_opening_pool(conn, security, quantity=_decimal(quantity, "--quantity"),
                                              cost_gbp=_decimal(cost, "--cost"), as_of=day, note=note)
        except (SecurityNotFoundError, ValueError) as exc:
            fail(str(exc))
        conn.commit()
    state = "stored" if changed else "unchanged"
    typer.echo(f"opening pool of {found.symbol} ({found.isin or 'no ISIN'}): {quantity} shares, cost "
               f"{_gbp(cost)} at {day} ({state})")


@losses_app.command("set")
def losses_set(
    tax_year: Annotated[str, typer.Argument(help="The tax year the losses are brought into, e.g. 2023-24.")],
    amount: Annotated[str, typer.Argument(help="Losses brought forward in GBP.")],
) -> None:
    """State the losses brought forward into a tax year (replaces the computed carry-forward for that year)."""
    from portfolio_dashboard.cli.common import get_app
    from portfolio_dashboard.services.capital_gains import set_losses

    year = _year(tax_year)
    value = _decimal(amount, "amount")
    app = get_app()
    app.migrate()
    with app.engine.connect() as conn:
        try:
            changed = set_losses(conn, year, value)
        except ValueError as exc:
            fail(str(exc))
        conn.commit()
    typer.echo(f"losses brought forward into {year.label}: {_gbp(value)} ({'stored' if changed else 'unchanged'})")


def estimate_dict(estimate: SaleEstimate) -> dict[str, Any]:
    def money(value: Decimal | None) -> str | None:
        return None if value is None else format(value.quantize(Decimal("0.01")), "f")

    return {
        "tax_year": estimate.tax_year.label,
        "symbol": estimate.security.symbol,
        "isin": estimate.security.isin,
        "quantity": format(estimate.quantity, "f"),
        "proceeds_gbp": money(estimate.proceeds_gbp),
        "gain_gbp": money(estimate.gain_gbp),
        "net_gain_before_gbp": money(estimate.net_gain_before_gbp),
        "exempt_amount_remaining_gbp": money(estimate.exempt_amount_remaining_gbp),
        "taxable_gain_before_gbp": money(estimate.taxable_gain_before_gbp),
        "taxable_gain_after_gbp": money(estimate.taxable_gain_after_gbp),
        "additional_taxable_gain_gbp": money(estimate.additional_taxable_gain_gbp),
        "matches": [{"rule": m.rule.value, "quantity": format(m.quantity, "f"), "cost_gbp": money(m.cost_gbp)}
                    for m in (estimate.disposal.matches if estimate.disposal else ())],
    }


@cgt_app.command("whatif")
def whatif(
    security: Annotated[str, typer.Argument(help="Symbol or ISIN.")],
    quantity: Annotated[str, typer.Argument(help="Shares to sell.")],
    price: Annotated[str, typer.Argument(help="Price per share in GBP.")],
    costs: Annotated[str, typer.Option(help="Dealing costs of the sale in GBP.")] = "0",
    on: Annotated[str | None, typer.Option(help="Sale date (default today), YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The estimate as JSON.")] = False,
) -> None:
    """What selling QUANTITY of SECURITY at PRICE (GBP) would add to this tax year's gain."""
    from portfolio_dashboard.cli.common import get_app
    from portfolio_dashboard.services.capital_gains import SecurityNotFoundError, what_if

    try:
        day = date.today() if on is None else date.fromisoformat(on)
    except ValueError:
        fail(f"--on is not a date (YYYY-MM-DD): {on!r}")
    shares = _decimal(quantity, "QUANTITY")
    if shares <= 0:
        fail("QUANTITY must be positive")
    app = get_app()
    app.migrate()
    with app.engine.connect() as conn:
        try:
            estimate = what_if(conn, security, shares, _decimal(price, "PRICE"), on=day,
                               costs_gbp=_decimal(costs, "--costs"))
        except SecurityNotFoundError as exc:
            fail(str(exc))
    doc = estimate_dict(estimate)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"Selling {doc['quantity']} {doc['symbol']} on {day} for {_gbp(doc['proceeds_gbp'])} "
               f"(tax year {doc['tax_year']})")
    if doc["gain_gbp"] is None:
        typer.echo("  the cost of these shares is not known (state an opening pool): no estimate")
        return
    typer.echo(f"  gain on this sale:               {_gbp(doc['gain_gbp'])}")
    typer.echo(f"  exempt amount left before it:    {_gbp(doc['exempt_amount_remaining_gbp'])}")
    typer.echo(f"  taxable gain of the year before: {_gbp(doc['taxable_gain_before_gbp'])}")
    typer.echo(f"  taxable gain of the year after:  {_gbp(doc['taxable_gain_after_gbp'])}")
    for match in doc["matches"]:
        typer.echo(f"    {match['rule']:<8} {match['quantity']:>10}  cost {_gbp(match['cost_gbp'])}")
    typer.echo("  buying the same shares back within 30 days would change this (the 30-day rule)")
