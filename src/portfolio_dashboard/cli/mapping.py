"""``portfolio-dashboard mapping ...``: see and correct which global instrument each broker instrument is."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer

from portfolio_dashboard.cli.common import command_group, fail, get_app, usage_error
from portfolio_dashboard.errors import PortfolioError

if TYPE_CHECKING:
    from portfolio_dashboard.storage.reads.mappings import MappingRow

mapping_app = command_group(
    "Instrument mapping: which broker instruments are the same security (one line in the allocation)."
)


def _table(rows: list[MappingRow], *, merged: bool = False) -> str:
    if not rows:
        return "(none)"
    head = ("INSTRUMENT", "SYMBOL", "CCY", "EXCHANGE", "ISIN/CUSIP", "GLOBAL", "NAME", "SOURCE", "CONF", "EVIDENCE")
    lines = [head]
    for r in rows:
        lines.append((
            f"{r.broker}:{r.broker_instrument_id}", r.symbol or "", r.currency or "", r.exchange or "",
            r.isin or r.cusip or "", str(r.global_instrument_id or "-")[:8], (r.global_name or "")[:32],
            r.mapping_source or "unmapped", "" if r.confidence is None else f"{r.confidence:.2f}",
            r.evidence or "",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    if merged:
        for r in rows:
            out.append(f"{r.broker}:{r.broker_instrument_id} is merged with: {', '.join(r.merged_with) or 'nothing'}")
    return "\n".join(out)


@mapping_app.command("list")
def list_cmd(
    broker: Annotated[str | None, typer.Option(help="Only this broker's instruments (ib, schwab, demo).")] = None,
    source: Annotated[str | None, typer.Option(help="Only mappings from: broker, heuristic or manual.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Every broker instrument and the global instrument it counts as (GLOBAL shows the id's first 8 characters;
    `mapping set` accepts them)."""
    from portfolio_dashboard.domain.runs import BROKER_NAMES, MAPPING_SOURCES
    from portfolio_dashboard.services.mapping import mappings

    if broker is not None and broker not in BROKER_NAMES:
        usage_error(f"unknown broker {broker!r}; choose from {', '.join(BROKER_NAMES)}")
    if source is not None and source not in MAPPING_SOURCES:
        usage_error(f"unknown mapping source {source!r}; choose from {', '.join(MAPPING_SOURCES)}")
    try:
        rows = mappings(get_app(), broker=broker, source=source)
    except PortfolioError as exc:
        fail(exc)
    typer.echo(json.dumps([r.as_dict() for r in rows], indent=2) if as_json else _table(rows))


@mapping_app.command("review")
def review_cmd(
    below: Annotated[str, typer.Option(help="Show heuristic mappings with a confidence below this (0..1).")] = "1",
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Heuristic mappings (symbol + currency + asset class matches) worth a look, with what each was merged with.

    Confirm one with `mapping set <broker> <id> <its global id>`; split a wrong one with `mapping set ... --new`.
    """
    from portfolio_dashboard.services.mapping import mappings_to_review

    try:
        threshold = Decimal(below)
    except InvalidOperation:
        usage_error(f"--below must be a number between 0 and 1, not {below!r}")
    try:
        rows = mappings_to_review(get_app(), threshold)
    except PortfolioError as exc:
        fail(exc)
    typer.echo(json.dumps([r.as_dict() for r in rows], indent=2) if as_json else _table(rows, merged=True))


@mapping_app.command("set")
def set_cmd(
    broker: Annotated[str, typer.Argument(help="Broker of the instrument to map: ib, schwab, demo.")],
    broker_instrument_id: Annotated[str, typer.Argument(help="Its id at the broker: IB conid, Schwab CUSIP, ...")],
    target: Annotated[
        str | None,
        typer.Argument(help="A global instrument id (or a unique prefix of 6+ characters), or "
                            "<broker>:<broker_instrument_id> of another instrument to count as the same."),
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="Give it a global identity of its own (undo a wrong merge).")]
    = False,
) -> None:
    """Map an instrument by hand. A manual mapping wins, and later captures never change it."""
    from portfolio_dashboard.services.mapping import map_by_hand

    if new == (target is not None):
        usage_error("give either a TARGET or --new")
    try:
        global_id = map_by_hand(get_app(), broker, broker_instrument_id, target)
    except PortfolioError as exc:
        fail(exc)
    typer.echo(f"{broker}:{broker_instrument_id} -> global instrument {global_id} (manual)")


@mapping_app.command("reset")
def reset_cmd(
    broker: Annotated[str, typer.Argument(help="Broker of the instrument: ib, schwab, demo.")],
    broker_instrument_id: Annotated[str, typer.Argument(help="Its id at the broker.")],
) -> None:
    """Drop a manual mapping and let the automatic rules (ISIN, CUSIP, FIGI, heuristic) decide again."""
    from portfolio_dashboard.services.mapping import reset_mapping

    try:
        global_id, decision = reset_mapping(get_app(), broker, broker_instrument_id)
    except PortfolioError as exc:
        fail(exc)
    how = f"{decision.source}, {decision.evidence}" if decision else "unchanged"
    typer.echo(f"{broker}:{broker_instrument_id} -> global instrument {global_id} ({how})")
