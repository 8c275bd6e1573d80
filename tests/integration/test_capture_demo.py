"""Smoke test of the capture engine with the demo source on a real database."""

from sqlalchemy import text

from portfolio_dashboard.domain import RunStatus, TriggerContext
from portfolio_dashboard.services.capture import capture


def test_demo_capture_stores_snapshots(app):
    result = capture(TriggerContext(sources=("demo",)), app=app)
    assert result.status == RunStatus.SUCCESS
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM snapshots")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM positions")).scalar() == 17
