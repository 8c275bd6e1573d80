"""Writes, each an upsert that names its conflict key (and is tested for idempotency).

Bulk rows go in as arrays through ``unnest`` — one statement per table per snapshot, however many rows —
which keeps the write path within a small factor of ``COPY`` (see ``bench/write_path.py``). Rows that can
be locked by two writers (instruments, accounts, rates) are written in key order so concurrent captures
cannot deadlock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Account, FxRate, Instrument, RawResponse, Trade
from portfolio_dashboard.domain.raw import REDACTED_HEADER
from portfolio_dashboard.storage.bulk import copy_positions
from portfolio_dashboard.storage.exact_record import components_json, run_coverage


class PositionRow(NamedTuple):
    """A position as written, in ``positions``' column order after ``snapshot_id``. A named tuple, not a
    dataclass: a capture builds hundreds of these, and the tuple goes to COPY as it is."""

    instrument_id: uuid.UUID
    quantity: Decimal
    price_local: Decimal | None
    market_value_local: Decimal
    market_value_gbp: Decimal | None
    fx_rate_id: uuid.UUID | None
    cost_basis: Decimal | None
    unrealized_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    run_id: uuid.UUID
    broker: str
    broker_account_id: str
    asof_ts: datetime
    snapshot_key: str
    total_value_local: Decimal | None
    total_value_gbp: Decimal | None
    base_currency: str
    account_currency: str | None
    reported_total_gbp: Decimal | None
    asof_source: str
    source: str
    parser_version: str
    fx_complete: bool
    warnings: Sequence[str]
    # reconciliation (positions + cash + the broker's components vs its total), see docs/record.md
    reconcile_residual_gbp: Decimal | None = None
    reconcile_residual_pct: Decimal | None = None  # percent of the broker's total
    reconcile_components: Mapping[str, Decimal] | None = None  # in GBP, e.g. {"accrued_dividends": ...}
    raw_payload_id: uuid.UUID | None = None  # the stored response its as-of and total were read from


FxKey = tuple[datetime, str, str, str]


def fx_key(rate: FxRate) -> FxKey:
    return (rate.asof_ts, rate.source_ccy, rate.target_ccy, rate.provider)


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


class Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- runs ----------------------------------------------------------------------------------------------
    def create_run(
        self,
        run_id: uuid.UUID,
        *,
        trigger_type: str,
        triggered_by: str | None,
        sources: Sequence[str],
        schema_version: str,
        app_version: str,
        started_at: datetime,
        hostname: str,
        pid: int,
    ) -> None:
        self.conn.execute(
            text(
                """INSERT INTO snapshot_runs (run_id, trigger_type, triggered_by, started_at, status,
                       schema_version, app_version, sources, hostname, pid)
                   VALUES (:run_id, :trigger_type, :triggered_by, :started_at, 'running',
                       :schema_version, :app_version, :sources, :hostname, :pid)
                   ON CONFLICT (run_id) DO NOTHING"""
            ),
            dict(
                run_id=run_id,
                trigger_type=trigger_type,
                triggered_by=triggered_by,
                started_at=started_at,
                schema_version=schema_version,
                app_version=app_version,
                sources=list(sources),
                hostname=hostname,
                pid=pid,
            ),
        )

    def finish_run(
        self,
        run_id: uuid.UUID,
        *,
        status: str,
        finished_at: datetime,
        error_summary: str | None,
        outcome: Any,
        warnings: Sequence[str],
    ) -> None:
        self.conn.execute(
            text(
                """UPDATE snapshot_runs SET status = :status, finished_at = :finished_at,
                       error_summary = :error_summary, outcome = CAST(:outcome AS jsonb),
                       warnings = CAST(:warnings AS jsonb), coverage = CAST(:coverage AS jsonb)
                   WHERE run_id = :run_id"""
            ),
            dict(
                run_id=run_id,
                status=status,
                finished_at=finished_at,
                error_summary=error_summary,
                outcome=json.dumps(outcome, default=str),
                warnings=json.dumps(list(warnings)),
                coverage=json.dumps(run_coverage(outcome), default=str),
            ),
        )

    def running_run_ids(self) -> list[uuid.UUID]:
        rows = self.conn.execute(text("SELECT run_id FROM snapshot_runs WHERE status = 'running'"))
        return [r[0] for r in rows]

    def mark_interrupted(self, run_id: uuid.UUID, finished_at: datetime) -> bool:
        result = self.conn.execute(
            text(
                """UPDATE snapshot_runs SET status = 'fail', finished_at = :at,
                       error_summary = COALESCE(error_summary || '; ', '') ||
                           'interrupted: the capture process ended before finishing this run'
                   WHERE run_id = :run_id AND status = 'running'"""
            ),
            {"run_id": run_id, "at": finished_at},
        )
        return bool(result.rowcount)

    # --- raw payloads --------------------------------------------------------------------------------------
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

    # --- accounts and instruments --------------------------------------------------------------------------
    def upsert_accounts(self, accounts: Iterable[Account]) -> None:
        unique = {(a.broker, a.broker_account_id): a for a in accounts}
        ordered = [unique[k] for k in sorted(unique)]
        if not ordered:
            return
        self.conn.execute(
            text(
                """INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency, account_type,
                                               wrapper, wrapper_source)
                   SELECT b, a, n, c, t, w, CASE WHEN w IS NULL THEN NULL ELSE 'broker' END
                     FROM unnest(CAST(:b AS text[]), CAST(:a AS text[]), CAST(:n AS text[]),
                                 CAST(:c AS text[]), CAST(:t AS text[]), CAST(:w AS text[])) AS u(b, a, n, c, t, w)
                   ON CONFLICT (broker, broker_account_id) DO UPDATE
                       SET name = COALESCE(EXCLUDED.name, broker_accounts.name),
                           base_currency = COALESCE(EXCLUDED.base_currency, broker_accounts.base_currency),
                           account_type = COALESCE(EXCLUDED.account_type, broker_accounts.account_type),
                           -- the user's choice is never overwritten; a broker label only replaces a broker one
                           wrapper = CASE WHEN broker_accounts.wrapper_source = 'user' OR EXCLUDED.wrapper IS NULL
                                          THEN broker_accounts.wrapper ELSE EXCLUDED.wrapper END,
                           wrapper_source = CASE
                                          WHEN broker_accounts.wrapper_source = 'user' OR EXCLUDED.wrapper IS NULL
                                          THEN broker_accounts.wrapper_source ELSE 'broker' END,
                           updated_at = now()
                   WHERE broker_accounts.name IS DISTINCT FROM COALESCE(EXCLUDED.name, broker_accounts.name)
                      OR broker_accounts.base_currency IS DISTINCT FROM
                         COALESCE(EXCLUDED.base_currency, broker_accounts.base_currency)
                      OR broker_accounts.account_type IS DISTINCT FROM
                         COALESCE(EXCLUDED.account_type, broker_accounts.account_type)
                      OR (broker_accounts.wrapper_source IS DISTINCT FROM 'user' AND EXCLUDED.wrapper IS NOT NULL
                          AND broker_accounts.wrapper IS DISTINCT FROM EXCLUDED.wrapper)"""
            ),
            dict(
                b=[a.broker for a in ordered],
                a=[a.broker_account_id for a in ordered],
                n=[a.name for a in ordered],
                c=[a.base_currency for a in ordered],
                t=[a.account_type for a in ordered],
                w=[a.wrapper for a in ordered],
            ),
        )

    _INSTRUMENT_FIELDS = ("symbol", "name", "asset_class", "currency", "isin", "cusip", "figi", "exchange",
                          "broker_asset_class")

    def upsert_instruments(self, instruments: Iterable[Instrument]) -> dict[tuple[str, str], uuid.UUID]:
        """Insert new instruments, fill in identifiers a later response adds; return ids by natural key."""
        return self.upsert_instruments_mapped(instruments)[0]

    def upsert_instruments_mapped(
        self, instruments: Iterable[Instrument]
    ) -> tuple[dict[tuple[str, str], uuid.UUID], set[uuid.UUID]]:
        """``upsert_instruments`` that also says which of them already have a settled global mapping.

        Settled: mapped, not re-described by this capture, and not a weak mapping (heuristic, or an identity
        of its own) whose instrument carries an identifier that could still upgrade it — so that
        ``assign_global_instruments`` has nothing to read on a daily capture.

        Conflict key ``(broker, broker_instrument_id)``. A known instrument is read, not rewritten: most
        captures repeat yesterday's instruments, so one SELECT replaces 500 no-op updates. A value the broker
        no longer sends (None) never erases one it sent before.
        """
        unique = {i.key: i for i in instruments}
        keys = list(unique)  # the read needs no order; writes below go in key order
        if not keys:
            return {}, set()
        fields = self._INSTRUMENT_FIELDS
        found = self.conn.execute(
            text(
                f"""SELECT i.broker, i.broker_instrument_id, i.id,
                           m.instrument_id IS NOT NULL AND NOT COALESCE(
                               (m.mapping_source = 'heuristic' OR m.evidence = 'new')
                               AND (btrim(i.isin) <> '' OR btrim(i.cusip) <> '' OR btrim(i.figi) <> ''), false),
                           {", ".join("i." + f for f in fields)}
                    FROM instruments i
                    JOIN ROWS FROM (json_array_elements_text(CAST(:broker AS json)),
                                    json_array_elements_text(CAST(:bid AS json))) AS k(broker, bid)
                      ON i.broker = k.broker AND i.broker_instrument_id = k.bid
                    LEFT JOIN instrument_mapping m ON m.instrument_id = i.id"""  # noqa: S608 - constant names
            ),
            # JSON, not arrays: psycopg adapts a list element by element in Python, json.dumps in C
            {"broker": json.dumps([k[0] for k in keys]), "bid": json.dumps([k[1] for k in keys])},
        ).all()
        ids: dict[tuple[str, str], uuid.UUID] = {}
        stale: list[Instrument] = []
        stored = {(r[0], r[1]): r for r in found}
        mapped = {r[2] for r in found if r[3]}
        for key in keys:
            inst = unique[key]
            row = stored.get(key)
            if row is not None:
                ids[key] = row[2]
                incoming = self._instrument_values(inst)
                stored_values = row[4:]
                if incoming == stored_values or all(
                        new is None or new == old for new, old in zip(incoming, stored_values, strict=True)):
                    continue
            stale.append(inst)
        mapped -= {stored[i.key][2] for i in stale if i.key in stored}  # new identifiers may remap them
        if stale:
            ids.update(self._write_instruments(sorted(stale, key=lambda i: i.key)))
        return ids, mapped

    @staticmethod
    def _instrument_values(i: Instrument) -> tuple[str | None, ...]:
        return (i.symbol, i.name, str(i.asset_class), i.currency, i.isin, i.cusip, i.figi, i.exchange,
                i.broker_asset_class)

    def _write_instruments(self, rows: Sequence[Instrument]) -> dict[tuple[str, str], uuid.UUID]:
        fields = self._INSTRUMENT_FIELDS
        values = [self._instrument_values(i) for i in rows]
        params: dict[str, Any] = {"broker": [i.broker for i in rows], "bid": [i.broker_instrument_id for i in rows]}
        for n, f in enumerate(fields):
            params[f] = [v[n] for v in values]
        arrays = ", ".join(f"CAST(:{f} AS text[])" for f in fields)
        sets = ", ".join(f"{c} = COALESCE(EXCLUDED.{c}, instruments.{c})" for c in fields)
        result = self.conn.execute(
            text(
                f"""INSERT INTO instruments (broker, broker_instrument_id, {", ".join(fields)})
                    SELECT * FROM unnest(CAST(:broker AS text[]), CAST(:bid AS text[]), {arrays})
                    ON CONFLICT (broker, broker_instrument_id) DO UPDATE SET {sets}, updated_at = now()
                    RETURNING broker, broker_instrument_id, id"""  # noqa: S608 - constant names, bound values
            ),
            params,
        )
        return {(r[0], r[1]): r[2] for r in result}

    # --- fx rates ------------------------------------------------------------------------------------------
    def upsert_fx_rates(self, rates: Iterable[FxRate]) -> dict[FxKey, uuid.UUID]:
        """Store rates (a rate already stored under the same key is kept as first stored); return ids."""
        unique = {fx_key(r): r for r in rates}
        keys = sorted(unique)
        if not keys:
            return {}
        params = {
            "asof": [k[0] for k in keys],
            "src": [k[1] for k in keys],
            "tgt": [k[2] for k in keys],
            "prov": [k[3] for k in keys],
            "rate": [unique[k].rate for k in keys],
        }
        # One round trip: insert what is new and read back every id. The SELECT half sees the table as it was
        # before this statement, the INSERT half returns what it added; together they cover every key.
        sql = text(
            """WITH k AS (
                   SELECT * FROM unnest(CAST(:asof AS timestamptz[]), CAST(:src AS text[]), CAST(:tgt AS text[]),
                                        CAST(:prov AS text[]), CAST(:rate AS numeric[]))
                       AS k(asof, src, tgt, prov, rate)),
               ins AS (
                   INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, provider, rate)
                   SELECT asof, src, tgt, prov, rate FROM k
                   ON CONFLICT (asof_ts, source_ccy, target_ccy, provider) DO NOTHING
                   RETURNING asof_ts, source_ccy, target_ccy, provider, id),
               stored AS (
                   SELECT f.asof_ts, f.source_ccy, f.target_ccy, f.provider, f.id
                   FROM fx_rates f JOIN k
                     ON f.asof_ts = k.asof AND f.source_ccy = k.src AND f.target_ccy = k.tgt AND f.provider = k.prov)
               SELECT * FROM ins
               UNION ALL
               SELECT * FROM stored"""
        )
        found = self.conn.execute(sql, params).all()
        if len({(r[0], r[1], r[2], r[3]) for r in found}) < len(keys):
            # A concurrent capture committed one of these keys after this statement began: read again.
            found = self.conn.execute(sql, params).all()
        # Callers look rates up by the datetime they supplied; PostgreSQL returns it normalised to UTC.
        by_instant = {(r[0].timestamp(), r[1], r[2], r[3]): r[4] for r in found}
        return {k: by_instant[(k[0].timestamp(), k[1], k[2], k[3])] for k in keys}

    def latest_fx_rate(
        self, source_ccy: str, target_ccy: str, at: datetime, providers: Sequence[str]
    ) -> tuple[uuid.UUID, FxRate] | None:
        """The newest stored rate at or before ``at`` from the given providers (either direction)."""
        row = self.conn.execute(
            text(
                """SELECT id, asof_ts, source_ccy, target_ccy, rate, provider FROM fx_rates
                   WHERE ((source_ccy = :s AND target_ccy = :t) OR (source_ccy = :t AND target_ccy = :s))
                     AND provider = ANY(:providers) AND asof_ts <= :at
                   ORDER BY asof_ts DESC LIMIT 1"""
            ),
            {"s": source_ccy, "t": target_ccy, "at": at, "providers": list(providers)},
        ).first()
        if row is None:
            return None
        return row[0], FxRate(row[2], row[3], row[4], row[1], row[5])

    # --- snapshots and positions ---------------------------------------------------------------------------
    def insert_snapshot(self, row: SnapshotRow) -> uuid.UUID | None:
        """Insert a snapshot; ``None`` when its ``snapshot_key`` is already stored (idempotent retry)."""
        result = self.conn.execute(
            text(
                """INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key,
                       total_value_local, total_value_gbp, base_currency, account_currency, reported_total_gbp,
                       asof_source, source, parser_version, fx_complete, warnings, reconcile_residual_gbp,
                       reconcile_residual_pct, reconcile_components, raw_payload_id)
                   VALUES (:run_id, :broker, :broker_account_id, :asof_ts, :snapshot_key, :total_value_local,
                       :total_value_gbp, :base_currency, :account_currency, :reported_total_gbp, :asof_source,
                       :source, :parser_version, :fx_complete, CAST(:warnings AS jsonb), :residual_gbp,
                       :residual_pct, CAST(:components AS jsonb), :raw_payload_id)
                   ON CONFLICT (snapshot_key) DO NOTHING
                   RETURNING id"""
            ),
            dict(
                run_id=row.run_id,
                broker=row.broker,
                broker_account_id=row.broker_account_id,
                asof_ts=row.asof_ts,
                snapshot_key=row.snapshot_key,
                total_value_local=row.total_value_local,
                total_value_gbp=row.total_value_gbp,
                base_currency=row.base_currency,
                account_currency=row.account_currency,
                reported_total_gbp=row.reported_total_gbp,
                asof_source=row.asof_source,
                source=row.source,
                parser_version=row.parser_version,
                fx_complete=row.fx_complete,
                warnings=json.dumps(list(row.warnings)),
                residual_gbp=row.reconcile_residual_gbp,
                residual_pct=row.reconcile_residual_pct,
                components=components_json(row.reconcile_components),
                raw_payload_id=row.raw_payload_id,
            ),
        ).first()
        return None if result is None else result[0]

    def insert_positions(self, snapshot_id: uuid.UUID, rows: Sequence[PositionRow]) -> int:
        """Positions of a snapshot this transaction has just inserted, written with COPY.

        Why COPY and not an upsert: ``insert_snapshot`` returned this id only because the snapshot was new
        (its ``snapshot_key`` upsert inserted it), so none of its positions can exist yet, and validation has
        already rejected two rows for one instrument. The primary key ``(snapshot_id, instrument_id)`` and the
        foreign keys still guard the table, checked by PostgreSQL for every role alike.
        """
        if not rows:
            return 0
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur:
            return copy_positions(cur, ((snapshot_id, *r) for r in rows))

    # --- trades --------------------------------------------------------------------------------------------
    def upsert_trades(
        self,
        run_id: uuid.UUID,
        trades: Sequence[Trade],
        instrument_ids: Mapping[tuple[str, str], uuid.UUID],
        gbp: Mapping[str, tuple[Decimal | None, uuid.UUID | None]],
    ) -> int:
        """Insert trades not yet stored (conflict key ``(broker, broker_trade_id)``); return how many were new.

        ``gbp`` maps a trade id to its GBP amount and the fx rate used (both ``None`` without a rate).
        """
        unique = {(t.broker, t.broker_trade_id): t for t in trades}
        ordered = [unique[k] for k in sorted(unique)]
        if not ordered:
            return 0
        result = self.conn.execute(
            text(
                """INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts,
                       quantity, price_local, amount_local, amount_gbp, currency, commission, realized_pnl,
                       fx_rate_id, description, taxes, status, run_id)
                   SELECT k.*, CAST(:run_id AS uuid) FROM unnest(CAST(:b AS text[]), CAST(:tid AS text[]),
                       CAST(:acct AS text[]), CAST(:iid AS uuid[]), CAST(:ts AS timestamptz[]),
                       CAST(:q AS numeric[]), CAST(:p AS numeric[]), CAST(:amt AS numeric[]),
                       CAST(:gbp AS numeric[]), CAST(:ccy AS text[]), CAST(:comm AS numeric[]),
                       CAST(:pnl AS numeric[]), CAST(:fx AS uuid[]), CAST(:descr AS text[]),
                       CAST(:tax AS numeric[]), CAST(:status AS text[])) AS k
                   ON CONFLICT (broker, broker_trade_id) DO NOTHING"""
            ),
            dict(
                run_id=run_id,
                b=[t.broker for t in ordered],
                tid=[t.broker_trade_id for t in ordered],
                acct=[t.broker_account_id for t in ordered],
                iid=[instrument_ids.get(t.instrument.key) for t in ordered],
                ts=[t.trade_ts for t in ordered],
                q=[t.quantity for t in ordered],
                p=[t.price_local for t in ordered],
                amt=[t.amount_local for t in ordered],
                gbp=[gbp.get(t.broker_trade_id, (None, None))[0] for t in ordered],
                ccy=[t.currency for t in ordered],
                comm=[t.commission for t in ordered],
                pnl=[t.realized_pnl for t in ordered],
                fx=[gbp.get(t.broker_trade_id, (None, None))[1] for t in ordered],
                descr=[t.description for t in ordered],
                tax=[t.taxes for t in ordered],
                status=[t.status for t in ordered],
            ),
        )
        return int(result.rowcount)

    def newest_trade_ts(self, broker: str, broker_account_id: str) -> datetime | None:
        row = self.conn.execute(
            text("SELECT max(trade_ts) FROM trades WHERE broker = :b AND broker_account_id = :a"),
            {"b": broker, "a": broker_account_id},
        ).first()
        return None if row is None else row[0]
