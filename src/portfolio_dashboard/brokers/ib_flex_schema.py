"""Names IBKR documents for the Flex elements this source reads, to log the ones it does not know.

A name missing here never breaks a parse: IBKR adds attributes and sections over time, and the parser
only logs them (the raw XML is kept, so a newer parser can read them later). Element attributes with many
per-segment/per-period variants are listed by their stem; :func:`is_known` strips the documented suffixes.
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SECTIONS = _names(
    """
    AccountInformation Adjustments CFDCharges CashReport CashTransactions ChangeInDividendAccruals
    ChangeInNAV ChangeInPositionValues ClientFees ClientFeesDetail CommissionCredits ComplexPositions
    ConversionRates CorporateActions DebitCardActivities DepositsOnHold EquitySummaryInBase
    FIFOPerformanceSummaryInBase FdicInsuredDepositsByBank FxPositions FxTransactions HKIPOOpenSubscriptions
    HKIPOSubscriptionActivity HardToBorrowDetails HardToBorrowMarkupDetails IBGNoteTransactions
    IncentiveCouponAccrualDetails InterestAccruals MTDYTDPerformanceSummary MTMPerformanceSummaryInBase
    NetStockPositionSummary OpenDividendAccruals OpenPositions OptionEAE PendingExcercises
    PriorPeriodPositions RoutingCommissions SLBActivities SLBCollaterals SLBFees SLBOpenContracts SalesTaxes
    SecuritiesInfo SoftDollars StmtFunds StockGrantActivities TierInterestDetails TradeConfirms
    TradeTransfers Trades TransactionTaxes Transfers UnbookedTrades UnbundledCommissionDetails
    UnsettledTransfers
    """
)

ATTRIBUTES: dict[str, frozenset[str]] = {
    "FlexQueryResponse": _names("queryName type"),
    "FlexStatements": _names("count"),
    "FlexStatement": _names("accountId fromDate toDate period whenGenerated"),
    "AccountInformation": _names(
        """
        accountCapabilities accountId accountRepName accountRepPhone accountType acctAlias city
        cityResidentialAddress country countryResidentialAddress currency customerType dateClosed dateFunded
        dateOpened ibEntity lastTradedDate masterName model name postalCode postalCodeResidentialAddress
        primaryEmail registeredRepName registeredRepPhone state stateResidentialAddress street street2
        street2ResidentialAddress streetResidentialAddress tradingPermissions
        """
    ),
    "OpenPosition": _names(
        """
        accountId accruedInt acctAlias assetCategory code commodityType conid costBasisMoney costBasisPrice
        currency cusip deliveryType description expiry fifoPnlUnrealized figi fineness fxRateToBase
        holdingPeriodDateTime isin issuer issuerCountryCode levelOfDetail listingExchange markPrice model
        multiplier openDateTime openPrice originatingOrderID originatingTransactionID percentOfNAV position
        positionValue positionValueInBase principalAdjustFactor putCall reportDate securityID securityIDType
        sedol serialNumber side strike subCategory symbol underlyingConid underlyingListingExchange
        underlyingSecurityID underlyingSymbol unrealizedCapitalGainsPnl unrealizedlFxPnl vestingDate weight
        """
    ),
    "Trade": _names(
        """
        accountId accruedInt acctAlias assetCategory brokerageOrderID buySell capitalGainsPnl changeInPrice
        changeInQuantity clearingFirmID closePrice commodityType conid cost currency cusip dateTime deliveryType
        description exchOrderId exchange expiry extExecID fifoPnlRealized figi fineness fxPnl fxRateToBase
        holdingPeriodDateTime ibCommission ibCommissionCurrency ibExecID ibOrderID initialInvestment isAPIOrder
        isin issuer issuerCountryCode levelOfDetail listingExchange model mtmPnl multiplier netCash
        netCashInBase notes openCloseIndicator openDateTime orderReference orderTime orderType origOrderID
        origTradeDate origTradeID origTradePrice origTransactionID positionActionID principalAdjustFactor
        proceeds putCall quantity relatedTradeID relatedTransactionID reportDate rtn securityID securityIDType
        sedol serialNumber settleDateTarget strike subCategory symbol taxes tradeDate tradeID tradeMoney
        tradePrice tradeTime traderID transactionID transactionType underlyingConid underlyingListingExchange
        underlyingSecurityID underlyingSymbol volatilityOrderLink weight whenRealized whenReopened
        """
    ),
    "ConversionRate": _names("reportDate fromCurrency toCurrency rate"),
}

# Elements whose attributes come in suffixed families (cashLong/cashShort; endingCashSec/endingCashCom/...).
STEMS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "EquitySummaryByReportDateInBase": (
        _names(
            """
            accountId acctAlias bondInterestAccrualsComponent bonds brokerCashComponent brokerFeesAccrualsComponent
            brokerInterestAccrualsComponent cash cfdUnrealizedPl commodities crypto currency dividendAccruals
            eventContractInterestAccruals fdicInsuredAccountInterestAccruals
            fdicInsuredAccountInterestAccrualsComponent fdicInsuredBankSweepAccount
            fdicInsuredBankSweepAccountCashComponent forexCfdUnrealizedPl funds incentiveCouponAccruals
            insuredBankDepositRedemptionCashComponent interestAccruals ipoSubscription liteSurchargeAccruals
            marginFinancingChargeAccruals model notes options physDel reportDate slbCashCollateral
            slbDirectSecuritiesBorrowed slbDirectSecuritiesLent softDollars stock total
            """
        ),
        ("Long", "Short"),
    ),
    "CashReportCurrency": (
        _names(
            """
            accountId accountTransfers acctAlias advisorFee advisorFees avgCreditBalance avgDebitBalance billPay
            billableCommissions billableSalesTax bondInterest brokerFees brokerInterest carbonCredits
            cashSettlingMtm cfdCharges clientFees commissionCreditsRedemption commissions currency debitCardActivity
            depositWithdrawals deposits dividends donations endingCash endingSettledCash excessFundSweep
            feesReceivables fromDate fxTranslationGainLoss insuredDepositInteres insuredDepositInterest
            internalTransfers ipoSubscription levelOfDetail linkingAdjustments model netTradesPurchases
            netTradesSales other otherFees otherIncome paxosTransfers paymentInLieu realizedForexVm realizedVm
            referralFee salesTax slbEndingCashCollateral slbNetCash slbNetSecuritiesLentActivity slbNetSettledCash
            slbStartingCashCollateral startingCash taxReceivables toDate transactionTax withdrawals withholding871m
            withholdingCollectedTax withholdingTax
            """
        ),
        ("Sec", "Com", "MTD", "YTD", "Paxos", "IBUKL"),
    ),
}


def is_known(element: str, attribute: str) -> bool:
    """Whether IBKR documents ``attribute`` on ``element`` (elements not listed here are not checked)."""
    if element in ATTRIBUTES:
        return attribute in ATTRIBUTES[element]
    if element in STEMS:
        stems, suffixes = STEMS[element]
        if attribute in stems:
            return True
        return any(attribute.endswith(s) and attribute[: -len(s)] in stems for s in suffixes)
    return True
