"""The coverage account of one parse: every row a payload holds is parsed or skipped with a reason."""

from collections.abc import Iterable
from dataclasses import dataclass, field

# Prefix of reasons for skips that lose nothing: rows restating other rows of the same payload (a Cash
# Report's BASE_SUMMARY, LOT rows under a SUMMARY row, ORDER rows over their executions), positions closed to
# zero, rows another parser reads (cash flows). Accounted for, but no warning.
NO_LOSS = "no loss: "


@dataclass(frozen=True, slots=True)
class CoverageLine:
    """Rows of one section (and kind) of one source's payload and what became of them."""

    section: str  # e.g. "OpenPositions", "accounts.positions", "portfolio/positions"
    kind: str | None
    seen: int
    parsed: int
    skipped: int
    reasons: tuple[str, ...] = ()

    @property
    def balanced(self) -> bool:
        """Every row seen was parsed or skipped, and skips have a reason."""
        return self.seen == self.parsed + self.skipped and (self.skipped == 0 or bool(self.reasons))


@dataclass(slots=True)
class CoverageCounter:
    """A mutable tally a parser fills in while it reads; :meth:`lines` freezes it."""

    _counts: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    _reasons: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)

    def _slot(self, section: str, kind: str | None) -> list[int]:
        return self._counts.setdefault((section, kind), [0, 0, 0])

    def seen(self, section: str, kind: str | None = None, count: int = 1) -> None:
        self._slot(section, kind)[0] += count

    def parsed(self, section: str, kind: str | None = None, count: int = 1) -> None:
        self._slot(section, kind)[1] += count

    def skipped(self, section: str, reason: str, kind: str | None = None, count: int = 1) -> None:
        self._slot(section, kind)[2] += count
        reasons = self._reasons.setdefault((section, kind), [])
        if reason not in reasons:
            reasons.append(reason)

    def lines(self) -> tuple[CoverageLine, ...]:
        return tuple(
            CoverageLine(section, kind, c[0], c[1], c[2], tuple(self._reasons.get((section, kind), ())))
            for (section, kind), c in sorted(self._counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        )


def unbalanced(lines: Iterable[CoverageLine]) -> list[CoverageLine]:
    """Lines where a row vanished (seen != parsed + skipped) or a skip has no reason."""
    return [line for line in lines if not line.balanced]


def skip_warnings(lines: Iterable[CoverageLine]) -> list[str]:
    """One warning per line with skipped rows whose reasons are not all restatements."""
    warnings = []
    for line in lines:
        lost = [r for r in line.reasons if not r.startswith(NO_LOSS)]
        if line.skipped and lost:
            kind = f" {line.kind}" if line.kind else ""
            warnings.append(f"{line.section}{kind}: row(s) skipped: {'; '.join(lost)}")
    return warnings
