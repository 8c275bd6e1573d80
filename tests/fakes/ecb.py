"""A fake ECB euro reference-rate feed over real HTTP on 127.0.0.1, in the ECB's own XML shape.

    ecb = FakeEcb({date(2026, 11, 20): {"USD": "1.0506", "GBP": "0.83"}})
    with ecb:
        EcbRates(ecb.daily_url)            # /stats/eurofxref/eurofxref-daily.xml (newest day only)
        EcbRates(ecb.hist_url)             # /stats/eurofxref/eurofxref-hist-90d.xml (every day, newest first)
"""

from __future__ import annotations

from datetime import date

from tests.fakes.server import FakeServer, Reply

DAILY = "/stats/eurofxref/eurofxref-daily.xml"
HIST_90D = "/stats/eurofxref/eurofxref-hist-90d.xml"

# A realistic slice of one day's publication (units per euro).
TYPICAL = {
    "USD": "1.0506", "JPY": "162.37", "CZK": "25.271", "DKK": "7.4589", "GBP": "0.83", "HUF": "410.15",
    "PLN": "4.3310", "SEK": "11.5160", "CHF": "0.9302", "NOK": "11.7250", "AUD": "1.6150", "CAD": "1.4700",
    "HKD": "8.1740", "SGD": "1.4120", "ZAR": "19.0210",
}


def feed_xml(days: dict[date, dict[str, str]]) -> bytes:
    blocks = []
    for day in sorted(days, reverse=True):
        cubes = "\n".join(f"\t\t\t<Cube currency='{c}' rate='{r}'/>" for c, r in days[day].items())
        blocks.append(f"\t\t<Cube time='{day.isoformat()}'>\n{cubes}\n\t\t</Cube>")
    body = "\n".join(blocks)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
        "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
        f"\t<Cube>\n{body}\n\t</Cube>\n</gesmes:Envelope>\n"
    ).encode()


class FakeEcb:
    def __init__(self, days: dict[date, dict[str, str]]) -> None:
        self.days = days
        self.server = FakeServer()
        self.server.route("GET", DAILY, lambda req: self._reply({max(self.days): self.days[max(self.days)]}))
        self.server.route("GET", HIST_90D, lambda req: self._reply(self.days))

    def _reply(self, days: dict[date, dict[str, str]]) -> Reply:
        return Reply(200, feed_xml(days), {"Content-Type": "text/xml"})

    @property
    def daily_url(self) -> str:
        return self.server.base_url + DAILY

    @property
    def hist_url(self) -> str:
        return self.server.base_url + HIST_90D

    def __enter__(self) -> FakeEcb:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
