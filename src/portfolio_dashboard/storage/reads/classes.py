"""Read model for the user's asset classes: each global instrument's class (the user's, else the default).

The default is computed here from the brokers' labels of every broker instrument mapped to the global one
(``domain.asset_classes.default_class``), so it is never stale and a capture has nothing to write.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import Connection, text

from portfolio_dashboard.domain.asset_classes import ClassFacts, default_class
from portfolio_dashboard.storage.reads.portfolio import AllocationSlice, allocation
from portfolio_dashboard.storage.reads.scope import Scope

ClassLevel = Literal["class", "subclass"]


@dataclass(frozen=True, slots=True)
class InstrumentClass:
    id: uuid.UUID
    symbol: str | None
    name: str | None
    isin: str | None
    currency: str | None
    asset_class: str | None
    broker_labels: tuple[str, ...]
    user_class: str | None
    user_subclass: str | None
    class_source: str | None

    @property
    def default(self) -> tuple[str, str | None]:
        return default_class(ClassFacts(self.asset_class, self.broker_labels, self.name))

    @property
    def is_user(self) -> bool:
        return self.class_source == "user"

    @property
    def effective_class(self) -> str:
        return (self.user_class if self.is_user else None) or self.default[0]

    @property
    def effective_subclass(self) -> str | None:
        return self.user_subclass if self.is_user else self.default[1]


_SQL = """
SELECT g.id, g.symbol, g.name, g.isin, g.currency, g.asset_class,
       COALESCE(array_agg(DISTINCT i.broker_asset_class) FILTER (WHERE i.broker_asset_class IS NOT NULL),
                '{}'::text[]),
       g.user_class, g.user_subclass, g.class_source
FROM global_instruments g
LEFT JOIN instrument_mapping m ON m.global_instrument_id = g.id
LEFT JOIN instruments i ON i.id = m.instrument_id
GROUP BY g.id
ORDER BY g.symbol NULLS LAST, g.id
"""


def instrument_classes(conn: Connection) -> list[InstrumentClass]:
    """Every global instrument with the user's class, the broker labels and (via properties) the default."""
    return [
        InstrumentClass(r[0], r[1], r[2], r[3], r[4], r[5], tuple(sorted(r[6])), r[7], r[8], r[9])
        for r in conn.execute(text(_SQL))
    ]


def allocation_by_class(conn: Connection, scope: Scope, level: ClassLevel = "class", currency: str = "GBP",
                        base: str = "GBP", asof: datetime | None = None) -> list[AllocationSlice]:
    """The latest positions (at or before ``asof``, the time machine) in scope grouped by the user's class (or
    "class · sub-class"), largest first. The classes are today's: a class is the user's label, not history."""
    classes = {str(c.id): c for c in instrument_classes(conn)}
    groups: dict[str, list[AllocationSlice]] = defaultdict(list)
    for s in allocation(conn, scope, "instrument", currency, base, asof):
        known = classes.get(s.key)
        name = known.effective_class if known else "Unclassified"
        if level == "subclass":
            sub = known.effective_subclass if known else None
            name = f"{name} · {sub}" if sub else name
        groups[name].append(s)
    out = [_merge(name, parts) for name, parts in groups.items()]
    return sorted(out, key=lambda s: (s.value_gbp is None, -(s.value_gbp or Decimal(0)), s.label))


def _sum(values: list[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, start=Decimal(0)) if present else None


def _merge(name: str, parts: list[AllocationSlice]) -> AllocationSlice:
    return AllocationSlice(
        key=name, label=name, value_gbp=_sum([p.value_gbp for p in parts]), value=_sum([p.value for p in parts]),
        weight=_sum([p.weight for p in parts]), holdings=sum(p.holdings for p in parts),
        holdings_without_value=sum(p.holdings_without_value for p in parts),
    )
