"""Safety checks every source's parse applies: no as-of from the future, no secrets in error text.

``scrub_secrets`` is for text built from a broker's response body (error messages, hints): brokers echo
requests back, and an OAuth error body can contain the very token or client secret that was sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from portfolio_dashboard.domain import AccountSnapshot, RawResponse
from portfolio_dashboard.domain.raw import REDACTED_HEADER
from portfolio_dashboard.errors import ValidationError, scrub_secrets

# A broker clock a little ahead of ours is normal; beyond this an as-of is wrong, not early.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def redact_raw(raw: RawResponse) -> RawResponse:
    """``raw`` as it may be kept: an error response (not 2xx) with its secret values replaced by ``***``.

    A broker's error body can echo the token it was sent (``"Bearer abc"`` in a 401's detail), and the raw
    payload is stored, spooled and shown. Only the secret values go; the rest of the body is kept as received,
    and the header :data:`REDACTED_HEADER` says so (``content_sha256`` is then the stored body's). Successful
    responses are data and are kept byte for byte: field names such as ``code`` in them are not secrets.
    """
    if raw.status_code is not None and 200 <= raw.status_code < 300:
        return raw
    text = raw.body.decode("utf-8", errors="replace")
    clean = scrub_secrets(text)
    if clean == text:
        return raw
    return replace(raw, body=clean.encode("utf-8"), headers={**raw.headers, REDACTED_HEADER: "secret values replaced"})


def reject_future(snapshots: Iterable[AccountSnapshot], now: datetime, *, source: str) -> None:
    """A snapshot dated more than :data:`MAX_CLOCK_SKEW` after ``now`` is a validation error (never "latest")."""
    limit = now + MAX_CLOCK_SKEW
    for snap in snapshots:
        if snap.asof_ts > limit:
            raise ValidationError(
                f"{snap.account.broker_account_id}: as-of {snap.asof_ts.isoformat()} is in the future "
                f"(now {now.isoformat()})",
                source=source,
                hint="check the broker's and this machine's clocks and time zones (IB_FLEX_TIMEZONE for Flex)",
            )
