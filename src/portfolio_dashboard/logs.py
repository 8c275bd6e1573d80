"""Logging set-up: one line per event on stderr, readable by a person or (``--log-format json``) a machine.

journald and cron keep stderr, so no log files are written. Secrets never reach a log call: settings hold
them as ``SecretStr`` and URLs are masked before they are formatted; and every formatted line (tracebacks
included) goes through ``scrub_secrets``, because a broker's error text can echo a token.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from portfolio_dashboard.errors import scrub_secrets


class ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub_secrets(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub_secrets(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("portfolio_dashboard").setLevel(level)
