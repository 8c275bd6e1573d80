"""The coverage assertion every corpus statement must pass: no row vanishes without a reason."""

from __future__ import annotations

from portfolio_dashboard.domain import NO_LOSS, ParseResult


def assert_accounted(result: ParseResult) -> None:
    """Every section: seen == parsed + skipped, every skip has a reason, and a lossy skip is a warning."""
    assert result.coverage, "the parse reported no coverage at all"
    for line in result.coverage:
        assert line.seen == line.parsed + line.skipped, f"rows vanished in {line}"
        assert line.seen >= 0 and line.parsed >= 0 and line.skipped >= 0, line
        if line.skipped:
            assert line.reasons, f"skipped rows without a reason in {line}"
        lossy = [r for r in line.reasons if not r.startswith(NO_LOSS)]
        for reason in lossy:
            assert any(reason in w for w in result.warnings), f"skip {reason!r} of {line.section} is not a warning"
