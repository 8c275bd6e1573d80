"""Every real-shaped statement in tests/corpus runs through its parser and accounts for every row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.brokers.ib_gateway_parse import parse_responses as parse_gateway
from portfolio_dashboard.brokers.schwab_parse import parse_responses as parse_schwab
from portfolio_dashboard.domain import ParseResult, RawResponse
from portfolio_dashboard.errors import ValidationError
from tests.corpus import files, load
from tests.corpus.accounting import assert_accounted

Parser = Callable[[Sequence[RawResponse]], ParseResult]
PARSERS: dict[str, Parser] = {"flex": parse_flex, "schwab": parse_schwab, "ib_gateway": parse_gateway}
VALID = [(kind, path) for kind in PARSERS for path in files(kind)]
INVALID = [(kind, path) for kind in PARSERS for path in files(f"{kind}_invalid")]


def test_the_corpus_covers_every_source() -> None:
    assert {kind for kind, _ in VALID} == set(PARSERS)
    assert len(VALID) >= 13


@pytest.mark.parametrize(("kind", "path"), VALID, ids=[f"{k}/{p.name}" for k, p in VALID])
def test_every_corpus_statement_accounts_for_every_row(kind: str, path: Path) -> None:
    result = PARSERS[kind](load(path))
    assert result.snapshots, "a statement with holdings gives at least one snapshot"
    assert_accounted(result)


@pytest.mark.parametrize(("kind", "path"), VALID, ids=[f"{k}/{p.name}" for k, p in VALID])
def test_reparsing_a_corpus_statement_gives_identical_output(kind: str, path: Path) -> None:
    assert PARSERS[kind](load(path)) == PARSERS[kind](load(path))


@pytest.mark.parametrize(("kind", "path"), INVALID, ids=[f"{k}/{p.name}" for k, p in INVALID])
def test_invalid_corpus_statements_are_validation_failures(kind: str, path: Path) -> None:
    with pytest.raises(ValidationError):
        PARSERS[kind](load(path))
