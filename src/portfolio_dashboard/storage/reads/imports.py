"""What an import needs to know: whether a raw response with these exact bytes is already stored."""

from __future__ import annotations

from sqlalchemy import Connection, text


def stored_raw_hashes(conn: Connection, source: str, hashes: list[str]) -> set[str]:
    """The SHA-256s among ``hashes`` already stored as raw responses of ``source``."""
    rows = conn.execute(
        text("""SELECT DISTINCT content_sha256 FROM raw_payloads
                WHERE source = :s AND content_sha256 = ANY(CAST(:h AS text[]))"""),
        {"s": source, "h": hashes},
    ).all()
    return {row[0] for row in rows}
