"""Read model for the account settings: each broker account with its wrapper, label and who set them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class AccountSetting:
    broker: str
    broker_account_id: str
    name: str | None  # the broker's name for it
    display_name: str | None  # the user's name for it (None: use ``name``)
    base_currency: str | None
    account_type: str | None  # the broker's own label
    wrapper: str | None
    wrapper_source: str | None  # "broker" | "user" | None
    last_asof: datetime | None

    @property
    def key(self) -> str:
        return f"{self.broker}:{self.broker_account_id}"

    @property
    def label(self) -> str:
        return self.display_name or self.name or self.broker_account_id


_SQL = """
SELECT a.broker, a.broker_account_id, a.name, a.display_name, a.base_currency, a.account_type, a.wrapper,
       a.wrapper_source,
       (SELECT max(s.asof_ts) FROM snapshots s WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id)
FROM broker_accounts a
WHERE (CAST(:broker AS text) IS NULL OR a.broker = :broker)
ORDER BY a.broker, a.broker_account_id
"""


def account_settings(conn: Connection, broker: str | None = None) -> list[AccountSetting]:
    """Every broker account (optionally of one broker) with its wrapper and names, by broker and number."""
    return [AccountSetting(*r) for r in conn.execute(text(_SQL), {"broker": broker})]
