"""The Flex Web Service's two-step protocol: its status responses and error codes, mapped to our errors.

``SendRequest?t=TOKEN&q=QUERY_ID&v=3`` answers a ``FlexStatementResponse``::

    <FlexStatementResponse timestamp="28 August, 2012 10:37 AM EDT">
      <Status>Success</Status><ReferenceCode>1234567890</ReferenceCode>
      <Url>https://gdcdyn.interactivebrokers.com/AccountManagement/FlexWebService/GetStatement</Url>
    </FlexStatementResponse>

``GetStatement?t=TOKEN&q=REFERENCE_CODE&v=3`` answers the statement (``FlexQueryResponse``) or another
``FlexStatementResponse`` with ``Status`` ``Warn``/``Fail``, an ``ErrorCode`` and an ``ErrorMessage`` —
always with HTTP 200. The codes are IBKR's documented list (1001-1021).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from portfolio_dashboard.brokers.http import Classifier
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import (
    AuthError,
    NetworkError,
    ParsingError,
    RateLimitError,
    SourceError,
    ValidationError,
)

SOURCE = "ib_flex"
TOKEN_PAGE = "Client Portal > Settings > Account Settings > Flex Web Service (Reporting > Flex Queries)"  # noqa: S105 - a menu path
# IBKR does not say how long to back off after 1018; ten seconds is what well-kept clients use.
THROTTLE_RETRY_AFTER_S = 10.0


class FlexNotReadyError(NetworkError):
    """IBKR is generating the statement or is busy: poll again after a pause (our poll loop, not tenacity)."""

    retryable = False  # the fetch's own bounded poll loop handles these, not the generic HTTP retry


@dataclass(frozen=True, slots=True)
class _Code:
    kind: type[SourceError]
    hint: str


_NOT_READY = _Code(FlexNotReadyError, "IBKR is preparing the statement; the capture retries on its own")
_TOKEN_HINT = f"generate a new token under {TOKEN_PAGE} and set IB_FLEX_TOKEN"

ERROR_CODES: dict[str, _Code] = {
    "1001": _NOT_READY,  # Statement could not be generated at this time. Please try again shortly.
    "1003": _Code(
        ValidationError,
        "IBKR has no statement for the query's period yet; daily data is ready after IBKR's close of business",
    ),
    "1004": _NOT_READY,  # Statement is incomplete at this time.
    "1005": _NOT_READY,  # Settlement data is not ready at this time.
    "1006": _NOT_READY,  # FIFO P/L data is not ready at this time.
    "1007": _NOT_READY,  # MTM P/L data is not ready at this time.
    "1008": _NOT_READY,  # MTM and FIFO P/L data is not ready at this time.
    "1009": _NOT_READY,  # The server is under heavy load.
    "1010": _Code(ValidationError, "legacy Flex queries are no longer supported: create an Activity Flex Query"),
    "1011": _Code(AuthError, f"the Flex Web Service is inactive: activate it under {TOKEN_PAGE}"),
    "1012": _Code(AuthError, f"the Flex token has expired: {_TOKEN_HINT}"),
    "1013": _Code(AuthError, f"the token is restricted to another IP address: {_TOKEN_HINT} without one"),
    "1014": _Code(ValidationError, "the Flex query is invalid: check IB_FLEX_QUERY_ID against Client Portal"),
    "1015": _Code(AuthError, f"the Flex token is invalid: {_TOKEN_HINT}"),
    "1016": _Code(ValidationError, "the query's account is invalid: check the accounts selected in the query"),
    "1017": _Code(ValidationError, "IBKR no longer knows the statement's reference code: run the capture again"),
    "1018": _Code(RateLimitError, "IBKR throttles Flex requests per token: wait a minute before trying again"),
    "1019": _NOT_READY,  # Statement generation in progress.
    "1020": _Code(ValidationError, "IBKR could not validate the request: check IB_FLEX_BASE_URL and the query"),
    "1021": _NOT_READY,  # Statement could not be retrieved at this time.
}


@dataclass(frozen=True, slots=True)
class StatusResponse:
    """A ``FlexStatementResponse``."""

    status: str
    reference_code: str | None
    url: str | None
    error_code: str | None
    error_message: str | None


def read_xml(body: bytes, *, endpoint: str) -> Element:
    """Parse a body as XML without entity expansion or external references."""
    if not body.strip():
        raise ParsingError("empty response body", source=SOURCE, endpoint=endpoint)
    try:
        root: Element = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise ParsingError(
            f"response is not well-formed XML ({type(exc).__name__})",
            source=SOURCE,
            endpoint=endpoint,
            hint="if this persists, set the Flex query's output format to XML in Client Portal",
        ) from None
    return root


def status_response(root: Element) -> StatusResponse:
    def child(name: str) -> str | None:
        node = root.find(name)
        text = node.text.strip() if node is not None and node.text else None
        return text or None

    return StatusResponse(
        status=child("Status") or "",
        reference_code=child("ReferenceCode"),
        url=child("Url"),
        error_code=child("ErrorCode"),
        error_message=child("ErrorMessage"),
    )


def error_for(status: StatusResponse, *, endpoint: str, scrub: str | None = None) -> SourceError:
    """Our error for a failed ``FlexStatementResponse``; ``scrub`` is removed from IBKR's message."""
    message = status.error_message or "no message"
    if scrub:
        message = message.replace(scrub, "***")
    text = f"IBKR Flex error {status.error_code or '?'}: {message}"
    code = ERROR_CODES.get(status.error_code or "")
    if code is None:
        # An undocumented code: "try again" is IBKR's wording for transient states.
        kind: type[SourceError] = FlexNotReadyError if "try again" in message.lower() else ValidationError
        hint = "see IBKR's Flex Web Service error codes"
        return kind(text, source=SOURCE, endpoint=endpoint, hint=hint)
    if code.kind is RateLimitError:
        return RateLimitError(
            text, source=SOURCE, endpoint=endpoint, hint=code.hint, retry_after=THROTTLE_RETRY_AFTER_S
        )
    return code.kind(text, source=SOURCE, endpoint=endpoint, hint=code.hint)


def make_classifier(scrub: str | None) -> Classifier:
    """The ``BrokerHttp`` classify hook: IBKR reports every failure with HTTP 200 and an XML status body."""

    def classify(response: httpx.Response, raw: RawResponse) -> SourceError | None:
        if not 200 <= response.status_code < 300:
            return None  # the default mapping (401, 429, 5xx, ...) applies
        body = raw.body.lstrip()
        if not body.startswith(b"<"):
            return ValidationError(
                "the Flex Web Service answered with something that is not XML (a CSV statement?)",
                source=SOURCE,
                endpoint=raw.endpoint,
                hint="set the Flex query's output format to XML in Client Portal",
            )
        if b"<FlexQueryResponse" in body[:2048]:
            return None  # the statement itself (possibly megabytes): parse() reads and checks it
        root = read_xml(raw.body, endpoint=raw.endpoint)
        if root.tag != "FlexStatementResponse":
            return None
        status = status_response(root)
        if status.status.lower() == "success":
            return None
        return error_for(status, endpoint=raw.endpoint, scrub=scrub)

    return classify
