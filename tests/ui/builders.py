"""Exact rows for read-query tests: runs, accounts, instruments, snapshots, positions and rates by hand.

The capture engine is tested elsewhere; these tests need values they can predict to the penny, so rows go
in with plain SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text

D = Decimal


class Book:
    def __init__(self, conn: Connection, *, trigger: str = "scheduled", sources: tuple[str, ...] = ("ib_gateway",)):
        self.conn = conn
        self.run_id = self.run(trigger=trigger, sources=sources)

    def run(self, *, trigger: str = "scheduled", sources: tuple[str, ...] = ("ib_gateway",), status: str = "success",
            started: datetime | None = None, error: str | None = None) -> uuid.UUID:
        run_id = uuid.uuid4()
        self.conn.execute(
            text("""INSERT INTO snapshot_runs (run_id, trigger_type, started_at, finished_at, status, schema_version,
                                               sources, error_summary, outcome)
                    VALUES (:r, :t, COALESCE(:s, now()), COALESCE(:s, now()) + interval '3 seconds', :st, '0001',
                            :src, :e, CAST(:o AS jsonb))"""),
            {"r": run_id, "t": trigger, "s": started, "st": status, "src": list(sources), "e": error,
             "o": f'[{{"source": "{sources[0]}", "status": "{status}", "accounts": ["U1234321"]}}]'},
        )
        return run_id

    def account(self, broker: str, account_id: str, name: str | None = None, currency: str = "GBP") -> None:
        self.conn.execute(
            text("INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency) "
                 "VALUES (:b, :a, :n, :c)"),
            {"b": broker, "a": account_id, "n": name, "c": currency},
        )

    def instrument(self, broker: str, symbol: str, *, name: str | None = None, asset_class: str = "equity",
                   currency: str = "GBP", isin: str | None = None) -> uuid.UUID:
        return self.conn.execute(
            text("""INSERT INTO instruments (broker, broker_instrument_id, symbol, name, asset_class, currency, isin)
                    VALUES (:b, :bid, :s, :n, :ac, :c, :i) RETURNING id"""),
            {"b": broker, "bid": f"{broker}:{symbol}", "s": symbol, "n": name or symbol, "ac": asset_class,
             "c": currency, "i": isin},
        ).scalar_one()

    def global_instrument(self, symbol: str, *, name: str | None = None, asset_class: str = "equity",
                          currency: str = "GBP", isin: str | None = None) -> uuid.UUID:
        return self.conn.execute(
            text("""INSERT INTO global_instruments (symbol, name, asset_class, currency, isin)
                    VALUES (:s, :n, :ac, :c, :i) RETURNING id"""),
            {"s": symbol, "n": name or symbol, "ac": asset_class, "c": currency, "i": isin},
        ).scalar_one()

    def map(self, instrument_id: uuid.UUID, global_id: uuid.UUID, source: str = "broker") -> None:
        self.conn.execute(
            text("""INSERT INTO instrument_mapping (global_instrument_id, instrument_id, mapping_source, confidence)
                    VALUES (:g, :i, :s, 1)"""),
            {"g": global_id, "i": instrument_id, "s": source},
        )

    def snapshot(self, broker: str, account_id: str, asof: datetime, total_gbp: Decimal | None, *,
                 total_local: Decimal | None = None, currency: str = "GBP", run_id: uuid.UUID | None = None,
                 positions: list[tuple[uuid.UUID, Decimal, Decimal, Decimal, Decimal | None, Decimal | None,
                                       Decimal | None]] | None = None) -> uuid.UUID:
        """positions: (instrument_id, quantity, price_local, value_local, value_gbp, cost_basis, unrealized_pnl)."""
        snap_id = self.conn.execute(
            text("""INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local,
                                           total_value_gbp, account_currency, asof_source, source, fx_complete)
                    VALUES (:r, :b, :a, :t, :k, :tl, :tg, :c, 'test', 'test', :fx) RETURNING id"""),
            {"r": run_id or self.run_id, "b": broker, "a": account_id, "t": asof, "k": f"{broker}:{account_id}:{asof}",
             "tl": total_local if total_local is not None else total_gbp, "tg": total_gbp, "c": currency,
             "fx": total_gbp is not None},
        ).scalar_one()
        for inst, qty, price, value_local, value_gbp, cost, pnl in positions or []:
            self.conn.execute(
                text("""INSERT INTO positions (snapshot_id, instrument_id, quantity, price_local, market_value_local,
                                               market_value_gbp, cost_basis, unrealized_pnl)
                        VALUES (:s, :i, :q, :p, :vl, :vg, :c, :u)"""),
                {"s": snap_id, "i": inst, "q": qty, "p": price, "vl": value_local, "vg": value_gbp, "c": cost,
                 "u": pnl},
            )
        return snap_id

    def rate(self, source: str, target: str, rate: Decimal, asof: datetime, provider: str = "ecb") -> None:
        self.conn.execute(
            text("""INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, rate, provider)
                    VALUES (:t, :s, :d, :r, :p)"""),
            {"t": asof, "s": source, "d": target, "r": rate, "p": provider},
        )

    def payload(self, run_id: uuid.UUID, *, endpoint: str, json_body: str | None = None, body_text: str | None = None,
                content_type: str = "application/json") -> uuid.UUID:
        return self.conn.execute(
            text("""INSERT INTO raw_payloads (run_id, broker, endpoint, payload_json, body_text, received_at, source,
                                              status_code, content_type, content_sha256, headers)
                    VALUES (:r, 'ib', :e, CAST(:j AS jsonb), :b, now(), 'ib_flex', 200, :ct, 'abc123',
                            CAST('{"date": "Tue, 10 Mar 2026 16:35:00 GMT"}' AS jsonb)) RETURNING id"""),
            {"r": run_id, "e": endpoint, "j": json_body, "b": body_text, "ct": content_type},
        ).scalar_one()
