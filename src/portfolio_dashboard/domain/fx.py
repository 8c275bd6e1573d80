"""Foreign-exchange rates."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class FxRate:
    """``rate`` units of ``target_ccy`` for one unit of ``source_ccy`` at ``asof_ts``."""

    source_ccy: str
    target_ccy: str
    rate: Decimal
    asof_ts: datetime  # timezone-aware
    provider: str  # "ib", "ib_flex", "ecb", "manual", "demo"

    def __post_init__(self) -> None:
        if self.asof_ts.tzinfo is None:
            raise ValueError("FxRate.asof_ts must be timezone-aware")
        if not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(f"FX rate {self.source_ccy}->{self.target_ccy} must be positive, got {self.rate}")
