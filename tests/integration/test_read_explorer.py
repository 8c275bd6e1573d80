"""The data explorer's reads: only catalog relations, newest first, raw bodies hidden, never a write."""

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.reads.explorer import newest_rows, relations


@pytest.fixture
def captured(app):
    app.migrate()
    capture(TriggerContext(sources=("demo",)), app=app)
    capture(TriggerContext(sources=("demo",)), app=app)
    return app


def test_relations_and_newest_rows(captured):
    with captured.engine.connect() as conn:
        found = {r.name: r.kind for r in relations(conn)}
        assert found["snapshot_runs"] == "table"
        assert "view" in found.values()
        runs = newest_rows(conn, "snapshot_runs", 10)
        started = runs.columns.index("started_at")
        assert runs.order_by == "finished_at"
        assert len(runs.rows) == 2
        assert runs.rows[0][started] > runs.rows[1][started]
        raw = newest_rows(conn, "raw_payloads", 1)
        assert set(raw.hidden) == {"payload_json", "body_text", "body_bytes", "headers"}
        assert not set(raw.hidden) & set(raw.columns)
        full = newest_rows(conn, "raw_payloads", 1, include_raw=True)
        assert {"payload_json", "headers"} <= set(full.columns)
        assert full.hidden == []


def test_only_catalog_names_and_no_writes(captured):
    with captured.engine.connect() as conn:
        with pytest.raises(ValueError, match="no table or view"):
            newest_rows(conn, 'snapshot_runs"; DELETE FROM snapshot_runs; --', 5)
        assert not conn.in_transaction()  # rolled back, nothing held open
        assert conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one() == 2
