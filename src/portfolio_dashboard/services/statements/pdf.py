"""Render a :class:`Statement` to a PDF a person can read and hand to an accountant.

fpdf2 lays out the tables (they break across pages and repeat their headings). Every row ends with a
number in the "Src" column that refers to the numbered source list at the end, where the full SHA-256 of
the raw broker payload is printed: a 64-character hash on every row would crowd the figures out.

The output is deterministic: the creation date is the statement's ``generated_at`` and nothing else in the
file depends on the clock, so the same statement renders to the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from portfolio_dashboard.domain.statement import Holding, Statement
from portfolio_dashboard.services.statements import fmt
from portfolio_dashboard.services.statements.cgt_section import cgt_rows

FONT = "StatementSans"
BODY_SIZE = 8
HEADING_FILL = (232, 236, 241)
TOTAL_STYLE = FontFace(emphasis="BOLD", fill_color=(246, 246, 246))
HEADING_STYLE = FontFace(emphasis="BOLD", fill_color=HEADING_FILL)


class _StatementPdf(FPDF):
    """An A4 landscape page with the statement's title and page numbers in the footer."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7)
        self.set_text_color(110)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)


def render_pdf(statement: Statement, target: Path | None = None) -> bytes:
    """The statement as PDF bytes; also written to ``target`` when one is given."""
    pdf = _StatementPdf(f"{statement.title} · {statement.period.label}")
    fonts = files("portfolio_dashboard.services.statements").joinpath("fonts")
    pdf.add_font(FONT, "", fname=str(fonts.joinpath("StatementSans.ttf")))
    pdf.add_font(FONT, "B", fname=str(fonts.joinpath("StatementSans-Bold.ttf")))
    pdf.set_creation_date(statement.generated_at)
    pdf.set_title(f"{statement.title}: {statement.period.label}")
    pdf.set_creator("Portfolio Dashboard")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(12, 12, 12)
    pdf.add_page()
    sources = {sha: n for n, sha in enumerate(statement.sources(), start=1)}
    _title(pdf, statement)
    _summary(pdf, statement)
    _accounts(pdf, statement)
    _holdings(pdf, statement, sources, statement.holdings_start, f"Holdings at {statement.period.start:%d %B %Y}")
    _holdings(pdf, statement, sources, statement.holdings_end, f"Holdings at {statement.period.end:%d %B %Y}")
    _flows(pdf, statement, sources)
    _income(pdf, statement, sources)
    _gains(pdf, statement, sources)
    _returns(pdf, statement, sources)
    _capital_gains(pdf, statement)
    _source_list(pdf, statement)
    data = bytes(pdf.output())
    if target is not None:
        target.write_bytes(data)
    return data


# ---- sections ------------------------------------------------------------------------------------------------
def _title(pdf: FPDF, st: Statement) -> None:
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, st.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 11)
    span = f"{st.period.label}: {st.period.start:%d %B %Y} to {st.period.end:%d %B %Y}"
    pdf.cell(0, 6, span, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.set_text_color(90)
    note = (
        f"Generated {st.generated_at:%d %B %Y %H:%M %Z}. Amounts in {st.base_currency} unless a column names "
        "another currency. Each row's Src number refers to the source list at the end: the SHA-256 of the raw "
        "broker response the figure was read from."
    )
    pdf.multi_cell(0, 4, note, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(2)


def _summary(pdf: FPDF, st: Statement) -> None:
    income = st.income_total
    rows = [
        (f"Value at {st.period.start:%d %b %Y}", fmt.money(st.value_start_gbp)),
        (f"Value at {st.period.end:%d %b %Y}", fmt.money(st.value_end_gbp)),
        ("Net flows (deposits less withdrawals)", fmt.money(st.net_flows_gbp)),
        ("Income received, net of withholding tax", fmt.money(income.net_gbp)),
        ("Realised gains (broker figures)", fmt.money(st.realised_gain_gbp)),
    ]
    _heading(pdf, "Summary")
    _table(pdf, ("Figure", "GBP"), rows, (70, 35), align="LR", width=105)


def _accounts(pdf: FPDF, st: Statement) -> None:
    _heading(pdf, "Accounts")
    rows = [(a.broker, a.shown_id(st.mask_account_ids), a.wrapper, a.currency) for a in st.accounts]
    _table(pdf, ("Broker", "Account", "Wrapper", "Base currency"), rows, (30, 40, 25, 30), align="LLLL", width=125)


def _holdings(pdf: FPDF, st: Statement, src: dict[str, int], holdings: Sequence[Holding], title: str) -> None:
    _heading(pdf, title)
    if not holdings:
        _empty(pdf, "No holdings.")
        return
    head = (
        "Account",
        "Security",
        "ISIN",
        "Quantity",
        "Price",
        "Value (local)",
        "FX rate",
        "Rate from",
        "Value GBP",
        "Src",
    )
    rows = [
        (
            st.account_label(h.account_id),
            h.security,
            h.isin or "",
            fmt.number(h.quantity),
            f"{fmt.number(h.price)} {h.currency}",
            fmt.money(h.value_local, h.currency),
            fmt.number(h.fx.rate),
            f"{h.fx.provider} {h.fx.on:%d/%m/%Y}",
            fmt.money(h.value_gbp),
            str(src[h.source_sha256]),
        )
        for h in holdings
    ]
    total = ("Total", "", "", "", "", "", "", "", fmt.money(sum((h.value_gbp for h in holdings), Decimal(0))), "")
    _table(pdf, head, rows, (30, 44, 26, 24, 26, 30, 22, 30, 28, 13), align="LLLRRRRLRR", total=total)


def _flows(pdf: FPDF, st: Statement, src: dict[str, int]) -> None:
    _heading(pdf, "Flows")
    if not st.flows:
        _empty(pdf, "No deposits, withdrawals or transfers in the period.")
        return
    head = ("Date", "Account", "Kind", "Description", "Amount (local)", "Amount GBP", "Src")
    rows = [
        (
            f"{f.on:%d/%m/%Y}",
            st.account_label(f.account_id),
            f.kind.replace("_", " "),
            f.description,
            fmt.money(f.amount_local, f.currency),
            fmt.money(f.amount_gbp),
            str(src[f.source_sha256]),
        )
        for f in st.flows
    ]
    totals = [("", "", f"Total {kind.replace('_', ' ')}", "", "", fmt.money(v), "") for kind, v in st.flows_by_kind()]
    totals.append(("", "", "Net flows", "", "", fmt.money(st.net_flows_gbp), ""))
    _table(pdf, head, rows, (22, 34, 28, 100, 34, 32, 13), align="LLLLRRR", total=totals)


def _income(pdf: FPDF, st: Statement, src: dict[str, int]) -> None:
    _heading(pdf, "Income")
    if not st.income:
        _empty(pdf, "No dividends or interest in the period.")
        return
    head = (
        "Date",
        "Account",
        "Kind",
        "Security",
        "Gross (local)",
        "Withheld (local)",
        "FX rate",
        "Gross GBP",
        "Withheld GBP",
        "Net GBP",
        "Src",
    )
    rows = [
        (
            f"{r.on:%d/%m/%Y}",
            st.account_label(r.account_id),
            r.kind,
            r.security,
            fmt.money(r.gross_local, r.currency),
            fmt.money(r.withholding_tax_local, r.currency),
            fmt.number(r.fx_rate),
            fmt.money(r.gross_gbp),
            fmt.money(r.withholding_tax_gbp),
            fmt.money(r.net_gbp),
            str(src[r.source_sha256]),
        )
        for r in st.income
    ]
    t = st.income_total
    total = (
        "Total",
        "",
        "",
        "",
        "",
        "",
        "",
        fmt.money(t.gross_gbp),
        fmt.money(t.withholding_tax_gbp),
        fmt.money(t.net_gbp),
        "",
    )
    _table(pdf, head, rows, (20, 30, 18, 42, 27, 27, 20, 24, 24, 24, 11), align="LLLLRRRRRRR", total=total)
    by_security = [(g.key, g) for g in st.income_by_security()]
    by_month = [(_month(g.key), g) for g in st.income_by_month()]
    sections = (("Income by security", "Security", by_security), ("Income by month", "Month", by_month))
    for title, first, groups in sections:
        _subheading(pdf, title)
        grouped = [
            (label, str(g.rows), fmt.money(g.gross_gbp), fmt.money(g.withholding_tax_gbp), fmt.money(g.net_gbp))
            for label, g in groups
        ]
        _table(
            pdf,
            (first, "Payments", "Gross GBP", "Withheld GBP", "Net GBP"),
            grouped,
            (60, 22, 30, 30, 30),
            align="LRRRR",
            width=172,
            total=(
                "Total",
                str(t.rows),
                fmt.money(t.gross_gbp),
                fmt.money(t.withholding_tax_gbp),
                fmt.money(t.net_gbp),
            ),
        )


def _gains(pdf: FPDF, st: Statement, src: dict[str, int]) -> None:
    _heading(pdf, "Realised gains")
    if not st.realised_gains:
        _empty(pdf, "No disposals in the period.")
        return
    head = (
        "Date",
        "Account",
        "Security",
        "Quantity",
        "Proceeds (local)",
        "Cost (local)",
        "Gain (local)",
        "Broker's figure",
        "FX rate",
        "Gain GBP",
        "Src",
    )
    rows = [
        (
            f"{g.on:%d/%m/%Y}",
            st.account_label(g.account_id),
            g.security,
            fmt.number(g.quantity),
            fmt.money(g.proceeds_local, g.currency),
            fmt.money(g.cost_local, g.currency),
            fmt.money(g.gain_local, g.currency),
            "" if g.broker_realised_local is None else fmt.money(g.broker_realised_local, g.currency),
            fmt.number(g.fx_rate),
            fmt.money(g.gain_gbp),
            str(src[g.source_sha256]),
        )
        for g in st.realised_gains
    ]
    total = ("Total", "", "", "", "", "", "", "", "", fmt.money(st.realised_gain_gbp), "")
    _table(pdf, head, rows, (20, 30, 38, 20, 28, 28, 26, 26, 20, 26, 11), align="LLLRRRRRRRR", total=total)


def _returns(pdf: FPDF, st: Statement, src: dict[str, int]) -> None:
    _heading(pdf, "Returns")
    r = st.returns
    if r is None or r.unavailable is not None:
        _empty(pdf, f"Unavailable: {r.unavailable if r is not None else 'not computed for this statement'}.")
        return
    rows = [
        ("Time-weighted return", "" if r.twr is None else fmt.percent(r.twr)),
        ("Money-weighted return (annualised)", "" if r.mwr is None else fmt.percent(r.mwr)),
        ("Gain", "" if r.gain_gbp is None else fmt.money(r.gain_gbp)),
        ("Net flows", "" if r.net_flows_gbp is None else fmt.money(r.net_flows_gbp)),
    ]
    if r.sources:
        rows.append(("Computed from sources", ", ".join(str(src[s]) for s in r.sources)))
    _table(pdf, ("Measure", "Value"), rows, (70, 35), align="LR", width=105)


def _capital_gains(pdf: FPDF, st: Statement) -> None:
    if st.capital_gains is None:
        return
    _heading(pdf, "Capital gains (HMRC share matching)")
    section = cgt_rows(st.capital_gains)
    for note in section.notes:
        _empty(pdf, note)
    _table(pdf, ("Figure", "Value"), section.totals, (80, 35), align="LR", width=115)
    if section.disposals:
        _subheading(pdf, "Disposals")
        _table(
            pdf,
            ("Date", "Security", "ISIN", "Quantity", "Proceeds GBP", "Cost GBP", "Gain GBP", "Matched"),
            section.disposals,
            (22, 40, 28, 22, 28, 28, 28, 77),
            align="LLLRRRRL",
        )


def _source_list(pdf: FPDF, st: Statement) -> None:
    _heading(pdf, "Sources")
    rows = [(str(n), sha) for n, sha in enumerate(st.sources(), start=1)]
    if not rows:
        _empty(pdf, "No sources.")
        return
    _table(pdf, ("Src", "SHA-256 of the raw broker response"), rows, (14, 120), align="RL", width=134)


def _month(key: str) -> str:
    """``"2025-04"`` -> ``"April 2025"``."""
    return datetime.strptime(key, "%Y-%m").strftime("%B %Y")


# ---- layout helpers ------------------------------------------------------------------------------------------
def _heading(pdf: FPDF, text: str) -> None:
    # Start a section on a new page rather than leave its heading alone at the bottom of one.
    if pdf.get_y() > pdf.h - 45:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", BODY_SIZE)


def _subheading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", BODY_SIZE)


def _empty(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")


def _table(
    pdf: FPDF,
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    *,
    align: str,
    width: float | None = None,
    total: Sequence[str] | Sequence[Sequence[str]] | None = None,
) -> None:
    totals: list[Sequence[str]] = []
    if total:
        totals = [total] if isinstance(total[0], str) else list(total)  # type: ignore[list-item]
    pdf.set_font(FONT, "", BODY_SIZE)
    with pdf.table(
        col_widths=tuple(widths),
        width=width or pdf.epw,
        align="LEFT",
        text_align=tuple("LEFT" if a == "L" else "RIGHT" for a in align),
        headings_style=HEADING_STYLE,
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
        repeat_headings=1,
    ) as table:
        table.row(head)
        for row in rows:
            table.row(row)
        for row in totals:
            table.row(row, style=TOTAL_STYLE)
    pdf.ln(1)
