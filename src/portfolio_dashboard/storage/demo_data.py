"""Removing the demo source's data, children first; real accounts are never touched."""

from __future__ import annotations

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.flows import DEMO_DELETES

# (what the user is told was removed, the statement); the order respects the foreign keys
_STATEMENTS = (
    *DEMO_DELETES,  # flows first: they reference runs, raw payloads, instruments and rates
    ("positions", "DELETE FROM positions p USING snapshots s WHERE p.snapshot_id = s.id AND s.broker = :b"),
    ("trades", "DELETE FROM trades WHERE broker = :b"),
    ("snapshots", "DELETE FROM snapshots WHERE broker = :b"),
    ("raw payloads", "DELETE FROM raw_payloads WHERE broker = :b"),
    ("mappings", "DELETE FROM instrument_mapping m USING instruments i "
                 "WHERE m.instrument_id = i.id AND i.broker = :b"),
    ("instruments", "DELETE FROM instruments WHERE broker = :b"),
    ("global instruments", "DELETE FROM global_instruments g WHERE NOT EXISTS "
                           "(SELECT 1 FROM instrument_mapping m WHERE m.global_instrument_id = g.id)"),
    ("accounts", "DELETE FROM broker_accounts WHERE broker = :b"),
    # A real account valued at a demo rate (before provenance was enforced) loses that value: it was made up.
    ("real positions unvalued", "UPDATE positions p SET market_value_gbp = NULL, fx_rate_id = NULL "
                                "FROM fx_rates f WHERE p.fx_rate_id = f.id AND f.provider LIKE '%demo%'"),
    ("real trades unvalued", "UPDATE trades t SET amount_gbp = NULL, fx_rate_id = NULL "
                             "FROM fx_rates f WHERE t.fx_rate_id = f.id AND f.provider LIKE '%demo%'"),
    ("real cash flows unvalued", "UPDATE cash_flows c SET amount_gbp = NULL, fx_rate_id = NULL "
                                 "FROM fx_rates f WHERE c.fx_rate_id = f.id AND f.provider LIKE '%demo%'"),
    ("fx rates", "DELETE FROM fx_rates WHERE provider LIKE '%demo%'"),
    ("runs", "DELETE FROM snapshot_runs r WHERE r.sources = ARRAY['demo']::text[] AND NOT EXISTS "
             "(SELECT 1 FROM snapshots s WHERE s.run_id = r.run_id) AND NOT EXISTS "
             "(SELECT 1 FROM raw_payloads p WHERE p.run_id = r.run_id) AND NOT EXISTS "
             "(SELECT 1 FROM trades t WHERE t.run_id = r.run_id) AND NOT EXISTS "
             "(SELECT 1 FROM cash_flows c WHERE c.run_id = r.run_id)"),
)


def delete_broker_data(conn: Connection, broker: str) -> dict[str, int]:
    """Delete every row of ``broker`` (the caller holds the source's lock and commits); counts per kind."""
    return {label: conn.execute(text(sql), {"b": broker}).rowcount for label, sql in _STATEMENTS}
