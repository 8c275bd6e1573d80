"""Every body a broker can send is stored: JSON that PostgreSQL's jsonb refuses goes to text, never fails the
write (regression: a body with ``NaN`` made the whole source fail with a db error and lost its raw payloads)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.storage.raw_payloads import jsonb_text
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

BODIES = {
    "plain JSON": (b'{"rate": 0.79, "ok": true}', "json"),
    "NaN": (b'{"value": NaN}', "text"),
    "Infinity": (b'[1, -Infinity]', "text"),
    "lone high surrogate": (b'{"note": "\\ud83d"}', "text"),
    "lone low surrogate": (b'["\\ude00"]', "text"),
    "surrogate pair": (b'{"note": "\\ud83d\\ude00"}', "json"),
    "escaped NUL": (b'{"note": "a\\u0000b"}', "text"),
    "NUL in a key": (b'{"\\u0000": 1}', "text"),
    "number beyond numeric": (b'{"n": 1e131072}', "text"),
    "tiny number beyond numeric": (b'{"n": 1e-16384}', "text"),
    "big but storable number": (b'{"n": 1e1000}', "json"),
    "UTF-16 JSON": ('{"a": 1}'.encode("utf-16"), "text"),
    "invalid UTF-8": (b'{"a": "\xff\xfe"}', "text"),
    "raw NUL byte in HTML": (b"<html>\x00</html>", "text"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "text"),
    "truncated": (b'[{"conid": 1, "pos', "text"),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_jsonb_text_routes_bodies_jsonb_refuses_to_text(name: str) -> None:
    body, where = BODIES[name]
    assert (jsonb_text(body) is not None) == (where == "json")


def test_every_body_is_stored_with_its_exact_fingerprint(engine) -> None:
    run_id = uuid.uuid4()
    now = datetime.now(UTC)
    raws = [RawResponse("fake", "fake", f"GET /{i}", now, 200, body, "application/json")
            for i, (body, _) in enumerate(BODIES.values())]
    with UnitOfWork(engine) as uow:
        uow.repo.create_run(run_id, trigger_type="manual", triggered_by=None, sources=["fake"], schema_version="x",
                            app_version="x", started_at=now, hostname="h", pid=1)
        assert uow.repo.insert_raw_payloads(run_id, raws, "1") == len(raws)
        uow.commit()
    with engine.connect() as conn:
        rows = {r.endpoint: r for r in conn.execute(text(
            "SELECT endpoint, payload_json IS NOT NULL AS is_json, body_text, content_sha256 FROM raw_payloads"))}
    for i, (name, (body, where)) in enumerate(BODIES.items()):
        row = rows[f"GET /{i}"]
        assert row.is_json == (where == "json"), name
        assert row.content_sha256 == hashlib.sha256(body).hexdigest(), name
        if where == "text" and b"\x00" not in body and not name.startswith(("UTF-16", "invalid")):
            assert row.body_text == body.decode(), name  # verbatim
