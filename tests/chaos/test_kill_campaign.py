"""The kill campaign (see ``kills.py``): a short one in every test run, the full one under ``-m chaos``.

    uv run pytest tests/chaos/test_kill_campaign.py              # 4 kills, one of each kind
    uv run pytest -m chaos tests/chaos/test_kill_campaign.py -s  # 100 kills, with the counts printed
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.kills import KillCampaign
from tests.chaos.world import World


@pytest.fixture
def world(cli_env: dict[str, str]) -> Iterator[World]:
    with World(Path(cli_env["PORTFOLIO_DATA_DIR"]), tls=False) as w:
        yield w


def _run(cli_env: dict[str, str], db_url: str, world: World, kills: int, seed: int,
         plan: list[str] | None = None) -> None:
    stats = KillCampaign(cli_env, db_url, world, seed).run(kills, plan)
    print(f"\nkill campaign (seed {seed}):\n{stats.summary()}")
    assert stats.problems == [], "\n".join(stats.problems[:40])
    assert stats.next_captures_ok == stats.runs
    assert stats.killed >= stats.runs // 2, "most kill points should land while the capture runs"


@pytest.mark.slow
def test_sigkilled_captures_leave_consistent_state_and_the_next_succeeds(cli_env, db_url, world) -> None:
    # inside a write transaction, in the middle of a COPY, inside a spool write, at a random instant
    plan = ["insert_snapshot:3", "copy_row:8", "spool fsync:4", "timer"]
    _run(cli_env, db_url, world, kills=len(plan), seed=int(os.environ.get("CHAOS_SEED", "20261124")), plan=plan)


@pytest.mark.chaos
@pytest.mark.timeout(3600)
def test_kill_campaign_100_runs(cli_env, db_url, world) -> None:
    _run(cli_env, db_url, world, kills=int(os.environ.get("CHAOS_KILLS", "100")),
         seed=int(os.environ.get("CHAOS_SEED", "1")))
