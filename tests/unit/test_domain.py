"""Pure domain rules: currencies, snapshot keys, cash as positions, validation and valuation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portfolio_dashboard.domain import AccountSnapshot, AssetClass, FxRate, Position, normalise_currency, snapshot_key
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.domain.valuation import InvalidSnapshotError, validate, value
from tests.fakes.sources import snapshot


def test_minor_units_normalise_to_major_currency():
    assert normalise_currency("GBp") == ("GBP", Decimal(100))
    assert normalise_currency("GBX") == ("GBP", Decimal(100))
    assert normalise_currency("gbp") == ("GBP", Decimal(1))
    assert normalise_currency("ZAc") == ("ZAR", Decimal(100))
    with pytest.raises(UnknownCurrencyError):
        normalise_currency("XYZ")


def test_snapshot_key_is_deterministic_in_utc_at_full_precision_and_excludes_run():
    at = datetime(2026, 6, 30, 16, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    key = snapshot_key("ib", "U1", at)
    assert key == "ib|U1|2026-06-30T15:30:00.123456+00:00"
    assert key == snapshot_key("ib", "U1", at.astimezone(UTC))
    with pytest.raises(ValueError, match="timezone"):
        snapshot_key("ib", "U1", datetime(2026, 1, 1))


def test_cash_balances_become_positions_on_per_currency_cash_instruments():
    s = snapshot(cash=(("GBP", "10"), ("USD", "5")))
    cash = [p for p in s.all_positions() if p.instrument.asset_class == AssetClass.CASH]
    assert [(p.instrument.broker_instrument_id, p.quantity, p.market_value_local) for p in cash] == [
        ("CASH.GBP", Decimal(10), Decimal(10)), ("CASH.USD", Decimal(5), Decimal(5))]


def test_exact_duplicate_rows_are_dropped_with_a_warning_and_conflicting_ones_rejected():
    s = snapshot()
    dup = AccountSnapshot(s.account, s.asof_ts, s.asof_source, s.positions * 2, s.cash, s.total_value_local)
    checked, warnings = validate(dup)
    assert len(checked.positions) == 1 and "duplicate" in warnings[0]
    p = s.positions[0]
    other = Position(p.instrument, p.quantity + 1, p.price_local, p.market_value_local)
    with pytest.raises(InvalidSnapshotError, match="two different position rows"):
        validate(AccountSnapshot(s.account, s.asof_ts, s.asof_source, (p, other), s.cash, s.total_value_local))


@pytest.mark.parametrize(("field", "bad"), [("quantity", Decimal("Infinity")), ("price_local", Decimal("NaN"))])
def test_non_finite_numbers_are_invalid(field, bad):
    s = snapshot()
    p = s.positions[0]
    kwargs = {"quantity": p.quantity, "price_local": p.price_local, "market_value_local": p.market_value_local}
    kwargs[field] = bad
    broken = AccountSnapshot(s.account, s.asof_ts, s.asof_source, (Position(p.instrument, **kwargs),), s.cash)
    with pytest.raises(InvalidSnapshotError, match="not a finite number"):
        validate(broken)


def test_negative_price_and_unknown_currency_are_invalid():
    s = snapshot(positions=(("I1", "AAA", "1", "-2"),))
    with pytest.raises(InvalidSnapshotError, match="negative price"):
        validate(s)
    with pytest.raises(InvalidSnapshotError, match=r"unknown (base )?currency"):
        validate(snapshot(currency="GBX"))


def test_market_value_far_from_quantity_times_price_is_a_warning():
    s = snapshot()
    p = s.positions[0]
    odd = AccountSnapshot(s.account, s.asof_ts, s.asof_source,
                          (Position(p.instrument, p.quantity, p.price_local, Decimal("40")),), s.cash)
    _, warnings = validate(odd)
    assert any("differs from quantity x price" in w for w in warnings)


def test_valuation_converts_and_reconciles():
    s = snapshot(currency="USD", cash=(("USD", "100"),))
    rate = FxRate("USD", "GBP", Decimal("0.8"), s.asof_ts, "x")
    v = value(s, lambda ccy, at: (rate.rate, rate, None) if ccy == "USD" else (Decimal(1), None, None),
              Decimal("0.01"))
    assert v.total_base == Decimal("100.000") and v.reported_total_base == Decimal("100.000")
    assert v.warnings == () and v.fx_complete


# --- coverage account --------------------------------------------------------------------------------------
def test_coverage_counter_balances_and_skip_warnings_leave_out_loss_free_skips():
    from portfolio_dashboard.domain import NO_LOSS, CoverageCounter, skip_warnings, unbalanced

    counter = CoverageCounter()
    counter.seen("Trades", "trade", 3)
    counter.parsed("Trades", "trade", 1)
    counter.skipped("Trades", "no conid", "trade")
    counter.skipped("Trades", f"{NO_LOSS}ORDER row", "trade")
    [line] = counter.lines()
    assert (line.seen, line.parsed, line.skipped, line.reasons) == (3, 1, 2, ("no conid", f"{NO_LOSS}ORDER row"))
    assert line.balanced and unbalanced([line]) == []
    assert skip_warnings([line]) == ["Trades trade: row(s) skipped: no conid"]
    counter.seen("Trades", "trade")
    assert unbalanced(counter.lines()) == list(counter.lines())  # a row seen and never accounted for
