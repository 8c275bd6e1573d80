"""The statement's CSV bundle: exact decimals, a source hash per row, and a round trip back to the Statement."""

from __future__ import annotations

import csv
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from portfolio_dashboard.services.statements.csv_bundle import write_csv_bundle
from portfolio_dashboard.services.statements.csv_bundle_read import read_csv_bundle
from tests.unit.test_statement_model import demo_statement


@pytest.mark.parametrize("name", ["bundle", "bundle.zip"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    st = demo_statement(mask_account_ids=False)
    target = write_csv_bundle(st, tmp_path / name)
    assert read_csv_bundle(target) == st


def test_zip_is_byte_identical_for_the_same_statement(tmp_path: Path) -> None:
    a = write_csv_bundle(demo_statement(), tmp_path / "a.zip").read_bytes()
    b = write_csv_bundle(demo_statement(), tmp_path / "b.zip").read_bytes()
    assert a == b
    assert "holdings_end.csv" in zipfile.ZipFile(tmp_path / "a.zip").namelist()


def test_rows_carry_exact_decimals_and_their_source(tmp_path: Path) -> None:
    st = demo_statement()
    out = write_csv_bundle(st, tmp_path / "bundle")
    with (out / "holdings_start.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[1]["price"] == "8.4125" and rows[1]["fx_rate_gbp_per_unit"] == "1"
    assert [r["source_sha256"] for r in rows] == [h.source_sha256 for h in st.holdings_start]
    assert all(r["account_id"].startswith("****") for r in rows)  # masked as on the PDF
    with (out / "totals.csv").open(newline="") as f:
        totals = {r["figure"]: Decimal(r["value_gbp"]) for r in csv.DictReader(f)}
    assert totals["value_start"] == sum(Decimal(r["value_gbp"]) for r in rows)
    with (out / "income.csv").open(newline="") as f:
        income = list(csv.DictReader(f))
    assert sum(Decimal(r["net_gbp"]) for r in income) == totals["income_net"] == st.income_total.net_gbp
    with (out / "income_by_month.csv").open(newline="") as f:
        assert sum(Decimal(r["net_gbp"]) for r in csv.DictReader(f)) == totals["income_net"]
    with (out / "flows.csv").open(newline="") as f:
        flows = list(csv.DictReader(f))
    assert flows[2]["amount_local"] == "-7390.55" and flows[2]["amount_gbp"] == "-5773.87"
    assert (out / "capital_gains.json").exists()
    assert (out / "capital_gains_totals.csv").read_text().count("\n") == 10


def test_masked_bundle_reads_back_with_the_masked_ids(tmp_path: Path) -> None:
    back = read_csv_bundle(write_csv_bundle(demo_statement(), tmp_path / "m.zip"))
    assert {a.account_id for a in back.accounts} == {"****4567", "****4321", "****6789"}
    assert back.value_end_gbp == demo_statement().value_end_gbp


def test_decimals_in_exponent_form_are_written_plainly(tmp_path: Path) -> None:
    st = demo_statement()
    odd = replace(st.holdings_end[0], quantity=Decimal("1E+2"), fx=replace(st.holdings_end[0].fx, rate=Decimal("1E-7")))
    out = write_csv_bundle(demo_statement(holdings_end=(odd,)), tmp_path / "b")
    with (out / "holdings_end.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["quantity"], row["fx_rate_gbp_per_unit"]) == ("100", "0.0000001")
