"""`portfolio-dashboard returns` and `portfolio-dashboard benchmark`: returns for a filter and period, and the
price series to compare them with. Heavy imports happen inside the commands so `--help` stays fast."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from portfolio_dashboard.cli.common import command_group, fail, get_app, option_date
from portfolio_dashboard.errors import PortfolioError

if TYPE_CHECKING:
    from portfolio_dashboard.domain.returns import ReturnResult
    from portfolio_dashboard.services.returns import AccountReturns, ReturnsReport

benchmark_app = command_group("Benchmarks: price series to compare returns with.")

PERIOD_HELP = "1m, 3m, 6m, ytd, tax-year, prev-tax-year, 1y, 3y, 5y or all (default ytd)."


def _parse_accounts(values: list[str] | None) -> tuple[tuple[str, str], ...]:
    accounts = []
    for value in values or []:
        broker, sep, account = value.partition(":")
        if not sep or not broker or not account:
            fail(f"--account {value!r}: use BROKER:ID, e.g. ib:U1234567")
        accounts.append((broker, account))
    return tuple(accounts)


def money_text(value: Decimal | None) -> str | None:
    """Exact decimal text (never exponent notation, never a float)."""
    return None if value is None else format(value, "f")


def return_number(value: Decimal | None) -> float | None:
    # a fraction with at most ten decimal places: its float prints back as the same digits
    return None if value is None else float(value)


def figures(result: ReturnResult) -> dict[str, Any]:
    return {
        "start_value": money_text(result.start_value),
        "end_value": money_text(result.end_value),
        "net_flows": money_text(result.net_flows),
        "gain": money_text(result.gain),
        "twr": return_number(result.twr),
        "twr_annualised": return_number(result.twr_annualised),
        "mwr": return_number(result.mwr),
        "unavailable": list(result.unavailable),
    }


def account_json(a: AccountReturns) -> dict[str, Any]:
    local = a.local
    return {
        "broker": a.broker,
        "broker_account_id": a.broker_account_id,
        "name": a.name,
        "wrapper": a.wrapper,
        "currency": "GBP",
        **figures(a.gbp),
        "broker_twr": return_number(a.broker_twr),
        "broker_twr_difference_pp": return_number(a.comparison.difference_pp) if a.comparison else None,
        "local": {"currency": a.currency, **figures(local)} if local is not None else None,
    }


def report_json(report: ReturnsReport) -> dict[str, Any]:
    return {
        "period": report.period,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "currency": report.currency,
        **figures(report.total),
        "accounts": [account_json(a) for a in report.accounts],
        "brokers": {b: figures(r) for b, r in report.brokers.items()},
        "wrappers": {w: figures(r) for w, r in report.wrappers.items()},
    }


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f}%"


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def report_text(report: ReturnsReport) -> str:
    lines = [f"Returns {report.period} {report.start} .. {report.end} (GBP)",
             f"{'scope':<28}{'start':>14}{'end':>14}{'net flows':>13}{'gain':>13}{'TWR':>9}{'ann.':>9}"
             f"{'MWR':>9}{'IBKR TWR':>10}"]
    reasons: list[str] = []

    def row(label: str, r: ReturnResult, theirs: Decimal | None = None) -> None:
        lines.append(f"{label[:27]:<28}{_money(r.start_value):>14}{_money(r.end_value):>14}"
                     f"{_money(r.net_flows):>13}{_money(r.gain):>13}{_pct(r.twr):>9}{_pct(r.twr_annualised):>9}"
                     f"{_pct(r.mwr):>9}{_pct(theirs) if theirs is not None else '':>10}")
        reasons.extend(f"{label}: {reason}" for reason in r.unavailable)

    for a in report.accounts:
        row(f"{a.broker}:{a.broker_account_id}", a.gbp, a.broker_twr)
    if len(report.brokers) > 1:
        for broker, r in report.brokers.items():
            row(f"broker {broker}", r)
    if len(report.wrappers) > 1:
        for wrapper, r in report.wrappers.items():
            row(f"wrapper {wrapper}", r)
    row("total", report.total)
    if reasons:
        lines.append("unavailable:")
        lines.extend(f"  {reason}" for reason in reasons)
    return "\n".join(lines)


def returns_cmd(
    account: Annotated[list[str] | None, typer.Option("--account", help="BROKER:ID (repeatable); default all.")]
    = None,
    broker: Annotated[list[str] | None, typer.Option("--broker", help="Only this broker (repeatable).")] = None,
    wrapper: Annotated[list[str] | None, typer.Option("--wrapper", help="Only this wrapper, e.g. ISA (repeatable; "
                                                      "'unassigned' for accounts without one).")] = None,
    period: Annotated[str, typer.Option("--period", help=PERIOD_HELP)] = "ytd",
    from_: Annotated[str | None, typer.Option("--from", help="Custom first day YYYY-MM-DD (instead of --period).")]
    = None,
    to: Annotated[str | None, typer.Option("--to", help="Custom last day YYYY-MM-DD (default today).")] = None,
    today: Annotated[str | None, typer.Option("--today", help="The day named periods end (default today).")]
    = None,
    benchmark: Annotated[str | None, typer.Option("--benchmark", help="Compare with this benchmark: an imported "
                                                  "series or a symbol we hold (see `benchmark list`).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON (money as exact decimal strings).")] = False,
) -> None:
    """Time- and money-weighted returns, gain and net flows per account, broker, wrapper and in total.

    Figures that cannot be right (unknown flows, a gap in the valuations, no valuation to start from) are
    withheld with the reason, never shown as 0%. Definitions: docs/returns.md."""
    from portfolio_dashboard.domain.returns import PERIOD_NAMES
    from portfolio_dashboard.services.benchmarks import compare_benchmark
    from portfolio_dashboard.services.returns import ReturnsFilter, returns_report

    start, end, day = option_date(from_, "--from"), option_date(to, "--to"), option_date(today, "--today")
    if start is None and end is None and period.strip().lower() not in PERIOD_NAMES:
        fail(f"unknown period {period!r}; choose from {', '.join(PERIOD_NAMES)}")
    flt = ReturnsFilter(_parse_accounts(account), tuple(broker or ()), tuple(w.upper() if w != "unassigned" else w
                                                                              for w in wrapper or ()))
    app = get_app()
    try:
        app.migrate()
        with app.engine.connect() as conn:
            report = returns_report(conn, flt, period=period, start=start, end=end, today=day)
            versus = compare_benchmark(conn, benchmark, report.start, report.end, report.total.twr) \
                if benchmark else None
    except ValueError as exc:
        fail(str(exc))
    except PortfolioError as exc:
        fail(str(exc))
    if flt.accounts:
        found = {(a.broker, a.broker_account_id) for a in report.accounts}
        missing = [f"{b}:{a}" for b, a in flt.accounts if (b, a) not in found]
        if missing:
            fail(f"no such account: {', '.join(missing)}")
    data = report_json(report)
    text = report_text(report)
    if versus is not None:
        data["benchmark"] = {"name": versus.name, "kind": versus.kind, "twr": return_number(versus.twr),
                             "difference": return_number(versus.difference),
                             "unavailable": [versus.unavailable] if versus.unavailable else []}
        text += (f"\nbenchmark {versus.name}: {_pct(versus.twr)} (ours minus it: {_pct(versus.difference)})"
                 if versus.unavailable is None else f"\nbenchmark {versus.name}: unavailable ({versus.unavailable})")
    typer.echo(json.dumps(data, indent=2) if as_json else text)


@benchmark_app.command("import")
def benchmark_import(
    name: Annotated[str, typer.Argument(help="The benchmark's name, e.g. VWRL or FTSE-ALL-WORLD.")],
    file: Annotated[Path, typer.Argument(help="CSV with columns date (YYYY-MM-DD) and close.")],
    currency: Annotated[str | None, typer.Option(help="Currency of the closes, e.g. GBP.")] = None,
) -> None:
    """Import closes from a CSV file. Idempotent: importing the same file again stores nothing new."""
    from portfolio_dashboard.services.benchmarks import BenchmarkFileError, import_benchmark

    app = get_app()
    try:
        app.migrate()
        with app.engine.begin() as conn:
            done = import_benchmark(conn, name, file, currency=currency)
    except BenchmarkFileError as exc:
        fail(exc.problems)
    except PortfolioError as exc:
        fail(str(exc))
    typer.echo(f"{done.name}: {done.closes} closes {done.first_day} .. {done.last_day} "
               f"({done.inserted} new, {done.updated} updated, {done.unchanged} unchanged)")


@benchmark_app.command("list")
def benchmark_list() -> None:
    """Imported benchmarks, and the instruments we hold (usable as benchmarks by their symbol)."""
    from portfolio_dashboard.services.benchmarks import held_symbols, imported_benchmarks

    app = get_app()
    try:
        app.migrate()
        with app.engine.connect() as conn:
            imported = imported_benchmarks(conn)
            held = held_symbols(conn)
    except PortfolioError as exc:
        fail(str(exc))
    for b in imported:
        typer.echo(f"{b.name}  {b.closes} closes  {b.first_day} .. {b.last_day}  {b.currency or ''}  {b.source}")
    if not imported:
        typer.echo("no imported benchmarks (portfolio-dashboard benchmark import NAME FILE.csv)")
    if held:
        typer.echo("held instruments (from our own snapshots): " + ", ".join(held))


def register(app: typer.Typer) -> None:
    app.command("returns")(returns_cmd)
    app.add_typer(benchmark_app, name="benchmark")
