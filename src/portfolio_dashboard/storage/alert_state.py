"""The alerting state (which alert is firing since when, what was last sent) in the ``alert_state`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

AlertStateRow = tuple[str, str, datetime | None, datetime | None, bool, str | None]


def load_alert_states(conn: Connection) -> list[AlertStateRow]:
    """``(alert_key, state, since, last_sent_at, pending, message)`` of every alert."""
    rows = conn.execute(text("SELECT alert_key, state, since, last_sent_at, pending, message FROM alert_state"))
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def save_alert_state(conn: Connection, row: AlertStateRow) -> None:
    key, state, since, sent, pending, message = row
    conn.execute(
        text(
            """INSERT INTO alert_state (alert_key, state, since, last_sent_at, pending, message)
               VALUES (:k, :s, :since, :sent, :p, :m)
               ON CONFLICT (alert_key) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,
                   last_sent_at = EXCLUDED.last_sent_at, pending = EXCLUDED.pending,
                   message = EXCLUDED.message, updated_at = now()"""
        ),
        {"k": key, "s": state, "since": since, "sent": sent, "p": pending, "m": message},
    )
