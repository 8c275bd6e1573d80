"""The spool's files: exact round trip of raw responses, durability details, corruption never dropped."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.local.spool import (
    RunMeta,
    RunSpooler,
    Spool,
    SpoolCorruptError,
    SpoolEntry,
    decode_entry,
    encode_entry,
    ensure_private_dir,
    write_atomic,
)

RECEIVED = datetime(2026, 11, 20, 21, 5, 7, 123456, tzinfo=timezone(timedelta(hours=-5)))


def meta(started: datetime | None = None) -> RunMeta:
    return RunMeta(uuid.uuid4(), "scheduled", "cli:pi", ("ib_flex", "schwab"), started or datetime.now(UTC),
                   "pi", 4242, "0.1.0", "0003")


def raw(body: bytes, **kw: object) -> RawResponse:
    fields: dict = {"source": "ib_flex", "broker": "ib", "endpoint": "GET /FlexStatementService.GetStatement",
                    "received_at": RECEIVED, "status_code": 200, "body": body, "content_type": "text/xml",
                    "headers": {"date": "Fri, 20 Nov 2026 21:05:07 GMT"}}
    fields.update(kw)
    return RawResponse(**fields)


def test_entry_round_trip_keeps_every_byte_and_the_received_time() -> None:
    odd = b'<?xml version="1.0"?>\x00\xff\xfe <FlexQueryResponse a="\xc3\xa9"/>\r\n'
    entry = SpoolEntry(uuid.uuid4(), meta(), "ib_flex", "parse", "3", datetime.now(UTC),
                       {"source": "ib_flex", "status": "spooled"}, (raw(odd), raw(b"", status_code=None)))
    back = decode_entry(encode_entry(entry))
    assert back.raws == entry.raws
    assert back.raws[0].received_at == RECEIVED
    assert back.raws[0].received_at.utcoffset() == timedelta(hours=-5)
    assert back.run == entry.run
    assert back.kind == "parse"
    assert back.parser_version == "3"


def test_a_tampered_body_is_detected() -> None:
    entry = SpoolEntry(uuid.uuid4(), meta(), "ib_flex", "parse", "3", datetime.now(UTC), {}, (raw(b"<a/>"),))
    doc = json.loads(encode_entry(entry))
    doc["raws"][0]["body_b64"] = "PGIvPg=="  # "<b/>"
    with pytest.raises(SpoolCorruptError, match="checksum"):
        decode_entry(json.dumps(doc).encode())
    with pytest.raises(SpoolCorruptError):
        decode_entry(b'{"format": 1, "type": "entry", "raws": [')  # truncated


def test_atomic_write_is_private_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "spool"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    ensure_private_dir(target)
    assert target.stat().st_mode & 0o777 == 0o700
    write_atomic(target / "a.json", b"one")
    write_atomic(target / "a.json", b"two")
    assert (target / "a.json").read_bytes() == b"two"
    assert (target / "a.json").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.iterdir()] == ["a.json"]


def test_spooler_touches_the_disk_only_when_used_and_holds_its_run(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spooler = RunSpooler(spool, meta())
    assert not spooler.used
    assert not spool.root.exists()
    spooler.spool_source("ib_flex", "3", [raw(b"<a/>")], kind="parse", outcome={"source": "ib_flex"})
    spooler.spool_source("schwab", "2", [raw(b"{}", source="schwab", broker="schwab")], kind="raws",
                         outcome={"source": "schwab", "status": "fail"})
    spooler.finish(datetime.now(UTC), [{"source": "ib_flex"}, {"source": "schwab"}], ["w"], "down")
    (directory,) = spool.run_dirs()
    with spool.claim(directory) as mine:
        assert mine is False  # the capture still holds it
    spooler.close()
    with spool.claim(directory) as mine:
        assert mine is True
        pending = spool.load(directory)
    assert [e.source for e in pending.entries] == ["ib_flex", "schwab"]
    assert [e.kind for e in pending.entries] == ["parse", "raws"]
    assert pending.manifest is not None
    assert pending.manifest.reason == "down"
    assert spool.summary().entries == 2
    assert spool.summary().responses == 2
    assert "spool replay" in spooler.message("down")


def test_an_unreadable_file_is_quarantined_not_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spooler = RunSpooler(spool, meta())
    spooler.spool_source("ib_flex", "3", [raw(b"<a/>")], kind="parse", outcome={})
    spooler.spool_source("schwab", "2", [raw(b"{}")], kind="parse", outcome={})
    spooler.close()
    (directory,) = spool.run_dirs()
    broken = sorted(directory.glob("*schwab*.json"))[0]
    truncated = broken.read_bytes()[:50]
    broken.write_bytes(truncated)
    pending = spool.load(directory)
    assert [e.source for e in pending.entries] == ["ib_flex"]
    assert len(pending.corrupt) == 1
    assert pending.corrupt[0].parent == spool.root / "corrupt"
    assert pending.corrupt[0].read_bytes() == truncated
    assert not broken.exists()
    assert spool.summary().corrupt == 1
    assert spool.run_dirs() == [directory]  # corrupt/ is not a run


def test_runs_are_listed_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    later = RunSpooler(spool, meta(datetime(2026, 11, 21, tzinfo=UTC)))
    earlier = RunSpooler(spool, meta(datetime(2026, 11, 20, tzinfo=UTC)))
    for s in (later, earlier):
        s.spool_source("ib_flex", "3", [raw(b"<a/>")], kind="parse", outcome={})
        s.close()
    assert [d.name[:8] for d in spool.run_dirs()] == ["20261120", "20261121"]


def test_a_spool_that_cannot_be_written_says_the_responses_are_lost(tmp_path: Path) -> None:
    blocked = tmp_path / "spool"
    blocked.write_text("a file where the spool folder should be")
    spooler = RunSpooler(Spool(blocked), meta())
    assert spooler.spool_source("ib_flex", "3", [raw(b"<a/>"), raw(b"<b/>")], kind="parse", outcome={}) is None
    assert spooler.lost == 2
    assert spooler.responses == 0
    assert "2 response(s) LOST" in spooler.message("down")
