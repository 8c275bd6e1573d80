"""A broker's response exactly as received, kept for audit and reprocessing."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RawResponse:
    source: str  # the source that fetched it: "ib_gateway", "ib_flex", "schwab", "demo", "ecb"
    broker: str  # "ib", "schwab", "demo", "ecb"
    endpoint: str  # method + path (+ query) with every secret removed
    received_at: datetime  # our clock, timezone-aware
    status_code: int | None
    body: bytes
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # a safe subset (Date, Content-Type, Retry-After)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body)

    def json_or_none(self) -> Any | None:
        try:
            return json.loads(self.body)
        except ValueError:
            return None
