"""A :class:`Statement` as a bundle of CSV files (a directory, or a ``.zip`` when the target ends so).

Same content as the PDF, for a spreadsheet: exact decimals (never rounded, never in exponent form), a
``source_sha256`` column on every row, columns ending ``_gbp`` in pounds and columns ending ``_local`` in the
currency named by the row's ``currency`` column. The derived files (``totals.csv``, ``income_by_*.csv``,
``capital_gains_*.csv``) are sums over the row files, written for the reader's convenience;
``csv_bundle_read.read_csv_bundle`` reads only the row files (and ``capital_gains.json``) back, so a bundle round-trips.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from portfolio_dashboard.domain.statement import (
    Statement,
)
from portfolio_dashboard.services.statements.cgt_section import cgt_rows
from portfolio_dashboard.services.statements.fmt import plain

T = TypeVar("T")

HOLDING_COLUMNS = (
    "account_id",
    "security",
    "isin",
    "quantity",
    "price",
    "currency",
    "value_local",
    "fx_rate_gbp_per_unit",
    "fx_provider",
    "fx_date",
    "value_gbp",
    "snapshot_id",
    "source_sha256",
)
FLOW_COLUMNS = ("date", "account_id", "kind", "currency", "amount_local", "amount_gbp", "description", "source_sha256")
INCOME_COLUMNS = (
    "date",
    "account_id",
    "kind",
    "security",
    "isin",
    "currency",
    "gross_local",
    "withholding_tax_local",
    "net_local",
    "fx_rate_gbp_per_unit",
    "gross_gbp",
    "withholding_tax_gbp",
    "net_gbp",
    "source_sha256",
)
GAIN_COLUMNS = (
    "date",
    "account_id",
    "security",
    "isin",
    "quantity",
    "currency",
    "proceeds_local",
    "cost_local",
    "gain_local",
    "broker_realised_local",
    "fx_rate_gbp_per_unit",
    "gain_gbp",
    "source_sha256",
)
RETURNS_COLUMNS = ("twr", "mwr", "gain_gbp", "net_flows_gbp", "unavailable", "source_sha256s")
GROUP_COLUMNS = ("key", "payments", "gross_gbp", "withholding_tax_gbp", "net_gbp")


@dataclass(frozen=True, slots=True)
class _File:
    name: str
    header: Sequence[str]
    rows: Iterable[Sequence[str]]


def write_csv_bundle(statement: Statement, target: Path) -> Path:
    """Write the bundle to ``target`` (a directory, created if needed, or a ``.zip`` file); return ``target``."""
    files = list(_files(statement))
    if target.suffix.lower() == ".zip":
        stamp = statement.generated_at.timetuple()[:6]
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item in files:
                # A fixed timestamp per entry keeps the archive byte-identical for the same statement.
                info = zipfile.ZipInfo(item.name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, _text(item))
        return target
    target.mkdir(parents=True, exist_ok=True)
    for item in files:
        (target / item.name).write_text(_text(item), encoding="utf-8", newline="")
    return target


def _text(item: _File) -> str:
    if not item.header:  # a JSON file rides along as-is
        return "".join(row[0] for row in item.rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(item.header)
    writer.writerows(item.rows)
    return buffer.getvalue()


def _files(st: Statement) -> Iterable[_File]:
    def acct(account_id: str) -> str:
        return next(a.shown_id(st.mask_account_ids) for a in st.accounts if a.account_id == account_id)

    period = st.period
    yield _File(
        "statement.csv",
        ("field", "value"),
        (
            ("title", st.title),
            ("period_label", period.label),
            ("period_kind", period.kind),
            ("period_start", period.start.isoformat()),
            ("period_end", period.end.isoformat()),
            ("generated_at", st.generated_at.isoformat()),
            ("base_currency", st.base_currency),
            ("account_ids_masked", str(st.mask_account_ids).lower()),
        ),
    )
    yield _File(
        "accounts.csv",
        ("broker", "account_id", "wrapper", "currency"),
        ((a.broker, a.shown_id(st.mask_account_ids), a.wrapper, a.currency) for a in st.accounts),
    )
    for name, holdings in (("holdings_start.csv", st.holdings_start), ("holdings_end.csv", st.holdings_end)):
        yield _File(
            name,
            HOLDING_COLUMNS,
            (
                (
                    acct(h.account_id),
                    h.security,
                    h.isin or "",
                    plain(h.quantity),
                    plain(h.price),
                    h.currency,
                    plain(h.value_local),
                    plain(h.fx.rate),
                    h.fx.provider,
                    h.fx.on.isoformat(),
                    plain(h.value_gbp),
                    h.snapshot_id,
                    h.source_sha256,
                )
                for h in holdings
            ),
        )
    yield _File(
        "flows.csv",
        FLOW_COLUMNS,
        (
            (
                f.on.isoformat(),
                acct(f.account_id),
                f.kind,
                f.currency,
                plain(f.amount_local),
                plain(f.amount_gbp),
                f.description,
                f.source_sha256,
            )
            for f in st.flows
        ),
    )
    yield _File(
        "income.csv",
        INCOME_COLUMNS,
        (
            (
                r.on.isoformat(),
                acct(r.account_id),
                r.kind,
                r.security,
                r.isin or "",
                r.currency,
                plain(r.gross_local),
                plain(r.withholding_tax_local),
                plain(r.net_local),
                plain(r.fx_rate),
                plain(r.gross_gbp),
                plain(r.withholding_tax_gbp),
                plain(r.net_gbp),
                r.source_sha256,
            )
            for r in st.income
        ),
    )
    for name, groups in (
        ("income_by_security.csv", st.income_by_security()),
        ("income_by_month.csv", st.income_by_month()),
    ):
        yield _File(
            name,
            GROUP_COLUMNS,
            ((g.key, str(g.rows), plain(g.gross_gbp), plain(g.withholding_tax_gbp), plain(g.net_gbp)) for g in groups),
        )
    yield _File(
        "realised_gains.csv",
        GAIN_COLUMNS,
        (
            (
                g.on.isoformat(),
                acct(g.account_id),
                g.security,
                g.isin or "",
                plain(g.quantity),
                g.currency,
                plain(g.proceeds_local),
                plain(g.cost_local),
                plain(g.gain_local),
                "" if g.broker_realised_local is None else plain(g.broker_realised_local),
                plain(g.fx_rate),
                plain(g.gain_gbp),
                g.source_sha256,
            )
            for g in st.realised_gains
        ),
    )
    if st.returns is not None:
        r = st.returns
        yield _File(
            "returns.csv",
            RETURNS_COLUMNS,
            [
                (
                    _opt(r.twr),
                    _opt(r.mwr),
                    _opt(r.gain_gbp),
                    _opt(r.net_flows_gbp),
                    r.unavailable or "",
                    " ".join(r.sources),
                )
            ],
        )
    income = st.income_total
    yield _File(
        "totals.csv",
        ("figure", "value_gbp"),
        (
            ("value_start", plain(st.value_start_gbp)),
            ("value_end", plain(st.value_end_gbp)),
            ("net_flows", plain(st.net_flows_gbp)),
            ("income_gross", plain(income.gross_gbp)),
            ("income_withholding_tax", plain(income.withholding_tax_gbp)),
            ("income_net", plain(income.net_gbp)),
            ("realised_gain", plain(st.realised_gain_gbp)),
        ),
    )
    if st.capital_gains is not None:
        section = cgt_rows(st.capital_gains)
        report = json.dumps(st.capital_gains, indent=2, sort_keys=True, default=str) + "\n"
        yield _File("capital_gains.json", (), [(report,)])
        totals = st.capital_gains.get("totals")
        if isinstance(totals, Mapping):
            yield _File(
                "capital_gains_totals.csv", ("figure", "value_gbp"), ((str(k), str(v)) for k, v in totals.items())
            )
        yield _File(
            "capital_gains_disposals.csv",
            ("date", "symbol", "isin", "quantity", "proceeds", "cost", "gain", "matched"),
            section.disposals,
        )


def _opt(value: Decimal | None) -> str:
    return "" if value is None else plain(value)
