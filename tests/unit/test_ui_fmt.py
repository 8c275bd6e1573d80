"""Presentation helpers: one money format everywhere, masked account numbers, readable payloads."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from portfolio_dashboard.ui import fmt


@pytest.mark.parametrize(
    ("value", "currency", "signed", "expected"),
    [
        (Decimal("1234.5"), "GBP", False, "£1,234.50"),
        (Decimal("-12"), "GBP", False, "−£12.00"),
        (Decimal("1234567.891"), "USD", False, "$1,234,567.89"),
        (Decimal("0.004"), "EUR", True, "€0.00"),
        (Decimal("5"), "EUR", True, "+€5.00"),
        (Decimal("5"), "CHF", False, "CHF 5.00"),
        (None, "GBP", False, "—"),
        (1234.5, "GBP", False, "£1,234.50"),
    ],
)
def test_money(value, currency, signed, expected):
    assert fmt.money(value, currency, signed=signed) == expected


def test_metric_deltas_use_an_ascii_minus_so_streamlit_colours_them_red():
    assert fmt.money(Decimal("-3"), "GBP", minus="-") == "-£3.00"
    assert fmt.pct(Decimal("-0.0123"), minus="-") == "-1.23%"


def test_pct():
    assert fmt.pct(Decimal("0.0123")) == "+1.23%"
    assert fmt.pct(Decimal("-0.5")) == "−50.00%"
    assert fmt.pct(Decimal(0)) == "0.00%"
    assert fmt.pct(None) == "—"


@pytest.mark.parametrize(
    ("account", "masked"),
    [("U1234321", "••••4321"), ("12345678", "••••5678"), ("ABCD", "••••CD"), ("7", "••••7")],
)
def test_mask_account_never_shows_more_than_the_tail(account, masked):
    assert fmt.mask_account(account) == masked


def test_account_label():
    assert fmt.account_label("ib", "U1234321", "ISA") == "IB ••••4321 · ISA"
    assert fmt.account_label("other", "X99999") == "other ••••9999"


def test_when_and_ago():
    tz = ZoneInfo("Europe/London")
    ts = datetime(2026, 7, 1, 15, 30, 5, tzinfo=UTC)
    assert fmt.when(ts, tz) == "01 Jul 2026 16:30"
    assert fmt.when(ts, tz, seconds=True) == "01 Jul 2026 16:30:05"
    assert fmt.when(None, tz) == "—"
    assert fmt.ago(ts, ts + timedelta(seconds=30)) == "just now"
    assert fmt.ago(ts, ts + timedelta(minutes=5)) == "5m ago"
    assert fmt.ago(ts, ts + timedelta(hours=5)) == "5h 0m ago"
    assert fmt.ago(ts, ts + timedelta(days=3)) == "3d 0h ago"


def test_duration_and_size():
    assert fmt.duration(None) == "running"
    assert fmt.duration(1.234) == "1.2 s"
    assert fmt.duration(600) == "10.0 min"
    assert fmt.size(10) == "10 B"
    assert fmt.size(2048) == "2.0 KB"
    assert fmt.size(3 * 1048576) == "3.0 MB"


def test_pretty_body_json_xml_and_other():
    assert fmt.pretty_body(None, {"a": [1]}, "application/json") == ("json", '{\n  "a": [\n    1\n  ]\n}')
    language, text = fmt.pretty_body("<?xml version='1.0'?><R><S a='1'/></R>", None, "text/xml")
    assert language == "xml"
    assert "\n  <S a=\"1\"/>" in text
    assert fmt.pretty_body("<R><unclosed>", None, "text/xml") == ("xml", "<R><unclosed>")
    assert fmt.pretty_body("<html>down</html>", None, "text/html") == ("html", "<html>down</html>")
    assert fmt.pretty_body("plain", None, None) == ("text", "plain")


def test_pretty_body_refuses_xml_entity_expansion():
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><r>&b;</r>'
    language, text = fmt.pretty_body(bomb, None, "text/xml")
    assert (language, text) == ("xml", bomb)  # shown as stored, never expanded


def test_the_one_number_style():
    assert fmt.money(Decimal("-5773.87"), "GBP") == "−£5,773.87"  # the minus before the symbol
    assert fmt.quantity(Decimal("1500")) == "1,500"
    assert fmt.quantity(Decimal("0.12500")) == "0.125"
    assert fmt.quantity(Decimal("-3")) == "−3"
    assert fmt.price(Decimal("189.4"), "USD") == "$189.40"
    assert fmt.price(Decimal("0.12346"), "GBP") == "£0.1235"  # up to 4 places when the price has them
    assert fmt.price(Decimal("9.850"), "EUR") == "€9.85"
    assert fmt.rate(Decimal("1.273149")) == "1.2731"
    assert fmt.wrapper_label("US_TAXABLE") == "US taxable" and fmt.wrapper_label(None) == ""


def test_csv_numbers_are_exact_and_percent():
    assert fmt.csv_amount(Decimal("1234.567800")) == "1234.567800"
    assert fmt.csv_amount(Decimal("1E+3")) == "1000"
    assert fmt.csv_amount(None) == ""
    assert fmt.csv_pct(Decimal("0.123456789")) == "12.3457"
    assert fmt.csv_pct(Decimal("0.5")) == "50"
    assert fmt.csv_pct(None) == ""


def test_demo_accounts_are_labelled_by_their_simulated_id():
    assert fmt.account_label("demo", "DEMO-ISA-01") == "Demo ISA-01"
    assert fmt.account_label("ib", "U1234321") == "IB ••••4321"


def test_tables_show_the_same_style_with_empty_cells_and_colours():
    import pandas as pd

    from portfolio_dashboard.ui import tables

    frame = pd.DataFrame({"P&L (GBP)": [-5773.87, 12.5, None], "Weight": [0.5, 0.25, None],
                          "Quantity": [1500.0, 0.125, 3.0]})
    styler = tables.styled(frame, pnl_cols={"P&L (GBP)": "GBP"}, pct_cols=("Weight",), qty_cols=("Quantity",))
    html = styler.to_html()
    assert "−£5,773.87" in html and "£12.50" in html and "50.00%" in html and "0.125" in html
    assert "None" not in html and "nan" not in html
    assert tables.LOSS.split(": ")[1] in html and tables.GAIN.split(": ")[1] in html


def test_static_tables_escape_every_text_and_keep_the_number_style():
    import pandas as pd

    from portfolio_dashboard.ui import tables
    from tests.ui import static_tables

    frame = pd.DataFrame({
        "Account": ['<script>alert("x")</script>', "Tom & Jerry's $ISA | :red[x]"],
        "Accounts": [2, 1],
        "Value": [Decimal("-5773.87"), None],
        "Weight": [Decimal("0.6426"), float("nan")],
        "Source": ['/runs?snapshot=1&x="><b>', None],
    }, dtype=object)
    markup = tables.static(frame, money_cols={"Value": "GBP"}, pct_cols=("Weight",), links={"Source": "snapshot"})
    assert "<script" not in markup and "<b>" not in markup  # names and links are text, never markup
    assert "\n" not in markup  # Markdown would end the HTML block at a blank line
    rows = static_tables.parse(markup)
    assert rows[0] == {"Account": '<script>alert("x")</script>', "Accounts": "2", "Value": "−£5,773.87",
                       "Weight": "64.26%", "Source": '/runs?snapshot=1&x="><b>'}
    assert rows[1] == {"Account": "Tom & Jerry's $ISA | :red[x]", "Accounts": "1", "Value": "", "Weight": "",
                       "Source": ""}  # an empty cell where a value does not apply
    right = [c for c in ("Account", "Accounts", "Value", "Weight", "Source")
             if f'text-align:right">{c}</th>' in markup]
    assert right == ["Accounts", "Value", "Weight"]  # amounts, percentages and counts line up on the right
    assert markup.startswith('<div style="overflow-x:auto">')  # a narrow screen scrolls it sideways
