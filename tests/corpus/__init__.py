"""A corpus of real-shaped broker payloads (anonymised, written for this project from IBKR's Flex reference
and Schwab's / IBKR's API documentation) and the loader that turns a file into recorded responses.

* ``flex/*.xml`` — one Flex ``FlexQueryResponse`` each; ``flex_invalid/`` must fail validation.
* ``schwab/*.json``, ``ib_gateway/*.json`` — ``{"description", "responses": [{"endpoint", "status",
  "headers", "body"}]}``: one capture's recorded responses in order; ``*_invalid/`` must fail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from portfolio_dashboard.domain import RawResponse

ROOT = Path(__file__).parent
RECEIVED = datetime(2025, 6, 12, 20, 0, 2, tzinfo=UTC)
BROKERS = {"flex": ("ib_flex", "ib"), "schwab": ("schwab", "schwab"), "ib_gateway": ("ib_gateway", "ib")}


def files(kind: str) -> list[Path]:
    return sorted((ROOT / kind).glob("*.xml" if kind.startswith("flex") else "*.json"))


def load(path: Path) -> list[RawResponse]:
    kind = path.parent.name.removesuffix("_invalid")
    source, broker = BROKERS[kind]
    if path.suffix == ".xml":
        endpoint = "GET /AccountManagement/FlexWebService/GetStatement?t=***&q=1&v=3"
        return [RawResponse(source, broker, endpoint, RECEIVED, 200, path.read_bytes(), "text/xml")]
    capture = json.loads(path.read_text())
    return [
        RawResponse(
            source,
            broker,
            item["endpoint"],
            RECEIVED,
            item["status"],
            json.dumps(item["body"]).encode(),
            "application/json",
            item.get("headers", {}),
        )
        for item in capture["responses"]
    ]
