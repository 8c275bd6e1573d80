"""Builder for the Flex money sections, in IBKR's documented shape (Activity Flex Query, XML output).

``CashTransactions``, ``Transfers``, ``CorporateActions``, ``ChangeInNAV`` and ``OpenDividendAccruals`` with the
attribute names IBKR's Flex reference (and ibflex's ``Types.py``) use. Each builder returns the section's XML,
to put in ``FlexAccount.money``. ``quarter()`` is a realistic two-account quarter whose ``ChangeInNAV``
figures were worked out by hand from the rows (see the comments), with a reversal and a correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tests.fakes.flex_statement import FlexAccount, _el, statement_xml


@dataclass
class Cash:
    type: str
    currency: str
    amount: str
    fx: str
    when: datetime
    tid: str | None
    description: str = ""
    conid: str = ""
    symbol: str = ""
    isin: str = ""
    code: str = ""
    level: str = "DETAIL"
    asset: str = "STK"


@dataclass
class Move:
    direction: str
    currency: str
    fx: str
    day: date
    tid: str
    conid: str = ""
    symbol: str = ""
    quantity: str = ""
    price: str = ""
    amount: str = ""
    cash: str = ""
    asset: str = "STK"
    type: str = "ACATS"
    other_broker: str = "Other Broker Ltd"


def _dt(when: datetime) -> str:
    return when.strftime("%Y%m%d;%H%M%S")


def cash_transactions(account: str, rows: list[Cash]) -> str:
    parts = ["<CashTransactions>"]
    for r in rows:
        parts.append(
            _el(
                "CashTransaction", accountId=account, acctAlias="", model="", currency=r.currency,
                fxRateToBase=r.fx, assetCategory=r.asset if r.conid else "", symbol=r.symbol,
                description=r.description or r.type, conid=r.conid, securityID=r.isin,
                securityIDType="ISIN" if r.isin else "", cusip="", isin=r.isin, listingExchange="",
                underlyingConid="", underlyingSymbol="", issuer="", multiplier="0", strike="", expiry="",
                putCall="", principalAdjustFactor="", dateTime=_dt(r.when), settleDate=r.when.strftime("%Y%m%d"),
                amount=r.amount, type=r.type, tradeID="", code=r.code, transactionID=r.tid or "",
                reportDate=r.when.strftime("%Y%m%d"), clientReference="", actionID="", levelOfDetail=r.level,
            )
        )
    parts.append("</CashTransactions>")
    return "\n".join(parts)


def transfers(account: str, rows: list[Move]) -> str:
    parts = ["<Transfers>"]
    for r in rows:
        parts.append(
            _el(
                "Transfer", accountId=account, acctAlias="", model="", currency=r.currency, fxRateToBase=r.fx,
                assetCategory=r.asset, symbol=r.symbol, description=r.symbol, conid=r.conid, securityID="",
                isin="", reportDate=r.day.strftime("%Y%m%d"), date=r.day.strftime("%Y%m%d"),
                dateTime=r.day.strftime("%Y%m%d") + ";000000", type=r.type, direction=r.direction,
                company="", account="", accountName="", deliveringBroker=r.other_broker, quantity=r.quantity,
                transferPrice=r.price, positionAmount=r.amount, positionAmountInBase="", pnlAmount="0",
                pnlAmountInBase="0", fxPnl="0", cashTransfer=r.cash, code="", clientReference="",
                transactionID=r.tid, levelOfDetail="DETAIL",
            )
        )
    parts.append("</Transfers>")
    return "\n".join(parts)


def corporate_action(account: str, *, tid: str, action_id: str, conid: str, symbol: str, when: datetime,
                     kind: str, quantity: str, description: str) -> str:
    return "\n".join([
        "<CorporateActions>",
        _el("CorporateAction", accountId=account, acctAlias="", model="", currency="USD", fxRateToBase="0.8",
            assetCategory="STK", symbol=symbol, description=description, conid=conid, isin="",
            reportDate=when.strftime("%Y%m%d"), dateTime=_dt(when), actionDescription=description, amount="0",
            proceeds="0", value="0", quantity=quantity, fifoPnlRealized="0", mtmPnl="0", code="", type=kind,
            transactionID=tid, actionID=action_id, levelOfDetail="DETAIL"),
        "</CorporateActions>",
    ])


def change_in_nav(account: str, currency: str, from_day: date, to_day: date, **figures: str) -> str:
    return _el("ChangeInNAV", accountId=account, acctAlias="", model="", currency=currency,
               fromDate=from_day.strftime("%Y%m%d"), toDate=to_day.strftime("%Y%m%d"), **figures)


def open_accrual(account: str, *, conid: str, symbol: str, currency: str, fx: str, ex: date, pay: date,
                 quantity: str, rate: str, gross: str, tax: str, net: str) -> str:
    return "\n".join([
        "<OpenDividendAccruals>",
        _el("OpenDividendAccrual", accountId=account, acctAlias="", model="", currency=currency,
            fxRateToBase=fx, assetCategory="STK", symbol=symbol, description=symbol, conid=conid, isin="",
            exDate=ex.strftime("%Y%m%d"), payDate=pay.strftime("%Y%m%d"), quantity=quantity, tax=tax, fee="0",
            grossRate=rate, grossAmount=gross, netAmount=net, code=""),
        "</OpenDividendAccruals>",
    ])


Q_FROM, Q_TO = date(2026, 1, 1), date(2026, 3, 31)
GBP_ACCT, USD_ACCT = "U1234567", "U7654321"


def quarter_accounts() -> list[FlexAccount]:
    """Two accounts over Q1 2026, USD at 0.8 and EUR at 0.85 to GBP, GBP at 1.25 to USD."""
    d = datetime
    gbp_rows = [
        Cash("Deposits/Withdrawals", "GBP", "5000", "1", d(2026, 1, 5), "5001", "CASH RECEIPT / ELECTRONIC FUND"),
        Cash("Deposits/Withdrawals", "GBP", "2500", "1", d(2026, 2, 5), "5002", "CASH RECEIPT / ELECTRONIC FUND"),
        Cash("Deposits/Withdrawals", "GBP", "-1000", "1", d(2026, 3, 10), "5003", "DISBURSEMENT"),
        Cash("Deposits/Withdrawals", "EUR", "1000", "0.85", d(2026, 1, 20), "5004", "CASH RECEIPT EUR"),
        # AAPL dividend 12.50 USD (=10.00 GBP) and its 15% US tax 1.85 (=1.48)
        Cash("Dividends", "USD", "12.50", "0.8", d(2026, 2, 13, 20, 20), "6001",
             "AAPL(US0378331005) Cash Dividend USD 0.25 per Share (Ordinary Dividend)", "265598", "AAPL",
             "US0378331005"),
        Cash("Withholding Tax", "USD", "-1.85", "0.8", d(2026, 2, 13, 20, 20), "6002",
             "AAPL(US0378331005) Cash Dividend USD 0.25 per Share - US Tax", "265598", "AAPL", "US0378331005"),
        # SAP dividend 44.00 EUR (=37.40) and German tax 11.60 (=9.86)
        Cash("Dividends", "EUR", "44.00", "0.85", d(2026, 3, 2, 20, 20), "6003",
             "SAP(DE0007164600) Cash Dividend EUR 2.20 per Share", "14204", "SAP", "DE0007164600"),
        Cash("Withholding Tax", "EUR", "-11.60", "0.85", d(2026, 3, 2, 20, 20), "6004",
             "SAP(DE0007164600) Cash Dividend EUR 2.20 per Share - DE Tax", "14204", "SAP", "DE0007164600"),
        # MSFT dividend paid 15.00 (=12.00), reversed (code Re), re-issued at 16.50 (=13.20); same for its tax
        Cash("Dividends", "USD", "15.00", "0.8", d(2026, 3, 12, 20, 20), "6005",
             "MSFT(US5949181045) Cash Dividend USD 0.75 per Share", "272093", "MSFT", "US5949181045"),
        Cash("Withholding Tax", "USD", "-2.25", "0.8", d(2026, 3, 12, 20, 20), "6006",
             "MSFT(US5949181045) Cash Dividend USD 0.75 per Share - US Tax", "272093", "MSFT", "US5949181045"),
        Cash("Dividends", "USD", "-15.00", "0.8", d(2026, 3, 16, 20, 20), "6007",
             "MSFT(US5949181045) Cash Dividend USD 0.75 per Share", "272093", "MSFT", "US5949181045", code="Re"),
        Cash("Withholding Tax", "USD", "2.25", "0.8", d(2026, 3, 16, 20, 20), "6008",
             "MSFT(US5949181045) Cash Dividend USD 0.75 per Share - US Tax", "272093", "MSFT", "US5949181045",
             code="Re"),
        Cash("Dividends", "USD", "16.50", "0.8", d(2026, 3, 16, 20, 20), "6009",
             "MSFT(US5949181045) Cash Dividend USD 0.825 per Share", "272093", "MSFT", "US5949181045"),
        Cash("Withholding Tax", "USD", "-2.45", "0.8", d(2026, 3, 16, 20, 20), "6010",
             "MSFT(US5949181045) Cash Dividend USD 0.825 per Share - US Tax", "272093", "MSFT", "US5949181045"),
        Cash("Payment In Lieu Of Dividends", "GBP", "5.00", "1", d(2026, 3, 20, 20, 20), "6011",
             "VUSA(IE00B3XXRP09) Payment in Lieu of Dividend", "128854", "VUSA", "IE00B3XXRP09"),
        Cash("Broker Interest Received", "GBP", "3.21", "1", d(2026, 2, 3), "6012", "GBP CREDIT INT FOR JAN-2026"),
        Cash("Broker Interest Paid", "USD", "-0.45", "0.8", d(2026, 3, 3), "6013", "USD DEBIT INT FOR FEB-2026"),
        Cash("Other Fees", "GBP", "-3.00", "1", d(2026, 3, 3), "6014", "SNAPSHOT VALUE FEE FEB 2026"),
        # A SUMMARY row restating the AAPL dividend: must not be counted a second time
        Cash("Dividends", "USD", "12.50", "0.8", d(2026, 2, 13), None, "AAPL dividends", "265598", "AAPL",
             level="SUMMARY"),
    ]
    gbp_money = [
        cash_transactions(GBP_ACCT, gbp_rows),
        corporate_action(GBP_ACCT, tid="7001", action_id="145678", conid="265598", symbol="AAPL",
                         when=datetime(2026, 2, 27, 20, 25), kind="FS", quantity="50",
                         description="AAPL(US0378331005) SPLIT 2 FOR 1 (AAPL, APPLE INC, US0378331005)"),
        # 5000+2500-1000+850 = 7350.00; 10.00+37.40+12.00-12.00+13.20+5.00 = 65.60;
        # -1.48-9.86-1.80+1.80-1.96 = -13.30; 3.21-0.36 = 2.85
        change_in_nav(GBP_ACCT, "GBP", Q_FROM, Q_TO, startingValue="15000.00", mtm="512.40", realized="0",
                      depositsWithdrawals="7350.00", internalCashTransfers="100.00", assetTransfers="0",
                      dividends="65.60", withholdingTax="-13.30", changeInDividendAccruals="8.50",
                      interest="2.85", otherFees="-3.00", commissions="-2.25", fxTranslation="-4.10",
                      other="0", endingValue="23016.70", twr="2.874"),
        transfers(GBP_ACCT, [
            Move("IN", "GBP", "1", date(2026, 3, 1), "9003", asset="CASH", cash="100", type="INTERNAL",
                 other_broker=""),
        ]),
        open_accrual(GBP_ACCT, conid="265598", symbol="AAPL", currency="USD", fx="0.8", ex=date(2026, 3, 27),
                     pay=date(2026, 4, 10), quantity="100", rate="0.125", gross="12.50", tax="1.88", net="10.62"),
    ]
    usd_rows = [
        Cash("Deposits/Withdrawals", "USD", "10000", "1", d(2026, 1, 8), "8001", "ACH DEPOSIT"),
        Cash("Deposits/Withdrawals", "USD", "-2500", "1", d(2026, 3, 25), "8002", "WIRE WITHDRAWAL"),
        Cash("Deposits/Withdrawals", "GBP", "500", "1.25", d(2026, 2, 2), "8003", "GBP DEPOSIT"),
        Cash("Dividends", "USD", "25.00", "1", d(2026, 3, 12, 20, 20), "8004",
             "MSFT(US5949181045) Cash Dividend USD 0.75 per Share", "272093", "MSFT", "US5949181045"),
        Cash("Withholding Tax", "USD", "-3.75", "1", d(2026, 3, 12, 20, 20), "8005",
             "MSFT(US5949181045) Cash Dividend USD 0.75 per Share - US Tax", "272093", "MSFT", "US5949181045"),
        Cash("Bond Interest Received", "USD", "40.00", "1", d(2026, 3, 15), "8006",
             "T 4 1/4 02/15/28 Coupon", "567890", "T 4 1/4 02/15/28", asset="BOND"),
        Cash("Broker Interest Received", "USD", "1.23", "1", d(2026, 2, 3), "8007", "USD CREDIT INT FOR JAN-2026"),
    ]
    usd_money = [
        cash_transactions(USD_ACCT, usd_rows),
        transfers(USD_ACCT, [
            Move("IN", "USD", "1", date(2026, 2, 10), "9001", conid="272093", symbol="MSFT", quantity="10",
                 price="400", amount="4000"),
            Move("OUT", "USD", "1", date(2026, 3, 1), "9002", asset="CASH", cash="-125", type="INTERNAL",
                 other_broker=""),
        ]),
        # 10000-2500+625 = 8125.00; dividends 25.00; tax -3.75; interest 40.00+1.23 = 41.23
        change_in_nav(USD_ACCT, "USD", Q_FROM, Q_TO, startingValue="3000.00", mtm="215.75",
                      depositsWithdrawals="8125.00", internalCashTransfers="-125.00", assetTransfers="4000.00",
                      dividends="25.00", withholdingTax="-3.75", interest="41.23", commissions="0",
                      fxTranslation="0", other="0", endingValue="15278.23", twr="1.52"),
    ]
    return [
        FlexAccount(account_id=GBP_ACCT, base="GBP", alias="Main GBP", totals={Q_TO: "23016.70"},
                    money=gbp_money),
        FlexAccount(account_id=USD_ACCT, base="USD", alias="US dollars", totals={Q_TO: "15278.23"},
                    money=usd_money),
    ]


def quarter() -> bytes:
    return statement_xml(quarter_accounts(), from_date=Q_FROM, to_date=Q_TO,
                         generated=datetime(2026, 4, 1, 5, 0, 0))
