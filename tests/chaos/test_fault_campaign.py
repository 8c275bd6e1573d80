"""The fault campaign (see ``campaign.py``): a short one in every test run, the full one under ``-m chaos``.

    uv run pytest tests/chaos/test_fault_campaign.py               # 40 faulted captures
    uv run pytest -m chaos tests/chaos/test_fault_campaign.py -s   # 500, with the counts printed
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from portfolio_dashboard.bootstrap import App
from tests.chaos.campaign import Campaign
from tests.chaos.world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "data") as w:
        yield w


def _run(app: App, world: World, captures: int, seed: int) -> None:
    stats = Campaign(app, world, seed).run(captures)
    print(f"\nfault campaign (seed {seed}):\n{stats.summary()}")
    assert stats.problems == [], "\n".join(stats.problems[:40])
    assert stats.captures == captures
    assert stats.unhandled == 0
    assert stats.uncategorised == 0


@pytest.mark.slow
def test_faulted_captures_end_categorised_and_consistent(app: App, world: World) -> None:
    _run(app, world, captures=40, seed=int(os.environ.get("CHAOS_SEED", "20261124")))


@pytest.mark.chaos
@pytest.mark.timeout(3600)
def test_fault_campaign_500_captures(app: App, world: World) -> None:
    _run(app, world, captures=int(os.environ.get("CHAOS_CAPTURES", "500")),
         seed=int(os.environ.get("CHAOS_SEED", "1")))
