"""Operations commands: ``spool``, ``alerts`` and ``reprocess`` (registered on the main CLI by ``register``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, time
from typing import Annotated

import typer

from portfolio_dashboard.cli.common import command_group, fail, finish, get_app, usage_error
from portfolio_dashboard.domain.runs import SOURCE_NAMES
from portfolio_dashboard.errors import PortfolioError

spool_app = command_group("The local spool: captures made while the database was unreachable.")
alerts_app = command_group("Alerts through apprise to the URLs in ALERT_URLS.")


@spool_app.command("replay")
def spool_replay() -> None:
    """Store everything in the spool now (a capture does this first anyway). Safe to repeat.

    Exit status 2 when unreadable files were quarantined (kept in the spool's corrupt/ folder)."""
    from portfolio_dashboard.services.database import DRIVER_ERRORS
    from portfolio_dashboard.services.database import error_reason as db_error_reason
    from portfolio_dashboard.services.replay import replay_pending

    try:
        report = replay_pending(get_app())
    except PortfolioError as exc:
        fail(f"{db_error_reason(exc)} (the spool is kept)")
    except DRIVER_ERRORS as exc:
        fail(f"{db_error_reason(exc)} (the spool is kept)")
    typer.echo(report.text())
    if report.quarantined_files:
        typer.secho(f"warning: {report.quarantined_files} unreadable spool file(s) quarantined (kept, not stored); "
                    "see `portfolio-dashboard spool list`", fg="yellow", err=True)
    finish(report.outcome)


@spool_app.command("list")
def spool_list() -> None:
    """What waits in the spool (read from disk; works without the database)."""
    from portfolio_dashboard.services.replay import open_spool

    spool = open_spool(get_app())
    dirs = spool.run_dirs()
    summary = spool.summary()
    if not dirs and not summary.corrupt:
        typer.echo("spool: empty")
        return
    for directory in dirs:
        pending = spool.load(directory)
        run = pending.run
        label = f"run {run.run_id} ({run.trigger_type}) started {run.started_at:%Y-%m-%d %H:%M:%S %Z}" if run \
            else f"{directory.name} (no readable entries)"
        typer.echo(label)
        for e in pending.entries:
            typer.echo(f"  {e.source}: {len(e.raws)} response(s), {e.kind}, spooled {e.spooled_at:%H:%M:%S %Z}")
        if pending.manifest is None:
            typer.echo("  (no run summary: the capture is still running or its process ended early)")
    if summary.corrupt:
        typer.echo(f"{summary.corrupt} unreadable file(s) kept in {spool.root / 'corrupt'}")


@alerts_app.command("test")
def alerts_test() -> None:
    """Send a test message to every URL in ALERT_URLS; say which target accepted it (URLs never shown)."""
    from portfolio_dashboard.services.alerts import AppriseNotifier, test_message

    urls = get_app().settings.alert_url_list
    if not urls:
        usage_error("ALERT_URLS is empty: set it to one or more apprise URLs (see docs/automation.md)")
    notifier = AppriseNotifier(urls)
    results = notifier.send(test_message(datetime.now(UTC)))
    for label in notifier.invalid:
        typer.echo(f"{label}: INVALID URL (not loaded)")
    for label, ok in results:
        typer.echo(f"{label}: {'sent' if ok else 'FAILED'}")
    if notifier.invalid or not all(ok for _l, ok in results):
        finish("fail" if not any(ok for _l, ok in results) else "partial")


@alerts_app.command("list")
def alerts_list() -> None:
    """Every alert's state: firing or ok, since when, when last sent."""
    from portfolio_dashboard.services.alerts import DbStateStore, FileStateStore
    from portfolio_dashboard.services.monitoring import ALERT_STATE_FILE

    app_ = get_app()
    states = FileStateStore(app_.settings.portfolio_data_dir / ALERT_STATE_FILE).load()
    try:
        app_.migrate()
        states.update(DbStateStore(app_.engine).load())
    except PortfolioError as exc:
        typer.secho(f"warning: {exc}", err=True)
    if not states:
        typer.echo("no alert has fired yet")
    for key in sorted(states):
        s = states[key]
        sent = f", last sent {s.last_sent_at:%Y-%m-%d %H:%M %Z}" if s.last_sent_at else ""
        pending = " (delivery pending)" if s.pending else ""
        typer.echo(f"{key}: {s.state.upper()} since {s.since:%Y-%m-%d %H:%M %Z}{sent}{pending}")


def _since(value: str, tz: str) -> datetime:
    from zoneinfo import ZoneInfo

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        usage_error(f"--since {value!r} is not a date (YYYY-MM-DD) or ISO date-time")
    if parsed.tzinfo is None:
        if len(value) <= 10:
            parsed = datetime.combine(parsed.date(), time(), ZoneInfo(tz))
        else:
            parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed


def reprocess_cmd(
    run: Annotated[list[str] | None, typer.Option("--run", help="A run id (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(help="Runs started on or after this date (portfolio time zone).")]
    = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every run.")] = False,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only these sources.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-parse stored raw payloads with the current parsers and update the normalised rows (raw payloads are
    never changed). Running it twice changes nothing. Exit status 2 when some source could not be parsed."""
    from portfolio_dashboard.services.database import DRIVER_ERRORS
    from portfolio_dashboard.services.database import error_reason as db_error_reason
    from portfolio_dashboard.services.reprocess import Selection, reprocess

    if sum((bool(run), since is not None, all_runs)) != 1:
        usage_error("say which runs to reprocess: exactly one of --run ID, --since DATE or --all")
    for name in source or []:
        if name not in SOURCE_NAMES:
            usage_error(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")
    app_ = get_app()
    try:
        ids = tuple(uuid.UUID(r) for r in run or [])
    except ValueError:
        usage_error("--run takes a run id (a UUID, as `portfolio-dashboard status` shows)")
    selection = Selection(
        run_ids=ids, since=_since(since, app_.settings.portfolio_timezone) if since else None, all=all_runs,
        sources=tuple(source or ()),
    )
    try:
        report = reprocess(app_, selection)
    except PortfolioError as exc:
        fail(str(exc))
    except DRIVER_ERRORS as exc:  # committed batches stay; rerunning finishes the rest
        fail(f"database: {db_error_reason(exc)} (run it again: reprocessing is idempotent)")
    typer.echo(json.dumps(asdict(report), indent=2, default=str) if as_json else report.text())
    finish(report.outcome)


def register(app: typer.Typer) -> None:
    app.add_typer(spool_app, name="spool")
    app.add_typer(alerts_app, name="alerts")
    app.command("reprocess")(reprocess_cmd)
