"""The declared columns of each export kind: name, type and meaning (docs/exports.md prints the same list).

A declared schema, rather than whatever keys the rows happen to have, keeps a file's columns stable across
runs and lets Parquet carry exact decimal types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["date", "timestamp", "string", "decimal", "integer"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    meaning: str
    nullable: bool = False
    scale: int = 10  # decimal places of the Parquet decimal128(38, scale) type; ignored for other types


def _c(name: str, type_: ColumnType, meaning: str, *, nullable: bool = False, scale: int = 10) -> Column:
    return Column(name, type_, meaning, nullable, scale)


_ACCOUNT = (
    _c("account_id", "string", "the broker's own account number"),
    _c("broker", "string", "ib, schwab or demo"),
)
_SOURCE_OPTIONAL = _c(
    "source_sha256", "string", "SHA-256 of the raw response, when the figure came from one", nullable=True
)
_SOURCE_FLOW = _c("source_sha256", "string", "SHA-256 of the raw broker response the row was read from "
                  "(empty when that response was deleted)", nullable=True)
_RATE = _c("fx_rate_gbp_per_unit", "decimal", "GBP per one unit of currency used for the _gbp figures",
           nullable=True, scale=18)
# Snapshots and trades name their response through their run; a run that kept none leaves it empty.
_SOURCE_RUN = _c("source_sha256", "string", "SHA-256 of the raw broker response the row was read from "
                 "(empty when the run kept no response)", nullable=True)

EXPORT_KINDS: dict[str, tuple[Column, ...]] = {
    "daily-values": (
        _c("date", "date", "the day valued (the account's last stored snapshot on or before it)"),
        *_ACCOUNT,
        _c("currency", "string", "the account's base currency"),
        _c("value_local", "decimal", "the account's total value in its base currency, as captured"),
        _RATE,
        _c("value_gbp", "decimal", "the account's total value in GBP (empty without a rate)", nullable=True),
        _c("snapshot_id", "string", "the stored snapshot the value comes from"),
        _SOURCE_RUN,
    ),
    "positions": (
        _c("date", "date", "the day of the snapshot"),
        *_ACCOUNT,
        _c("security", "string", "symbol or name of the instrument"),
        _c("isin", "string", "ISIN where known", nullable=True),
        _c("quantity", "decimal", "units held; negative for a short position"),
        _c("price", "decimal", "price per unit in currency (major units); value / quantity when the broker "
           "gave none", nullable=True),
        _c("currency", "string", "the instrument's ISO 4217 currency"),
        _c("value_local", "decimal", "market value in currency, as the broker reported it"),
        _RATE,
        _c("value_gbp", "decimal", "market value in GBP (empty without a rate)", nullable=True),
        _c("snapshot_id", "string", "the stored snapshot the row comes from"),
        _SOURCE_RUN,
    ),
    "trades": (
        _c("trade_time", "timestamp", "execution time, UTC"),
        *_ACCOUNT,
        _c("broker_trade_id", "string", "the broker's id of the execution"),
        _c("security", "string", "symbol or name of the instrument"),
        _c("isin", "string", "ISIN where known", nullable=True),
        _c("quantity", "decimal", "signed: positive for a buy, negative for a sale"),
        _c("price", "decimal", "price per unit in currency", nullable=True),
        _c("currency", "string", "the trade's ISO 4217 currency"),
        _c("amount_local", "decimal", "signed cash effect in currency (negative when cash leaves)", nullable=True),
        _c("commission_local", "decimal", "commission in currency, as the broker reports it", nullable=True),
        _c("realised_pnl_local", "decimal", "the broker's realised P&L (IB fifoPnlRealized)", nullable=True),
        _c("fx_rate_gbp_per_unit", "decimal", "GBP per unit of currency at the trade date", nullable=True, scale=18),
        _SOURCE_RUN,
    ),
    "flows": (
        _c("date", "date", "the day the cash moved"),
        *_ACCOUNT,
        _c("kind", "string", "deposit, withdrawal, transfer_in, transfer_out, fee, ..."),
        _c("currency", "string", "ISO 4217 currency of the amount"),
        _c("amount_local", "decimal", "signed cash effect in currency"),
        _RATE,
        _c("amount_gbp", "decimal", "signed cash effect in GBP (empty without a rate)", nullable=True),
        _c("description", "string", "the broker's description", nullable=True),
        _SOURCE_FLOW,
    ),
    "income": (
        _c("date", "date", "payment date"),
        *_ACCOUNT,
        _c("kind", "string", "dividend or interest"),
        _c("security", "string", "the paying security (for interest, the cash currency)"),
        _c("isin", "string", "ISIN where known", nullable=True),
        _c("currency", "string", "ISO 4217 currency of the payment"),
        _c("gross_local", "decimal", "gross amount in currency"),
        _c("withholding_tax_local", "decimal", "tax withheld in currency, negative or zero"),
        _c("net_local", "decimal", "gross_local + withholding_tax_local"),
        _RATE,
        _c("gross_gbp", "decimal", "gross amount in GBP (empty without a rate)", nullable=True),
        _c("withholding_tax_gbp", "decimal", "tax withheld in GBP, negative or zero", nullable=True),
        _c("net_gbp", "decimal", "gross_gbp + withholding_tax_gbp", nullable=True),
        _SOURCE_FLOW,
    ),
    "fx-rates": (
        _c("as_of", "timestamp", "the moment the rate applies to, UTC"),
        _c("source_currency", "string", "the currency converted from"),
        _c("target_currency", "string", "the currency converted to"),
        _c("rate", "decimal", "units of target_currency per one unit of source_currency", scale=18),
        _c("provider", "string", "ecb, ib, ib_flex, manual or demo"),
        _SOURCE_OPTIONAL,
    ),
}
