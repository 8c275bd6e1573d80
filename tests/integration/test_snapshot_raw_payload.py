"""Each snapshot names the raw response it was read from (``snapshots.raw_payload_id``, migration 0013):
stored by a capture, by ``demo seed`` (one document per day), restored by ``reprocess``, backfilled by the
migration where a run kept exactly one successful response of the snapshot's source; the trace and the exports
cite it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from portfolio_dashboard.domain import RunStatus, TriggerContext
from portfolio_dashboard.services import demo_history
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.reprocess import Selection, reprocess
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.engine import make_engine
from portfolio_dashboard.storage.reads import trace
from portfolio_dashboard.storage.reads.exports import snapshot_sha_sql
from tests.integration import rows

LINKS_SQL = """
SELECT s.id, s.run_id, s.source, s.broker_account_id, s.asof_ts, r.id AS raw_id, r.run_id AS raw_run,
       r.source AS raw_source, r.content_sha256, COALESCE(r.body_text, r.payload_json::text) AS body
FROM snapshots s LEFT JOIN raw_payloads r ON r.id = s.raw_payload_id
ORDER BY s.asof_ts, s.broker_account_id
"""


def links(engine: Engine) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return list(conn.execute(text(LINKS_SQL)).mappings())


def test_a_capture_stores_the_response_each_snapshot_was_read_from(app):
    assert capture(TriggerContext(sources=("demo",)), app=app).status == RunStatus.SUCCESS
    found = links(app.engine)
    assert len(found) == 3
    for s in found:
        assert s["raw_id"] is not None, s
        assert (s["raw_run"], s["raw_source"]) == (s["run_id"], "demo")
        assert s["broker_account_id"] in {a["accountId"] for a in json.loads(s["body"])["accounts"]}
    with app.engine.connect() as conn:
        t = trace.snapshot_trace(conn, found[0]["id"])
    assert t is not None and t.raw_payload_id == found[0]["raw_id"]
    assert t.source_payload is not None and t.source_payload[0] == found[0]["raw_id"]
    assert t.source_payload[2] == found[0]["content_sha256"]


def test_demo_history_links_each_day_to_its_own_document(app):
    demo_history.seed(app, 6, end=datetime(2026, 11, 20, 18, tzinfo=UTC))
    found = links(app.engine)
    assert len(found) == 18 and len({s["raw_id"] for s in found}) == 6  # three accounts per daily document
    for s in found:
        doc = json.loads(s["body"])
        assert datetime.fromisoformat(doc["asof"]) == s["asof_ts"]  # its own day's document, not the nearest
        assert s["broker_account_id"] in {a["accountId"] for a in doc["accounts"]}
    # the exports cite the same response
    with app.engine.connect() as conn:
        cited = dict(conn.execute(text(f"SELECT s.id, {snapshot_sha_sql('s')} FROM snapshots s")).all())
    assert cited == {s["id"]: s["content_sha256"] for s in found}


def test_reprocess_records_the_response_again(app):
    demo_history.seed(app, 3, end=datetime(2026, 11, 20, 18, tzinfo=UTC))
    before = {s["id"]: s["raw_id"] for s in links(app.engine)}
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE snapshots SET raw_payload_id = NULL"))
    report = reprocess(app, Selection(all=True))
    assert report.failures == []
    after = {s["id"]: s["raw_id"] for s in links(app.engine)}
    assert after == before and None not in after.values()


def test_the_migration_backfills_runs_with_exactly_one_successful_response(empty_db_url: str):
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine, "0012")
        at = datetime(2026, 11, 20, 21, tzinfo=UTC)
        with engine.begin() as conn:
            rows.account(conn, "ib", "U1")
            one, two, failed_then_ok = rows.run(conn), rows.run(conn), rows.run(conn)
            raws = {name: uuid.uuid4() for name in ("one", "two-a", "two-b", "error", "ok")}
            for name, run, status in (("one", one, 200), ("two-a", two, 200), ("two-b", two, 200),
                                      ("error", failed_then_ok, 503), ("ok", failed_then_ok, 200)):
                conn.execute(text(
                    """INSERT INTO raw_payloads (id, run_id, broker, endpoint, body_text, received_at, source,
                                                 status_code, content_sha256)
                       VALUES (:id, :run, 'ib', 'GET /flex', '<x/>', :at, 'ib_flex', :status, :sha)"""),
                    {"id": raws[name], "run": run, "at": at, "status": status, "sha": name})
            snaps = {}
            for n, run in enumerate((one, two, failed_then_ok)):
                sid = rows.snapshot(conn, run, "ib", "U1", at.replace(hour=n + 1), "100")
                conn.execute(text("UPDATE snapshots SET source = 'ib_flex' WHERE id = :id"), {"id": sid})
                snaps[run] = sid
        migrate.upgrade(engine)
        with engine.connect() as conn:
            linked = dict(conn.execute(text("SELECT id, raw_payload_id FROM snapshots")).all())
        assert linked == {snaps[one]: raws["one"], snaps[two]: None, snaps[failed_then_ok]: raws["ok"]}
        # deleting a response keeps the snapshot (the reference is cleared)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM raw_payloads WHERE id = :id"), {"id": raws["one"]})
            assert conn.execute(text("SELECT raw_payload_id FROM snapshots WHERE id = :id"),
                                {"id": snaps[one]}).scalar() is None
    finally:
        engine.dispose()
