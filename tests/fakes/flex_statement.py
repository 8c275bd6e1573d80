"""Builder for realistic Flex ``FlexQueryResponse`` XML (an Activity Flex Query, XML output).

Element and attribute names follow IBKR's Flex reference; values are rendered the way IBKR renders them
(dates in the query's chosen format, date-times ``date;HHmmss``, numbers as plain strings). ``sample()`` is
a two-account statement used by the tests: a GBP account holding GBP/USD/EUR lines and a USD account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from xml.sax.saxutils import quoteattr

DATE_FORMATS = {
    "yyyyMMdd": "%Y%m%d",
    "yyyy-MM-dd": "%Y-%m-%d",
    "MM/dd/yyyy": "%m/%d/%Y",
    "dd/MM/yyyy": "%d/%m/%Y",
    "dd-MMM-yy": "%d-%b-%y",
}


@dataclass
class FlexPosition:
    conid: str
    symbol: str
    description: str
    currency: str
    quantity: str
    mark: str
    value: str
    fx_to_base: str
    cost: str | None = None
    pnl: str | None = None
    asset: str = "STK"
    sub: str = "COMMON"
    isin: str = ""
    cusip: str = ""
    figi: str = ""
    exchange: str = "NASDAQ"
    level: str = "SUMMARY"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class FlexTrade:
    trade_id: str
    conid: str
    symbol: str
    currency: str
    quantity: str
    price: str
    proceeds: str
    commission: str
    pnl: str
    when: datetime
    buy_sell: str
    asset: str = "STK"
    level: str = "EXECUTION"
    isin: str = ""
    description: str = ""
    taxes: str = ""  # stamp duty / SDRT as IBKR reports it (negative: a cost)


@dataclass
class FlexAccount:
    account_id: str
    base: str
    alias: str
    totals: dict[date, str]  # EquitySummaryByReportDateInBase: report date -> total
    positions: list[FlexPosition] = field(default_factory=list)
    cash: dict[str, str] = field(default_factory=dict)  # currency -> endingCash (BASE_SUMMARY added)
    base_summary_cash: str | None = None
    rates: list[tuple[date, str, str, str]] = field(default_factory=list)  # (day, from, to, rate)
    trades: list[FlexTrade] = field(default_factory=list)
    money: list[str] = field(default_factory=list)  # money sections' XML (tests/fakes/flex_flows.py)
    sections: tuple[str, ...] = ("AccountInformation", "EquitySummaryInBase", "OpenPositions", "CashReport",
                                 "ConversionRates", "Trades")


def _el(tag: str, **values: object) -> str:
    attrs = " ".join(f"{k}={quoteattr('' if v is None else str(v))}" for k, v in values.items())
    return f"<{tag} {attrs} />"


def statement_xml(
    accounts: list[FlexAccount],
    *,
    from_date: date,
    to_date: date,
    generated: datetime,
    date_format: str = "yyyyMMdd",
    query_type: str = "AF",
) -> bytes:
    fmt = DATE_FORMATS[date_format]

    def d(day: date) -> str:
        return day.strftime(fmt)

    def dt(when: datetime) -> str:
        return d(when.date()) + ";" + when.strftime("%H%M%S")

    parts = [
        f'<FlexQueryResponse queryName="Portfolio daily" type="{query_type}">',
        f'<FlexStatements count="{len(accounts)}">',
    ]
    for acct in accounts:
        head = _el("FlexStatement", accountId=acct.account_id, fromDate=d(from_date), toDate=d(to_date),
                   period="LastBusinessDay", whenGenerated=dt(generated))
        parts.append(head.replace(" />", ">"))
        if "AccountInformation" in acct.sections:
            parts.append(_el("AccountInformation", accountId=acct.account_id, acctAlias=acct.alias, model="",
                             currency=acct.base, name="Jane Doe", accountType="Individual",
                             customerType="Individual", ibEntity="IBUK"))
        if "EquitySummaryInBase" in acct.sections:
            parts.append("<EquitySummaryInBase>")
            for day, total in sorted(acct.totals.items()):
                parts.append(_el("EquitySummaryByReportDateInBase", accountId=acct.account_id,
                                 acctAlias=acct.alias, model="", currency=acct.base, reportDate=d(day), cash="0",
                                 stock="0", total=total, totalLong=total, totalShort="0"))
            parts.append("</EquitySummaryInBase>")
        if "OpenPositions" in acct.sections:
            parts.append("<OpenPositions>")
            for p in acct.positions:
                attrs: dict[str, object] = dict(
                    accountId=acct.account_id, acctAlias=acct.alias, model="", currency=p.currency,
                    fxRateToBase=p.fx_to_base, assetCategory=p.asset, subCategory=p.sub, symbol=p.symbol,
                    description=p.description, conid=p.conid, securityID=p.isin,
                    securityIDType="ISIN" if p.isin else "", cusip=p.cusip, isin=p.isin, figi=p.figi,
                    listingExchange=p.exchange, multiplier="1", reportDate=d(to_date), position=p.quantity,
                    markPrice=p.mark, positionValue=p.value, openPrice="", costBasisPrice="",
                    costBasisMoney=p.cost, percentOfNAV="", fifoPnlUnrealized=p.pnl, side="Long",
                    levelOfDetail=p.level, openDateTime="", holdingPeriodDateTime="", code="",
                    originatingOrderID="", accruedInt="",
                )
                attrs.update(p.extra)
                parts.append(_el("OpenPosition", **attrs))
            parts.append("</OpenPositions>")
        if "CashReport" in acct.sections:
            parts.append("<CashReport>")
            rows = [("BASE_SUMMARY", acct.base_summary_cash, "BaseCurrency")] if acct.base_summary_cash else []
            rows += [(ccy, amount, "Currency") for ccy, amount in acct.cash.items()]
            for ccy, amount, level in rows:
                parts.append(_el("CashReportCurrency", accountId=acct.account_id, currency=ccy,
                                 fromDate=d(from_date), toDate=d(to_date), startingCash=amount, commissions="0",
                                 endingCash=amount, endingCashSec=amount, endingCashCom="0",
                                 endingSettledCash=amount, levelOfDetail=level))
            parts.append("</CashReport>")
        if "ConversionRates" in acct.sections:
            parts.append("<ConversionRates>")
            for day, src, tgt, rate in acct.rates:
                parts.append(_el("ConversionRate", reportDate=d(day), fromCurrency=src, toCurrency=tgt, rate=rate))
            parts.append("</ConversionRates>")
        if "Trades" in acct.sections:
            parts.append("<Trades>")
            for t in acct.trades:
                parts.append(_el(
                    "Trade", accountId=acct.account_id, acctAlias=acct.alias, currency=t.currency,
                    fxRateToBase="1", assetCategory=t.asset, symbol=t.symbol,
                    description=t.description or t.symbol, conid=t.conid, isin=t.isin, listingExchange="NASDAQ",
                    tradeID=t.trade_id if t.level == "EXECUTION" else "", reportDate=d(t.when.date()),
                    dateTime=dt(t.when), tradeDate=d(t.when.date()), transactionType="ExchTrade",
                    exchange="ISLAND", quantity=t.quantity, tradePrice=t.price, proceeds=t.proceeds,
                    ibCommission=t.commission, ibCommissionCurrency=t.currency, netCash="", taxes=t.taxes,
                    fifoPnlRealized=t.pnl, buySell=t.buy_sell, ibOrderID="9" + t.trade_id,
                    transactionID="7" + t.trade_id if t.level == "EXECUTION" else "",
                    ibExecID="0000e0d5." + t.trade_id + ".01.01", levelOfDetail=t.level,
                    openCloseIndicator="C" if t.buy_sell == "SELL" else "O",
                ))
            parts.append("</Trades>")
        parts.extend(acct.money)
        parts.append("</FlexStatement>")
    parts.append("</FlexStatements>")
    parts.append("</FlexQueryResponse>")
    return "\n".join(parts).encode()


REPORT_DAY = date(2026, 11, 20)
PREVIOUS_DAY = date(2026, 11, 19)
GENERATED = datetime(2026, 11, 21, 4, 12, 33)


def sample_accounts() -> list[FlexAccount]:
    """U1234567: GBP base, GBP/USD/EUR holdings and cash, trades incl. a sale with realised P&L.
    U7654321: USD base. Totals reconcile exactly with positions + cash at IBKR's rates, and the two accounts'
    rates are exact inverses (as IBKR's closing rates are, up to rounding)."""
    gbp = FlexAccount(
        account_id="U1234567",
        base="GBP",
        alias="Main GBP",
        # 9500*0.8 + 8050 + 4400*0.85 = 19390; cash 1500.25 + 2000*0.8 - 100*0.85 = 3015.25
        totals={PREVIOUS_DAY: "21950.10", REPORT_DAY: "22405.25"},
        positions=[
            FlexPosition("265598", "AAPL", "APPLE INC", "USD", "50", "190", "9500", "0.8", "8000", "1500",
                         isin="US0378331005", cusip="037833100", figi="BBG000B9XRY4"),
            FlexPosition("128854", "VUSA", "VANGUARD S&P 500 UCITS ETF", "GBP", "100", "80.5", "8050", "1",
                         "7000", "1050", sub="ETF", isin="IE00B3XXRP09", figi="BBG000BN1R62", exchange="LSE"),
            FlexPosition("14204", "SAP", "SAP SE", "EUR", "20", "220", "4400", "0.85", "4000", "400",
                         isin="DE0007164600", exchange="IBIS"),
        ],
        cash={"GBP": "1500.25", "USD": "2000", "EUR": "-100"},
        base_summary_cash="3015.25",
        rates=[
            (PREVIOUS_DAY, "USD", "GBP", "0.7885"),
            (PREVIOUS_DAY, "EUR", "GBP", "0.8290"),
            (REPORT_DAY, "USD", "GBP", "0.8"),
            (REPORT_DAY, "EUR", "GBP", "0.85"),
            (REPORT_DAY, "RUB", "GBP", "-1"),
        ],
        trades=[
            FlexTrade("1001", "265598", "AAPL", "USD", "10", "189.5", "-1895", "-1", "0",
                      datetime(2026, 11, 20, 10, 31, 2), "BUY", isin="US0378331005"),
            FlexTrade("1001", "265598", "AAPL", "USD", "10", "189.5", "-1895", "-1", "0",
                      datetime(2026, 11, 20, 10, 31, 2), "BUY", level="ORDER"),
            FlexTrade("1002", "14204", "SAP", "EUR", "-5", "221", "1105", "-1.25", "105",
                      datetime(2026, 11, 20, 11, 2, 45), "SELL", isin="DE0007164600"),
            FlexTrade("1002", "14204", "SAP", "EUR", "-5", "200", "1000", "0", "105",
                      datetime(2026, 11, 20, 11, 2, 45), "SELL", level="CLOSED_LOT"),
        ],
    )
    usd = FlexAccount(
        account_id="U7654321",
        base="USD",
        alias="US dollars",
        totals={REPORT_DAY: "4500"},
        positions=[
            FlexPosition("272093", "MSFT", "MICROSOFT CORP", "USD", "10", "400", "4000", "1", "3500", "500",
                         isin="US5949181045", cusip="594918104", figi="BBG000BPH459"),
        ],
        cash={"USD": "500"},
        base_summary_cash="500",
        rates=[(REPORT_DAY, "GBP", "USD", "1.25"), (REPORT_DAY, "EUR", "USD", "1.0625")],
    )
    return [gbp, usd]


def sample(date_format: str = "yyyyMMdd") -> bytes:
    return statement_xml(sample_accounts(), from_date=PREVIOUS_DAY, to_date=REPORT_DAY, generated=GENERATED,
                         date_format=date_format)
