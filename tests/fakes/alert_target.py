"""A fake apprise target: ``pdtest://<name>`` records every message it is sent; ``pdtest://fail`` refuses.

Registered with apprise's custom-plugin decorator, so alerts go through the real apprise delivery path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apprise


@dataclass(frozen=True)
class Received:
    target: str
    title: str
    body: str
    notify_type: str


RECEIVED: list[Received] = []


@apprise.decorators.notify(on="pdtest", name="Portfolio Dashboard test target")
def _deliver(body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
    host = str(meta.get("host") or "")
    if host == "fail":
        return False
    RECEIVED.append(Received(host, title, body, str(notify_type)))
    return True


def received(target: str | None = None) -> list[Received]:
    return [r for r in RECEIVED if target is None or r.target == target]


def reset() -> None:
    RECEIVED.clear()
