"""Run one capture of a large synthetic source (for the SIGKILL crash test). Usage: crash_worker.py SEED."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.cli.common import exit_code
from portfolio_dashboard.domain import ParseResult, TriggerContext
from portfolio_dashboard.services.capture import capture
from tests.fakes.sources import ScriptedSource, snapshot

SNAPSHOTS = 20
POSITIONS = 200


def big_source(seed: int) -> ScriptedSource:
    base = datetime(2026, 1, 1, 16, tzinfo=UTC) + timedelta(days=seed * SNAPSHOTS)
    snaps = tuple(
        snapshot("crash", f"ACC{i % 3}", asof=base + timedelta(days=i),
                 positions=[(f"I{j}", f"S{j}", str(j + 1), "1.5") for j in range(POSITIONS)])
        for i in range(SNAPSHOTS)
    )
    return ScriptedSource("crash", result=ParseResult(snapshots=snaps))


if __name__ == "__main__":
    result = capture(TriggerContext(), app=get_app(), sources={"crash": big_source(int(sys.argv[1]))})
    print(result.status)
    sys.exit(exit_code(result.status))
