"""One scheduled capture of the simulated year in its own process, so the soak can kill it for real.

    python -m tests.chaos.soak_worker DAY [POINT N]      (DAY: ISO date of the simulated day)

POINT/N as in ``kill_worker`` (the process SIGKILLs itself there). Without POINT and with SOAK_PAUSE_FILE
set, the fetch writes that file and waits, so the soak can SIGTERM it mid-capture.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

from portfolio_dashboard.brokers.base import FetchContext, Recorder
from portfolio_dashboard.brokers.demo import DemoSource
from tests.chaos.soak import capture_time


class PausingDemo(DemoSource):
    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        flag = os.environ.get("SOAK_PAUSE_FILE")
        if flag:
            with open(flag, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(3)  # SIGTERM arrives here; the capture then ends when this fetch returns
        super().fetch(record, ctx)


if __name__ == "__main__":
    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.cli.supervise import exit_on_stop_signals
    from portfolio_dashboard.domain import TriggerContext, TriggerType
    from portfolio_dashboard.services.capture import capture
    from tests.chaos.kill_worker import install

    exit_on_stop_signals()
    day = date.fromisoformat(sys.argv[1])
    if len(sys.argv) == 4:
        install(sys.argv[2], int(sys.argv[3]))
    app = get_app()
    app.reference_factory = lambda _settings: None
    result = capture(TriggerContext(trigger_type=TriggerType.SCHEDULED, triggered_by="soak"), app=app,
                     sources={"demo": PausingDemo(clock=lambda: capture_time(day))})
    print(result.status)
