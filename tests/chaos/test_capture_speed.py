"""The end-to-end speed benchmark (``bench/capture_speed.py``) in miniature: a capture never beats what the
brokers' pacing rules allow (it respects them), and stays near that bound (it adds little of its own).

The figures themselves come from ``uv run python -m bench.capture_speed`` (docs/benchmarks.md); this test uses
a shorter latency, one timed capture and a looser bound, so a loaded CI machine does not fail it spuriously.
"""

from __future__ import annotations

import pytest
from bench.capture_speed import run


@pytest.mark.slow
def test_capture_time_is_close_to_the_critical_path(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    res = run(latency=0.05, runs=1)
    assert res["requests"] >= 19 and res["positions_written"] >= 400
    # Schwab's ~110 requests/min make it the longest chain (4 requests at least 0.545 s apart)
    assert res["critical_source"] == "schwab"
    assert res["critical_path_s"] >= 3 * 60 / 110
    assert res["wall_s"] >= 0.98 * res["critical_path_s"], "faster than the pacing rules allow"
    assert res["wall_s"] <= 1.5 * res["critical_path_s"] + 1.0, res
    assert 0 < res["db_share"] < 0.5
