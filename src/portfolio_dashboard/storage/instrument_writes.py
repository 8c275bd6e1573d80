"""Writes of accounts and broker instruments, each an upsert on its natural key, in key order (two captures
writing the same rows cannot deadlock). A value the broker no longer sends (None) never erases one it sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Account, Instrument


class AccountsAndInstruments:
    """The accounts-and-instruments part of ``Repository``."""

    conn: Connection

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
