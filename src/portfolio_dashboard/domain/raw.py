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
        """The body as JSON; raises ``ValueError`` when it is not JSON or is pathological (see :func:`load_json`)."""
        return load_json(self.body)

    def json_or_none(self) -> Any | None:
        try:
            return load_json(self.body)
        except ValueError:
            return None


# Header this app adds to a response whose body it keeps with secret values replaced by ``***`` (a broker's
# error body echoing the token it was sent); never sent by a broker. See docs/record.md.
REDACTED_HEADER = "x-portfolio-dashboard-redacted"

MAX_JSON_DEPTH = 200  # no broker payload nests deeper than a few dozen levels


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets nest deeper than ``limit`` (outside strings): checked before the recursive parser."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def load_json(body: bytes) -> Any:
    """JSON without the failure modes of hostile bodies: deep nesting and infinite numbers are ``ValueError``."""
    if json_depth_exceeds(body):
        raise ValueError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        # NaN / Infinity / 1e999999 parse (a field nobody reads may hold one); the readers of each field
        # reject non-finite numbers, naming the field.
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nests too deep") from None
