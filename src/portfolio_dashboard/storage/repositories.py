"""The repository of the capture's writes: one object over one connection, each write an upsert that names its
conflict key (and is tested for idempotency). Each responsibility lives in its own module (runs, raw payloads,
accounts and instruments, FX rates, snapshots); ``Repository`` gathers them so a unit of work hands out one
object. Trades are written by ``bulk.upsert_trades``, the one trades write of capture and reprocess alike.

Bulk rows go in as arrays through ``unnest`` — one statement per table per snapshot, however many rows —
which keeps the write path within a small factor of ``COPY`` (see ``bench/write_path.py``). Rows that can
be locked by two writers (instruments, accounts, rates) are written in key order so concurrent captures
cannot deadlock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.fx_rate_writes import FxRates
from portfolio_dashboard.storage.instrument_writes import AccountsAndInstruments
from portfolio_dashboard.storage.raw_payloads import RawPayloads
from portfolio_dashboard.storage.run_records import RunRecords
from portfolio_dashboard.storage.snapshot_writes import Snapshots


class Repository(RunRecords, RawPayloads, AccountsAndInstruments, FxRates, Snapshots):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def newest_trade_ts(self, broker: str, broker_account_id: str) -> datetime | None:
        row = self.conn.execute(
            text("SELECT max(trade_ts) FROM trades WHERE broker = :b AND broker_account_id = :a"),
            {"b": broker, "a": broker_account_id},
        ).first()
        return None if row is None else row[0]
