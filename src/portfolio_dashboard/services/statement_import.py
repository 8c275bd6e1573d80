"""``import flex``: store Flex statements downloaded from IBKR's Client Portal, any past year, exactly as a
fetched statement: one capture run (trigger ``import``) whose ``ib_flex`` source records the files' bytes as
its raw responses, parsed and written by the same code as a scheduled capture.

Idempotent: a file whose bytes are already stored as an ``ib_flex`` raw response is skipped before any run
starts, so importing the same file twice stores nothing new; what a new file restates (trades, snapshots of
days already stored) is keyed on the broker's ids and not stored twice either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.ib_flex_file import SOURCE, IbFlexFileSource, file_response
from portfolio_dashboard.domain import RunResult, TriggerContext, TriggerType
from portfolio_dashboard.errors import ParsingError, PortfolioError
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.reads.imports import stored_raw_hashes


class ImportFileError(PortfolioError):
    """A file that cannot be imported (unreadable, or not a Flex statement)."""


@dataclass(slots=True)
class ImportResult:
    imported: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    run: RunResult | None = None

    @property
    def outcome(self) -> str:
        """``success`` when every file was already stored, else the import run's status."""
        return "success" if self.run is None else str(self.run.status)


def import_flex(app: App, paths: Sequence[Path]) -> ImportResult:
    """Import the statement files; raises ``ImportFileError`` before storing anything if one is not valid."""
    responses = []
    seen: set[str] = set()
    for path in paths:
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise ImportFileError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        raw = file_response(path.name, body)
        try:
            parsed = IbFlexFileSource([raw]).parse([raw])
        except ParsingError as exc:
            raise ImportFileError(f"{path.name} is not a Flex statement (XML from Reports > Flex Queries): "
                                  f"{exc.user_message()}") from None
        if not parsed.snapshots and not parsed.trades:
            raise ImportFileError(f"{path.name} holds no statement (no account data or trades)")
        digest = hashlib.sha256(body).hexdigest()
        if digest not in seen:  # the same file named twice on one command line
            seen.add(digest)
            responses.append(raw)
    result = ImportResult()
    app.migrate()
    with app.engine.connect() as conn:
        stored = stored_raw_hashes(conn, SOURCE, [raw.sha256 for raw in responses])
    fresh = [raw for raw in responses if raw.sha256 not in stored]
    result.already_stored = [raw.endpoint.removeprefix("IMPORT file:") for raw in responses if raw.sha256 in stored]
    result.imported = [raw.endpoint.removeprefix("IMPORT file:") for raw in fresh]
    if not fresh:
        return result
    trigger = TriggerContext(TriggerType.IMPORT, f"import flex {' '.join(result.imported)}", (SOURCE,))
    result.run = capture(trigger, app=app, sources={SOURCE: IbFlexFileSource(fresh)})
    return result
