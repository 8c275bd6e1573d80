"""The top-level commands (serve, migrate, capture, status, db, demo) and the app every group hangs on.

Thin and fast: a command imports what it needs (SQLAlchemy, Alembic, pydantic-settings, the services) when it
runs, so ``--help`` and argument errors answer without loading any of it.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from portfolio_dashboard import __version__
from portfolio_dashboard.cli.accounts import accounts_app, classes_app
from portfolio_dashboard.cli.auth import auth_app
from portfolio_dashboard.cli.capital_gains import cgt_app
from portfolio_dashboard.cli.common import (
    command_group,
    exit_code,
    exit_with,
    fail,
    finish,
    get_app,
    run,
    usage_error,
    use_log_format,
)
from portfolio_dashboard.cli.export import register as register_export
from portfolio_dashboard.cli.flows import register as register_flows
from portfolio_dashboard.cli.fx import fx_app
from portfolio_dashboard.cli.imports import import_app
from portfolio_dashboard.cli.mapping import mapping_app
from portfolio_dashboard.cli.ops import register as register_ops
from portfolio_dashboard.cli.returns import register as register_returns
from portfolio_dashboard.cli.statement import register as register_statement
from portfolio_dashboard.domain.runs import SOURCE_NAMES, TriggerType
from portfolio_dashboard.errors import ConfigError, PortfolioError

app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter costs more to import than the whole CLI
    help="Portfolio Dashboard: capture broker snapshots into PostgreSQL and explore them in a dashboard.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = command_group("Database helpers.")
demo_app = command_group("The demo source: simulated accounts for trying the product.")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
register_ops(app)  # spool, alerts, reprocess
register_export(app)  # export
register_statement(app)  # statement
app.add_typer(auth_app, name="auth")
app.add_typer(mapping_app, name="mapping")
app.add_typer(fx_app, name="fx")
register_returns(app)  # returns, benchmark
register_flows(app)  # flows, income
app.add_typer(cgt_app, name="cgt")
app.add_typer(import_app, name="import")
app.add_typer(accounts_app, name="accounts")
app.add_typer(classes_app, name="classes")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"portfolio-dashboard {__version__}")
        finish("success")


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    log_format: Annotated[str, typer.Option(help="Log line format: text or json.")] = "",
    host: Annotated[str | None, typer.Option(help="With no command: `serve`'s --host.")] = None,
    port: Annotated[int | None, typer.Option(help="With no command: `serve`'s --port.")] = None,
) -> None:
    """With no command: serve the dashboard (same as `serve`, and takes its options)."""
    use_log_format(log_format)  # applied when a command first needs the App: --help loads nothing
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve, host=host, port=port)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind. Default 127.0.0.1 (this machine only). Use 0.0.0.0 only "
                          "deliberately: anyone who can reach the port sees your portfolio."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port for the dashboard (default 8501).")] = None,
) -> None:
    """Apply migrations, then run the Streamlit dashboard (http://127.0.0.1:8501 by default)."""
    from portfolio_dashboard.config import is_loopback_host

    app_ = get_app()
    try:
        app_.migrate()
        url = app_.engine.url.render_as_string(hide_password=False)
    except PortfolioError as exc:
        fail(exc)
    settings = app_.settings
    bind = host or settings.dashboard_host
    listen = port or settings.dashboard_port
    script = Path(__file__).parents[1] / "ui" / "app.py"
    env = dict(os.environ)
    env["DATABASE_URL"] = url  # the dashboard joins the same server (embedded or not)
    cmd = [
        # `streamlit run`, with the dashboard's imports and database connection done before it listens
        sys.executable, "-m", "portfolio_dashboard.ui.launch", "run", str(script),
        "--server.address", bind, "--server.port", str(listen), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--theme.base", "light",
        # the dashboard shows its own messages; a bug must never put a traceback on screen (the log keeps it)
        "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal",
        "--theme.primaryColor", "#2f5d8a",
    ]
    if not is_loopback_host(bind):
        typer.secho(f"warning: listening on {bind}: anyone who can reach port {listen} sees your portfolio and can "
                    "start captures (there is no login). Prefer 127.0.0.1 and an SSH tunnel or a VPN.",
                    fg="yellow", err=True)
    typer.echo(f"Portfolio Dashboard on http://{bind}:{listen}  (Ctrl-C to stop)")
    from portfolio_dashboard.cli.supervise import run_supervised

    # SIGTERM/SIGHUP/Ctrl-C stop the dashboard child too; atexit then releases the embedded database
    exit_with(run_supervised(cmd, env))


@app.command("migrate")
def migrate_cmd(
    revision: Annotated[str, typer.Option(help="Target revision (default: head).")] = "head",
    downgrade: Annotated[bool, typer.Option("--downgrade", help="Downgrade to --revision instead.")] = False,
) -> None:
    """Create or upgrade the database schema (a no-op when already current)."""
    from portfolio_dashboard.services.database import migrate_schema

    try:
        before, after = migrate_schema(get_app(), revision, downgrade=downgrade)
    except PortfolioError as exc:
        fail(exc)
    if before == after:
        typer.echo(f"schema already at {after or 'base'}; nothing to do")
    else:
        typer.echo(f"schema {before or 'base'} -> {after or 'base'}")


@db_app.command("url")
def db_url(
    show_password: Annotated[bool, typer.Option("--show-password", help="Print the password too.")] = False,
) -> None:
    """Print the database connection URL (for psql: `psql "$(portfolio-dashboard db url --show-password)"`)."""
    from portfolio_dashboard.config import mask_url_password

    app_ = get_app()
    try:
        url = app_.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    except PortfolioError as exc:
        fail(exc)
    typer.echo(url if show_password else mask_url_password(url))


@app.command("capture")
def capture_cmd(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help=f"Source to capture (repeatable): {', '.join(SOURCE_NAMES)}. "
                                             "Default: the BROKERS setting, else demo."),
    ] = None,
    trigger: Annotated[TriggerType, typer.Option(help="What triggered this run.")] = TriggerType.MANUAL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
    log_format: Annotated[str, typer.Option(help="Log line format: text or json (as the global option).")] = "",
) -> None:
    """Capture one snapshot of every source. Exit status: 0 success, 2 partial (some sources stored), 1 fail.

    Never prompts, so a scheduler can run it (`--trigger scheduled`). When the database is unreachable the
    responses are spooled locally and stored by the next capture (exit status 1, or 2 when another source
    was stored before the database went away)."""
    if log_format and log_format not in ("text", "json"):
        usage_error("--log-format takes text or json")
    for name in source or []:
        if name not in SOURCE_NAMES:
            usage_error(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")
    from portfolio_dashboard.domain import TriggerContext
    from portfolio_dashboard.services.capture import capture
    from portfolio_dashboard.services.monitoring import run_alerts_quietly
    from portfolio_dashboard.services.reporting import run_summary, run_to_dict

    if log_format:
        use_log_format(log_format)  # this command's own --log-format wins over the global one

    ctx = TriggerContext(trigger_type=trigger, triggered_by=f"cli:{os.getenv('USER', 'unknown')}",
                         sources=tuple(source) if source else None)
    try:
        result = capture(ctx, app=get_app())
    except PortfolioError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps({**run_to_dict(result), "exit_code": exit_code(result.status)}, indent=2,
                              default=str))
    else:
        typer.echo(run_summary(result))
    if any(o.status == "spooled" for o in result.sources) and result.error_summary:
        typer.secho(f"error: {result.error_summary}", fg="red", err=True)
    run_alerts_quietly(get_app())
    finish(result.status)


@app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    max_age: Annotated[str, typer.Option(help="Unhealthy when an account has no successful capture within this "
                                              "(e.g. 26h, 2d). Default: ALERT_MAX_AGE (26h).")] = "",
    alerts: Annotated[bool, typer.Option(help="Evaluate and send alerts (when ALERT_URLS is set).")] = True,
    health: Annotated[bool, typer.Option(help="Ask each source for its credential health.")] = True,
) -> None:
    """Last run, last success per account and its age, open warnings, credential health, the spool.

    Exit status: 0 healthy, 2 degraded (partial run, credential expiring, spooled data waiting), 1 unhealthy
    (database unreachable, no run, last run failed, an account stale, a credential expired)."""
    from dataclasses import replace

    from portfolio_dashboard.config import option_duration
    from portfolio_dashboard.services.monitoring import run_alerts
    from portfolio_dashboard.services.reporting import status_report

    app_ = get_app()
    settings = app_.settings
    try:
        limit = option_duration("--max-age", max_age, "26h") if max_age else settings.alert_max_age_delta
    except ConfigError as exc:
        fail(exc)
    try:
        report = status_report(app_, limit, now=datetime.now(UTC), with_health=health)
    except (PortfolioError, ValueError) as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps({**report.as_dict(), "exit_code": exit_code(report.outcome)}, indent=2, default=str))
    else:
        typer.echo(report.text())
    if alerts and report.facts is not None and settings.alert_url_list:
        try:
            run_alerts(app_, replace(report.facts, max_age=settings.alert_max_age_delta))
        except PortfolioError as exc:
            typer.secho(f"warning: alerts not evaluated: {exc}", err=True)
    finish(report.outcome)


@demo_app.command("seed")
def demo_seed(days: Annotated[int, typer.Option(min=1, max=3650, help="Days of daily history.")] = 365) -> None:
    """Backfill daily demo history (bulk write, one transaction)."""
    from portfolio_dashboard.services.demo_history import seed

    try:
        count = seed(get_app(), days)
    except PortfolioError as exc:
        fail(exc)
    typer.echo(f"demo history: {count} snapshots stored ({days} days)")


@demo_app.command("clear")
def demo_clear() -> None:
    """Remove every demo account, snapshot, position, rate and run (real accounts are untouched)."""
    from portfolio_dashboard.services.demo_history import clear

    try:
        counts = clear(get_app())
    except PortfolioError as exc:
        fail(exc)
    typer.echo("removed demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def main() -> None:
    from portfolio_dashboard.cli.supervise import exit_on_stop_signals

    exit_on_stop_signals()  # SIGTERM/SIGHUP end a command like Ctrl-C would: atexit releases the database
    run(app)


if __name__ == "__main__":
    main()
