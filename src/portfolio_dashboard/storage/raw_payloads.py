"""Raw broker responses as stored: how a body maps onto ``raw_payloads``' columns (jsonb, text or exact bytes),
the deterministic payload id, and the insert (conflict key ``id``: storing the same response twice is one row)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.domain.raw import REDACTED_HEADER

# numeric holds 10^131071 down to 10^-16383; stay a little inside
JSONB_MIN_EXPONENT, JSONB_MAX_EXPONENT = -16000, 131000


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _jsonb_number(token: str) -> float:
    """Refuse a number outside PostgreSQL ``numeric``'s range (jsonb stores numbers as numeric)."""
    if not JSONB_MIN_EXPONENT <= Decimal(token).adjusted() <= JSONB_MAX_EXPONENT:
        raise ValueError("number out of jsonb's range")
    return 0.0  # only the check matters: the body is stored as received


def jsonb_text(body: bytes) -> str | None:
    """The body as text when PostgreSQL's ``jsonb`` will take it, else None.

    Python's json is more lenient than jsonb: it reads ``NaN``/``Infinity``, lone UTF-16 surrogate escapes,
    ``\\u0000``, numbers beyond ``numeric``, and UTF-16/32 bodies. A broker body with any of these must still
    be stored (as text), never make the whole write fail.
    """
    try:
        text_body = body.decode("utf-8")
        doc = json.loads(text_body, parse_constant=_no_constant, parse_float=_jsonb_number)
        # A lone surrogate cannot be encoded as UTF-8; a NUL is refused by jsonb (and by text).
        normalised = json.dumps(doc, ensure_ascii=False)
        normalised.encode("utf-8")
    except (ValueError, UnicodeError, RecursionError, ArithmeticError):
        return None
    return None if "\x00" in normalised or "\\u0000" in normalised else text_body


def raw_body_columns(raw: RawResponse) -> tuple[str | None, str | None]:
    """``(payload_json, body_text)``: JSON bodies go to jsonb, anything else (XML, HTML, truncated, or JSON that
    jsonb refuses) to text, verbatim but for NUL characters, which PostgreSQL text cannot hold either.
    ``content_sha256`` keeps the exact bytes' fingerprint either way."""
    as_json = jsonb_text(raw.body)
    if as_json is not None:
        return as_json, None
    return None, raw.text.replace("\x00", "\ufffd")


def exact_body(raw: RawResponse, body_text: str | None) -> bytes | None:
    """The body bytes when the text columns cannot give them back exactly (jsonb re-serialises JSON)."""
    if body_text is not None and body_text.encode() == raw.body:
        return None
    return raw.body


RAW_ID_NAMESPACE = uuid.UUID("3f1d2f8e-5b7a-4c39-9d0e-6a2b8c4f7e11")


def raw_payload_id(run_id: uuid.UUID, raw: RawResponse) -> uuid.UUID:
    """A deterministic id: the same response stored twice for a run (a spool replayed after an ambiguous
    commit, a replay repeated) is one row."""
    received = raw.received_at.astimezone(UTC).isoformat(timespec="microseconds")
    return uuid.uuid5(RAW_ID_NAMESPACE, f"{run_id}|{raw.source}|{raw.endpoint}|{received}|{raw.sha256}")


class RawPayloads:
    """The raw-payload part of ``Repository``."""

    conn: Connection

    def insert_raw_payloads(
        self, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str | None
    ) -> int:
        if not raws:
            return 0
        rows = []
        for raw in raws:
            payload_json, body_text = raw_body_columns(raw)
            rows.append(
                dict(
                    id=raw_payload_id(run_id, raw),
                    run_id=run_id,
                    broker=raw.broker,
                    endpoint=raw.endpoint,
                    payload_json=payload_json,
                    received_at=raw.received_at,
                    source=raw.source,
                    status_code=raw.status_code,
                    content_type=raw.content_type,
                    body_text=body_text,
                    content_sha256=raw.sha256,
                    parser_version=parser_version,
                    headers=json.dumps(raw.headers),
                    body_bytes=exact_body(raw, body_text),
                    redacted=REDACTED_HEADER in raw.headers,
                )
            )
        result = self.conn.execute(
            text(
                """INSERT INTO raw_payloads (id, run_id, broker, endpoint, payload_json, received_at, source,
                       status_code, content_type, body_text, content_sha256, parser_version, headers, body_bytes,
                       redacted)
                   VALUES (:id, :run_id, :broker, :endpoint, CAST(:payload_json AS jsonb), :received_at, :source,
                       :status_code, :content_type, :body_text, :content_sha256, :parser_version,
                       CAST(:headers AS jsonb), :body_bytes, :redacted)
                   ON CONFLICT (id) DO NOTHING"""
            ),
            rows[0] if len(rows) == 1 else rows,  # one row: a plain execute, not the batched executemany path
        )
        return int(result.rowcount)
