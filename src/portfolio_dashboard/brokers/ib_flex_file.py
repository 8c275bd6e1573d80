"""Flex statements the user downloaded from IBKR's Client Portal (Reports > Flex Queries), read from files.

A downloaded Activity Flex Query (XML) is the same ``FlexQueryResponse`` document the Flex Web Service
returns, so it is recorded as the ``ib_flex`` source's raw response and parsed by the same parser: stored,
reprocessed and traced exactly like a fetched statement. Its endpoint names the file (no directory: a
machine's paths are not stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.ib_flex import IbFlexSource
from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.domain import ParseResult, RawResponse

SOURCE = IbFlexSource.name
BROKER = IbFlexSource.broker


def file_response(name: str, body: bytes, received_at: datetime | None = None) -> RawResponse:
    """A downloaded statement as the raw response of the ``ib_flex`` source."""
    return RawResponse(
        source=SOURCE,
        broker=BROKER,
        endpoint=f"IMPORT file:{Path(name).name}",
        received_at=received_at or datetime.now(UTC),
        status_code=200,
        body=body,
        content_type="text/xml",
    )


class IbFlexFileSource:
    """The ``ib_flex`` source reading statements from files instead of the Flex Web Service."""

    name = SOURCE
    broker = BROKER
    parser_version = IbFlexSource.parser_version

    def __init__(self, responses: Sequence[RawResponse]) -> None:
        self.responses = list(responses)

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        for raw in self.responses:
            record(raw)

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        return parse_flex(raws)

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, True, True, f"{len(self.responses)} statement file(s)")
