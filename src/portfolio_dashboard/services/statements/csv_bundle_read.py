"""Reading a statement's CSV bundle back (see :mod:`csv_bundle`): only the row files (and
``capital_gains.json``) are read, so a bundle round-trips to the statement it was written from."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

from portfolio_dashboard.domain.statement import (
    Flow,
    FxUsed,
    Holding,
    IncomeRow,
    Period,
    RealisedGain,
    ReturnsSummary,
    Statement,
    StatementAccount,
)

T = TypeVar("T")


def read_csv_bundle(source: Path) -> Statement:
    """The statement a bundle was written from (with the ids as the bundle shows them, masked or not)."""
    texts = _read_texts(source)

    def table(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(texts[name]))) if name in texts else []

    meta = {row["field"]: row["value"] for row in table("statement.csv")}
    period = Period(
        date.fromisoformat(meta["period_start"]),
        date.fromisoformat(meta["period_end"]),
        meta["period_label"],
        meta["period_kind"],
    )
    returns = None
    for row in table("returns.csv"):
        returns = ReturnsSummary(
            _dec(row["twr"]),
            _dec(row["mwr"]),
            _dec(row["gain_gbp"]),
            _dec(row["net_flows_gbp"]),
            row["unavailable"] or None,
            tuple(row["source_sha256s"].split()),
        )
    capital_gains = json.loads(texts["capital_gains.json"]) if "capital_gains.json" in texts else None
    return Statement(
        period=period,
        generated_at=datetime.fromisoformat(meta["generated_at"]),
        accounts=tuple(
            StatementAccount(r["broker"], r["account_id"], r["wrapper"], r["currency"]) for r in table("accounts.csv")
        ),
        holdings_start=_rows(table("holdings_start.csv"), _holding),
        holdings_end=_rows(table("holdings_end.csv"), _holding),
        flows=_rows(
            table("flows.csv"),
            lambda r: Flow(
                r["account_id"],
                date.fromisoformat(r["date"]),
                r["kind"],
                r["currency"],
                Decimal(r["amount_local"]),
                Decimal(r["amount_gbp"]),
                r["description"],
                r["source_sha256"],
            ),
        ),
        income=_rows(
            table("income.csv"),
            lambda r: IncomeRow(
                r["account_id"],
                date.fromisoformat(r["date"]),
                cast(Any, r["kind"]),
                r["security"],
                r["isin"] or None,
                r["currency"],
                Decimal(r["gross_local"]),
                Decimal(r["withholding_tax_local"]),
                Decimal(r["fx_rate_gbp_per_unit"]),
                Decimal(r["gross_gbp"]),
                Decimal(r["withholding_tax_gbp"]),
                r["source_sha256"],
            ),
        ),
        realised_gains=_rows(
            table("realised_gains.csv"),
            lambda r: RealisedGain(
                r["account_id"],
                date.fromisoformat(r["date"]),
                r["security"],
                r["isin"] or None,
                Decimal(r["quantity"]),
                r["currency"],
                Decimal(r["proceeds_local"]),
                Decimal(r["cost_local"]),
                Decimal(r["fx_rate_gbp_per_unit"]),
                Decimal(r["gain_gbp"]),
                _dec(r["broker_realised_local"]),
                r["source_sha256"],
            ),
        ),
        returns=returns,
        capital_gains=capital_gains,
        mask_account_ids=meta["account_ids_masked"] == "true",
        title=meta["title"],
        base_currency=meta["base_currency"],
    )


def _read_texts(source: Path) -> dict[str, str]:
    if source.is_dir():
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(source.iterdir()) if p.is_file()}
    with zipfile.ZipFile(source) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def _rows(rows: list[dict[str, str]], make: Callable[[dict[str, str]], T]) -> tuple[T, ...]:
    return tuple(make(row) for row in rows)


def _holding(r: dict[str, str]) -> Holding:
    return Holding(
        r["account_id"],
        r["security"],
        r["isin"] or None,
        Decimal(r["quantity"]),
        Decimal(r["price"]),
        r["currency"],
        Decimal(r["value_local"]),
        FxUsed(Decimal(r["fx_rate_gbp_per_unit"]), r["fx_provider"], date.fromisoformat(r["fx_date"])),
        Decimal(r["value_gbp"]),
        r["snapshot_id"],
        r["source_sha256"],
    )


def _dec(text: str) -> Decimal | None:
    return Decimal(text) if text else None
