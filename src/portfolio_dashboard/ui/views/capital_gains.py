"""Capital gains: a UK tax year's gains on shares across every taxable account, in the shape of the Self
Assessment capital gains pages; each disposal drillable to its matches and the broker trades (with the hash of
the raw statement each came from); pools at the year end; what needs review; and a what-if sale.

The figures come from ``services.capital_gains`` (HMRC's share identification, docs/capital-gains.md). The
sidebar's account filter does not apply: the rules match across every taxable account by law.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.domain.cgt import TaxYear, tax_year_of
from portfolio_dashboard.services import capital_gains as service
from portfolio_dashboard.ui import data, fmt, tables
from portfolio_dashboard.ui.guard import guarded

RULES = {"same-day": "Same day", "30-day": "30 days (bed and breakfast)", "s104": "Section 104 pool"}


@st.cache_data(ttl=60, show_spinner="Matching disposals…")
def _report(db: str, start_year: int) -> service.CgtReport:
    with get_app().engine.connect() as conn:
        return service.report(conn, TaxYear(start_year))


def _d(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _places(values: list[object]) -> int:
    """Decimals the quantities need (0 for whole shares, up to 6 for fractional ones)."""
    exponents = [Decimal(str(v)).normalize().as_tuple().exponent for v in values if v is not None]
    return min(6, max([0, *(-e for e in exponents if isinstance(e, int))]))


def _f(value: object) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def year_picker(years: tuple[TaxYear, ...]) -> TaxYear:
    current = tax_year_of(date.today())
    options = sorted({current, *years}, reverse=True)
    default = years[0] if years and current not in years else current
    labels = {year.label: year for year in options}
    chosen = st.selectbox("Tax year (6 April – 5 April)", list(labels), index=options.index(default),
                          key="cgt_year")
    return labels[str(chosen)]


def summary(doc: dict[str, Any]) -> None:
    totals = doc["totals"]
    aea = _d(totals["annual_exempt_amount_gbp"])
    net = _d(totals["net_gain_gbp"]) or Decimal(0)
    left = None if aea is None else max(Decimal(0), aea - max(Decimal(0), net))
    cols = st.columns(4)
    cols[0].metric("Net gain", fmt.money(net))
    cols[1].metric("Taxable gain", fmt.money(_d(totals["taxable_gain_gbp"])))
    cols[2].metric("Annual exempt amount", fmt.money(aea))
    cols[3].metric("Exempt amount left", fmt.money(left))
    if doc["complete"]:
        st.success("Every disposal of the year is computed and nothing needs review.", icon=":material/task_alt:")
    else:
        st.warning(f"**Not complete:** {len(doc['needs_review'])} item(s) need your review (below) before these "
                   "figures can be filed.", icon=":material/rule:")
    if totals["proceeds_over_reporting_threshold"]:
        st.info(f"Disposal proceeds exceed {fmt.money(_d(totals['reporting_threshold_gbp']))}: the gains must be "
                "reported on your return even if no tax is due.", icon=":material/description:")


def sa_pages(doc: dict[str, Any]) -> None:
    """The figures as the Self Assessment capital gains summary asks for them (listed shares and securities)."""
    totals = doc["totals"]
    rows = [
        ("Number of disposals", str(totals["disposals"])),
        ("Disposal proceeds", fmt.money(_d(totals["proceeds_gbp"]))),
        ("Allowable costs (including purchase price)", fmt.money(_d(totals["allowable_costs_gbp"]))),
        ("Gains in the year, before losses", fmt.money(_d(totals["gains_gbp"]))),
        ("Losses in the year", fmt.money(_d(totals["losses_gbp"]))),
        ("Net gain (gains less losses)", fmt.money(_d(totals["net_gain_gbp"]))),
        ("Losses brought forward from earlier years", fmt.money(_d(totals["losses_brought_forward_gbp"]))),
        ("… of which used this year", fmt.money(_d(totals["losses_used_gbp"]))),
        ("Losses carried forward", fmt.money(_d(totals["losses_carried_forward_gbp"]))),
        ("Annual exempt amount", fmt.money(_d(totals["annual_exempt_amount_gbp"]))),
        ("Taxable gain", fmt.money(_d(totals["taxable_gain_gbp"]))),
    ]
    if totals["incomplete_disposals"]:
        rows.append(("Disposals not computed (cost unknown, not in the totals)", str(totals["incomplete_disposals"])))
    left, right = st.columns([1, 1], gap="large")
    # A markdown table: the amounts right-aligned, as on the return
    left.markdown("| Figure | Amount |\n|:--|--:|\n" + "\n".join(f"| {label} | {value} |" for label, value in rows))
    if "before_2024_10_30" in totals:
        lines = [f"| {label} | {fmt.money(_d(totals[key]['gains_gbp']))} | {fmt.money(_d(totals[key]['losses_gbp']))} "
                 f"| {fmt.money(_d(totals[key]['net_gain_gbp']))} |"
                 for key, label in (("before_2024_10_30", "Before 30 Oct 2024"),
                                    ("from_2024_10_30", "From 30 Oct 2024"))]
        right.markdown("| Disposals | Gains | Losses | Net gain |\n|:--|--:|--:|--:|\n" + "\n".join(lines))
        right.caption("2024-25: the main rates went from 10%/20% to 18%/24% on 30 October 2024, so the return "
                      "asks for the gains of the two parts of the year separately.")


def _disposal_label(item: dict[str, Any]) -> str:
    return f"{item['date']} · {item['symbol']} · {item['quantity']} shares"


def disposals(doc: dict[str, Any], details: dict[tuple[str, str], service.TradeDetail]) -> None:
    items = doc["disposals"]
    st.subheader(f"Disposals ({len(items)})")
    if not items:
        st.caption("No disposals in this tax year.")
        return
    frame = pd.DataFrame({
        "Date": [item["date"] for item in items],
        "Security": [item["symbol"] for item in items],
        "Quantity": [_f(item["quantity"]) for item in items],
        "Proceeds": [_f(item["proceeds_gbp"]) for item in items],
        "Allowable costs": [_f(item["cost_gbp"]) for item in items],
        "Gain": [_f(item["gain_gbp"]) for item in items],
        "Matched by": [", ".join(RULES[m["rule"]].split(" (")[0] for m in item["matches"]) or "—" for item in items],
    })
    st.dataframe(frame, hide_index=True, key="cgt_disposals", height=tables.height(len(frame), 420),
                 column_config={"Quantity": tables.number("Quantity", _places([i["quantity"] for i in items])),
                                "Proceeds": tables.money("Proceeds", "GBP"),
                                "Allowable costs": tables.money("Allowable costs", "GBP"),
                                "Gain": tables.money("Gain", "GBP")})
    labels = [_disposal_label(item) for item in items]
    chosen = st.selectbox("Show how a disposal was matched", labels, index=0, key="cgt_disposal")
    drill(items[labels.index(str(chosen))], details)


def _trade_rows(refs: list[dict[str, Any]], details: dict[tuple[str, str], service.TradeDetail]) -> pd.DataFrame:
    out = []
    for ref in refs:
        d = details.get((ref["broker"], ref["trade_id"]))
        out.append({
            "Date": "" if d is None else d.trade_date.isoformat(),
            "Broker": fmt.BROKER_SHORT.get(ref["broker"], ref["broker"]),
            "Account": fmt.mask_account(ref["account"]),
            "Side": ref["side"],
            "Quantity": _f(ref["quantity"]),
            "Price": "" if d is None or d.price_local is None else f"{d.price_local:,.4f} {d.currency or ''}",
            "GBP rate": "" if d is None or d.gbp_per_unit is None else f"{d.gbp_per_unit:.6f} ({d.rate_source})",
            "Value £": None if d is None else _f(d.consideration_gbp),
            "Costs £": None if d is None else _f(d.costs_gbp),
            "Trade id": ref["trade_id"],
            "Raw payload SHA-256": ref["raw_payload_hash"] or "not found",
        })
    return pd.DataFrame(out)


def drill(item: dict[str, Any], details: dict[tuple[str, str], service.TradeDetail]) -> None:
    with st.container(border=True):
        st.markdown(f"**{item['symbol']}** sold {item['quantity']} on {item['date']}: proceeds "
                    f"{fmt.money(_d(item['proceeds_gbp']))}, "
                    f"costs of sale {fmt.money(_d(item['disposal_costs_gbp']))}, "
                    f"acquisition cost {fmt.money(_d(item['acquisition_cost_gbp']))}, gain "
                    f"**{fmt.money(_d(item['gain_gbp']), signed=True)}**")
        if item["note"]:
            st.caption(item["note"])
        for match in item["matches"]:
            acquired = f", acquired {match['acquired']}" if match["acquired"] else " at the pool's average cost"
            st.markdown(f"- **{RULES[match['rule']]}**: {match['quantity']} shares, cost "
                        f"{fmt.money(_d(match['cost_gbp']))}{acquired}")
        if item["unmatched_quantity"] != "0":
            st.warning(f"{item['unmatched_quantity']} shares have no known cost: state an opening pool "
                       "(`portfolio-dashboard cgt pool set`).")
        refs = list(item["trades"]) + [ref for match in item["matches"] for ref in match["trades"]]
        st.caption("The broker trades behind it (the hash names the raw statement stored for each; see Runs):")
        st.dataframe(_trade_rows(refs, details), hide_index=True, key="cgt_trades",
                     column_config={"Quantity": tables.number("Quantity", _places([r["quantity"] for r in refs])),
                                    "Value £": tables.money("Value £", "GBP"),
                                    "Costs £": tables.money("Costs £", "GBP")})


def pools(doc: dict[str, Any], year: TaxYear) -> None:
    items = doc["pools"]
    st.subheader(f"Section 104 pools at {year.end:%-d %B %Y}")
    if not items:
        st.caption("No shares held in taxable accounts at the year end.")
        return
    frame = pd.DataFrame({
        "Security": [p["symbol"] for p in items], "ISIN": [p["isin"] or "" for p in items],
        "Quantity": [_f(p["quantity"]) for p in items], "Cost": [_f(p["cost_gbp"]) for p in items],
        "Average cost": [None if p["cost_gbp"] is None or Decimal(p["quantity"]) == 0
                         else float(Decimal(p["cost_gbp"]) / Decimal(p["quantity"])) for p in items],
        "Cost known": ["yes" if p["complete"] else "no — review" for p in items],
    })
    st.dataframe(frame, hide_index=True, key="cgt_pools", height=tables.height(len(frame), 420),
                 column_config={"Quantity": tables.number("Quantity", _places([p["quantity"] for p in items])),
                                "Cost": tables.money("Cost", "GBP"),
                                "Average cost": tables.money("Average cost", "GBP")})


def review(doc: dict[str, Any]) -> None:
    items = doc["needs_review"]
    if not items:
        return
    st.subheader(f"Needs review ({len(items)})")
    for item in items:
        where = " · ".join(str(part) for part in (item["date"], item["symbol"]) if part)
        st.markdown(f"- {'**' + where + '**: ' if where else ''}{item['reason']}")


def what_if(doc: dict[str, Any]) -> None:
    st.subheader("What if I sell today?")
    holdings = {f"{p['symbol']} ({p['quantity']} held)": p["isin"] or p["symbol"] for p in doc["pools"]}
    if not holdings:
        st.caption("No holding in a taxable account to sell.")
        return
    with st.form("cgt_whatif", border=True):
        cols = st.columns([2, 1, 1, 1])
        chosen = cols[0].selectbox("Security", list(holdings))
        quantity = cols[1].text_input("Quantity", "10")
        price = cols[2].text_input("Price per share (£)", "100.00")
        costs = cols[3].text_input("Dealing costs (£)", "0")
        submitted = st.form_submit_button("Estimate", type="primary")
    if not submitted:
        st.caption("Matched as a real sale would be (today's purchases first, then the pool). Buying the same "
                   "shares back within 30 days would change the answer.")
        return
    try:
        qty, px, fee = Decimal(quantity), Decimal(price.replace(",", "")), Decimal(costs or "0")
    except InvalidOperation:
        st.error("Quantity, price and costs must be numbers.")
        return
    if qty <= 0 or px < 0 or fee < 0:
        st.error("The quantity must be positive, the price and costs not negative.")
        return
    with get_app().engine.connect() as conn:
        estimate = service.what_if(conn, holdings[str(chosen)], qty, px, on=date.today(), costs_gbp=fee)
    if estimate.gain_gbp is None:
        st.warning("The cost of these shares is not known (more than the known holding): no estimate.")
        return
    figures = st.columns(4)
    figures[0].metric("Gain on this sale", fmt.money(estimate.gain_gbp, signed=True))
    figures[1].metric(f"Exempt amount left in {estimate.tax_year.label}",
                      fmt.money(estimate.exempt_amount_remaining_gbp))
    figures[2].metric("Taxable gain before", fmt.money(estimate.taxable_gain_before_gbp))
    figures[3].metric("Taxable gain after", fmt.money(estimate.taxable_gain_after_gbp))


def render() -> None:
    st.title("Capital gains")
    st.caption("UK capital gains tax on shares: HMRC's same-day, 30-day and Section 104 rules across every "
               "taxable account at every broker (ISAs and SIPPs left out). A calculator for your records, not "
               "tax advice. The sidebar filter does not apply here.")
    with guarded("the capital gains"):
        db = data.db_key()
        years = _report(db, tax_year_of(date.today()).start_year).years
        year = year_picker(years)
        result = _report(db, year.start_year)
        doc = result.document
        summary(doc)
        st.subheader("Self Assessment capital gains summary")
        sa_pages(doc)
        disposals(doc, result.details)
        pools(doc, year)
        review(doc)
        what_if(doc)


render()
