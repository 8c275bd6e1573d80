"""Read model for capital gains: every trade of the taxable accounts with its global instrument, the three
candidate GBP rates of its day, the broker's costs and the hash of the raw statement it came from; splits and
other corporate actions; the user's opening pools and losses brought forward.

Rates (TCGA92/S252, docs/capital-gains.md): the service picks, in order,
- ``broker_rate``: the trade's own broker's rate into GBP of the trade's day (IBKR's ConversionRates /
  ``fxRateToBase`` on a GBP-based account: providers ``ib_flex`` and ``ib``; ``schwab``). The broker's day is
  its statement's report date, which the capture stores at IBKR's 20:20 New York cutoff, so it is compared
  in New York time;
- ``stored_rate``: any other stored rate of that London day (``manual`` and the brokers' rates of other trades
  and valuations), never ECB's and never a demo rate for a real account;
- ``ecb_rate``: ECB's reference rate of that day or, on a day ECB does not publish, the last one in the week
  before.
Rates are stored either way round (``USD->GBP`` or ``GBP->USD``); both directions are read.

Cancelled trades are excluded when the ``trades.status`` column exists (added by the Flex status work); the
query is chosen once per call from the catalogue, so this read works with or without it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, text

_TOKENS = re.compile(r"""[^\s"'<>=,;{}\[\]]+""")

DAY_SQL = "(t.trade_ts AT TIME ZONE 'Europe/London')::date"


@dataclass(frozen=True, slots=True)
class CgtTradeRow:
    broker: str
    broker_trade_id: str
    broker_account_id: str
    wrapper: str | None
    account_currency: str | None
    trade_ts: datetime
    trade_date: date  # the London day: the same-day and 30-day rules count UK days
    quantity: Decimal  # signed: positive buy
    price_local: Decimal | None
    amount_local: Decimal | None
    currency: str | None
    commission: Decimal | None
    taxes: Decimal | None
    global_instrument_id: uuid.UUID | None
    symbol: str | None
    isin: str | None
    name: str | None
    raw_payload_sha256: str | None
    broker_rate: Decimal | None  # GBP per one unit of ``currency``
    stored_rate: Decimal | None
    ecb_rate: Decimal | None


def _rate_sql(where: str, order: str) -> str:
    """GBP per one unit of t.currency from the fx_rates rows matching ``where`` (code constants only)."""
    return f"""(SELECT CASE WHEN f.source_ccy = t.currency THEN f.rate ELSE 1 / f.rate END
                FROM fx_rates f
                WHERE ((f.source_ccy = t.currency AND f.target_ccy = 'GBP')
                       OR (f.source_ccy = 'GBP' AND f.target_ccy = t.currency))
                  AND {where}
                ORDER BY {order} LIMIT 1)"""  # noqa: S608 - code constants, values are bound




def _between(first_day: str, after_last_day: str, zone: str) -> str:
    """``f.asof_ts`` within whole days of ``zone``, as a range the (pair, asof_ts) index serves."""
    return (f"f.asof_ts >= (({first_day})::timestamp AT TIME ZONE '{zone}') "
            f"AND f.asof_ts < (({after_last_day})::timestamp AT TIME ZONE '{zone}')")


_LONDON_DAY = _between(DAY_SQL, f"{DAY_SQL} + 1", "Europe/London")
_NEW_YORK_DAY = _between(DAY_SQL, f"{DAY_SQL} + 1", "America/New_York")
_ECB_WEEK = _between(f"{DAY_SQL} - 7", f"{DAY_SQL} + 1", "Europe/London")
_NOT_DEMO = "(f.provider NOT LIKE 'demo%' OR t.broker = 'demo')"

_TRADES_SQL = f"""
SELECT t.broker, t.broker_trade_id, t.broker_account_id, a.wrapper, a.base_currency AS account_currency,
       t.trade_ts, {DAY_SQL} AS trade_date, t.quantity, t.price_local, t.amount_local, t.currency, t.commission,
       t.taxes, g.id AS global_instrument_id,
       COALESCE(g.symbol, i.symbol) AS symbol, COALESCE(g.isin, i.isin) AS isin, COALESCE(g.name, i.name) AS name,
       t.run_id,
       (SELECT f.rate FROM fx_rates f
         WHERE f.source_ccy = t.currency AND f.target_ccy = 'GBP'
           AND ((t.broker = 'ib' AND f.provider IN ('ib_flex', 'ib'))
                OR (t.broker = 'schwab' AND f.provider = 'schwab'))
           AND {_NEW_YORK_DAY}
         ORDER BY f.asof_ts DESC LIMIT 1) AS broker_rate,
       {_rate_sql(f"f.provider <> 'ecb' AND {_NOT_DEMO} AND {_LONDON_DAY}", "f.asof_ts DESC")} AS stored_rate,
       {_rate_sql(f"f.provider = 'ecb' AND {_ECB_WEEK}", "f.asof_ts DESC")}
           AS ecb_rate
FROM trades t
JOIN broker_accounts a ON a.broker = t.broker AND a.broker_account_id = t.broker_account_id
LEFT JOIN instruments i ON i.id = t.instrument_id
LEFT JOIN instrument_mapping m ON m.instrument_id = t.instrument_id
LEFT JOIN global_instruments g ON g.id = m.global_instrument_id
WHERE (a.wrapper IS NULL OR a.wrapper NOT IN ('ISA', 'LISA', 'JISA', 'SIPP'))
  AND t.quantity <> 0
  {{status}}
ORDER BY t.trade_ts, t.broker, t.broker_trade_id
"""  # noqa: S608 - built from code constants only

_SHELTERED_COUNT_SQL = """
SELECT count(*) FROM trades t
JOIN broker_accounts a ON a.broker = t.broker AND a.broker_account_id = t.broker_account_id
WHERE a.wrapper IN ('ISA', 'LISA', 'JISA', 'SIPP') {status}
"""

_STATUS_FILTER = "AND t.status IS DISTINCT FROM 'cancelled'"


def _has_status(conn: Connection) -> bool:
    return bool(conn.execute(text(
        """SELECT EXISTS (SELECT 1 FROM information_schema.columns
                          WHERE table_schema = current_schema() AND table_name = 'trades'
                            AND column_name = 'status')""")).scalar())


def taxable_trades(conn: Connection) -> list[CgtTradeRow]:
    """Every trade of an account that is not an ISA/LISA/JISA/SIPP (unknown wrapper counts as taxable)."""
    status = _STATUS_FILTER if _has_status(conn) else ""
    rows = conn.execute(text(_TRADES_SQL.replace("{status}", status))).all()
    hashes = _raw_hashes(conn, [(row.run_id, row.broker, row.broker_trade_id) for row in rows])
    out = []
    for row in rows:
        values = list(row)
        values[17] = hashes.get((row.broker, row.broker_trade_id))  # the run id's place: the raw's hash
        out.append(CgtTradeRow(*values))
    return out


def _raw_hashes(conn: Connection, trades: list[tuple[uuid.UUID | None, str, str]]) -> dict[tuple[str, str], str]:
    """The raw response each trade came from: of the run that first stored it (trades keep that run), the only
    successful response of its broker in the run, else the earliest one whose body names the trade's id.

    Bodies are read once per run (a year's Flex statement is megabytes), never once per trade.
    """
    runs = sorted({run for run, _b, _t in trades if run is not None})
    if not runs:
        return {}
    candidates: dict[tuple[uuid.UUID, str], list[tuple[uuid.UUID, str]]] = {}
    for run_id, broker, raw_id, digest in conn.execute(text(
            """SELECT run_id, broker, id, content_sha256 FROM raw_payloads
               WHERE run_id = ANY(CAST(:runs AS uuid[]))
                 AND (status_code IS NULL OR status_code BETWEEN 200 AND 299)
               ORDER BY received_at, id"""), {"runs": runs}).all():
        candidates.setdefault((run_id, broker), []).append((raw_id, digest))
    out: dict[tuple[str, str], str] = {}
    pending: dict[tuple[uuid.UUID, str], list[str]] = {}
    for run_id, broker, trade_id in trades:
        if run_id is None:
            continue
        found = candidates.get((run_id, broker), [])
        if len(found) == 1:
            out[(broker, trade_id)] = found[0][1]
        elif found:
            pending.setdefault((run_id, broker), []).append(trade_id)
    for key, trade_ids in pending.items():
        left = set(trade_ids)
        for raw_id, digest in candidates[key]:
            body = conn.execute(text(
                "SELECT COALESCE(body_text, payload_json::text) FROM raw_payloads WHERE id = :i"),
                {"i": raw_id}).scalar() or ""
            # The body's tokens once (ids are delimited by quotes, spaces, commas in XML and JSON): a set lookup
            # per trade instead of a scan of megabytes per trade, and "T1" never matches inside "T10".
            tokens = set(_TOKENS.findall(body))
            for trade_id in [t for t in left if t in tokens]:
                out[(key[1], trade_id)] = digest
                left.discard(trade_id)
            if not left:
                break
    return out


def sheltered_trade_count(conn: Connection) -> int:
    status = _STATUS_FILTER if _has_status(conn) else ""
    return int(conn.execute(text(_SHELTERED_COUNT_SQL.replace("{status}", status))).scalar() or 0)


@dataclass(frozen=True, slots=True)
class AccountWrapperRow:
    broker: str
    broker_account_id: str
    name: str | None
    wrapper: str | None


def accounts_without_wrapper(conn: Connection) -> list[AccountWrapperRow]:
    """Accounts with trades but no wrapper set: treated as taxable, listed for the user's review."""
    rows = conn.execute(text(
        """SELECT a.broker, a.broker_account_id, COALESCE(a.display_name, a.name), a.wrapper
           FROM broker_accounts a
           WHERE a.wrapper IS NULL AND EXISTS (SELECT 1 FROM trades t WHERE t.broker = a.broker
                                                 AND t.broker_account_id = a.broker_account_id)
           ORDER BY a.broker, a.broker_account_id""")).all()
    return [AccountWrapperRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class CorporateActionRow:
    broker: str
    broker_account_id: str
    broker_action_id: str
    action_date: date
    action_type: str | None
    description: str | None
    quantity: Decimal | None
    global_instrument_id: uuid.UUID | None
    symbol: str | None
    isin: str | None


def corporate_actions(conn: Connection) -> list[CorporateActionRow]:
    """Corporate actions of the taxable accounts, in date order, with the global instrument they concern."""
    rows = conn.execute(text(
        """SELECT c.broker, c.broker_account_id, c.broker_action_id,
                  COALESCE(c.report_date, (c.action_ts AT TIME ZONE 'Europe/London')::date),
                  c.action_type, c.description, c.quantity, g.id, COALESCE(g.symbol, i.symbol),
                  COALESCE(g.isin, i.isin)
           FROM corporate_actions c
           JOIN broker_accounts a ON a.broker = c.broker AND a.broker_account_id = c.broker_account_id
           LEFT JOIN instruments i ON i.id = c.instrument_id
           LEFT JOIN instrument_mapping m ON m.instrument_id = c.instrument_id
           LEFT JOIN global_instruments g ON g.id = m.global_instrument_id
           WHERE a.wrapper IS NULL OR a.wrapper NOT IN ('ISA', 'LISA', 'JISA', 'SIPP')
           ORDER BY c.action_ts, c.broker, c.broker_action_id""")).all()
    return [CorporateActionRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class OpeningPoolRow:
    global_instrument_id: uuid.UUID
    symbol: str | None
    isin: str | None
    quantity: Decimal
    cost_gbp: Decimal
    as_of: date
    note: str | None


def opening_pools(conn: Connection) -> list[OpeningPoolRow]:
    rows = conn.execute(text(
        """SELECT p.global_instrument_id, g.symbol, g.isin, p.quantity, p.cost_gbp, p.as_of, p.note
           FROM cgt_opening_pools p JOIN global_instruments g ON g.id = p.global_instrument_id
           ORDER BY g.symbol, p.global_instrument_id""")).all()
    return [OpeningPoolRow(*row) for row in rows]


def losses_brought_forward(conn: Connection) -> dict[str, Decimal]:
    """The user's stated losses brought forward, by tax year label (``2023-24``)."""
    rows = conn.execute(text("SELECT tax_year, losses_brought_forward_gbp FROM cgt_losses")).all()
    return {row[0]: row[1] for row in rows}


@dataclass(frozen=True, slots=True)
class SecurityMatch:
    global_instrument_id: uuid.UUID
    symbol: str | None
    isin: str | None
    name: str | None


def find_security(conn: Connection, key: str) -> list[SecurityMatch]:
    """Global instruments whose ISIN or symbol is ``key`` (case-insensitive), ISIN matches first."""
    rows = conn.execute(text(
        """SELECT DISTINCT g.id, g.symbol, g.isin, g.name, (upper(g.isin) = upper(:k)) AS by_isin
           FROM global_instruments g
           LEFT JOIN instrument_mapping m ON m.global_instrument_id = g.id
           LEFT JOIN instruments i ON i.id = m.instrument_id
           WHERE upper(g.isin) = upper(:k) OR upper(g.symbol) = upper(:k) OR upper(i.symbol) = upper(:k)
              OR upper(i.isin) = upper(:k)
           ORDER BY by_isin DESC, g.symbol"""), {"k": key.strip()}).all()
    return [SecurityMatch(row[0], row[1], row[2], row[3]) for row in rows]
