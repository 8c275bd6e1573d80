"""The local spool: where a capture puts what the brokers said when PostgreSQL cannot take it.

Raw responses are the source of truth, so the spool keeps exactly those (every byte, with the received time
and safe headers) plus what a replay needs to store them as the capture would have: the run's metadata, the
source and its parser version, and the capture-time outcome. Replay re-parses them (``replay.py``).

Layout under ``PORTFOLIO_DATA_DIR/spool`` (directory 0700, files 0600; bodies can hold account numbers)::

    <started>_<run_id>/          one directory per capture run that spooled something
        .lock                    flock'ed by the capturing process: a replay skips a run still in progress
        001_<source>.json        one entry per source (kind "parse": fetched completely, re-parse on replay;
                                 kind "raws": the fetch failed, store the responses for diagnosis only)
        run.json                 the run's final outcome, written last (absent when the process died)
    corrupt/                     files that could not be read back (never deleted silently)

Every file is written atomically and durably: a temporary file in the same directory, ``fsync``, rename,
then ``fsync`` of the directory, so a power cut leaves either the whole entry or none of it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.local.files import ensure_private_dir, fsync_dir, write_atomic

log = logging.getLogger(__name__)

FORMAT = 1
ENTRY_SUFFIX = ".json"
MANIFEST = "run.json"
LOCK = ".lock"
CORRUPT = "corrupt"
Kind = Literal["parse", "raws"]


class SpoolCorruptError(ValueError):
    """A spool file that cannot be read back (truncated, edited, checksum mismatch)."""


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What ``snapshot_runs`` needs to record a spooled run as it happened."""

    run_id: uuid.UUID
    trigger_type: str
    triggered_by: str | None
    sources: tuple[str, ...]
    started_at: datetime
    hostname: str
    pid: int
    app_version: str
    schema_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": str(self.run_id), "trigger_type": self.trigger_type, "triggered_by": self.triggered_by,
            "sources": list(self.sources), "started_at": self.started_at.isoformat(), "hostname": self.hostname,
            "pid": self.pid, "app_version": self.app_version, "schema_version": self.schema_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunMeta:
        return cls(
            uuid.UUID(data["run_id"]), str(data["trigger_type"]), data.get("triggered_by"),
            tuple(str(s) for s in data["sources"]), _aware(data["started_at"]), str(data["hostname"]),
            int(data["pid"]), str(data["app_version"]), str(data["schema_version"]),
        )


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    entry_id: uuid.UUID
    run: RunMeta
    source: str
    kind: Kind
    parser_version: str
    spooled_at: datetime
    outcome: dict[str, Any]  # the capture-time SourceOutcome as a dict
    raws: tuple[RawResponse, ...]
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class RunManifest:
    run: RunMeta
    finished_at: datetime
    outcomes: list[dict[str, Any]]
    warnings: list[str]
    reason: str


@dataclass(slots=True)
class PendingRun:
    directory: Path
    entries: list[SpoolEntry] = field(default_factory=list)
    manifest: RunManifest | None = None
    corrupt: list[Path] = field(default_factory=list)

    @property
    def run(self) -> RunMeta | None:
        if self.manifest is not None:
            return self.manifest.run
        return self.entries[0].run if self.entries else None


@dataclass(frozen=True, slots=True)
class SpoolSummary:
    runs: int
    entries: int
    responses: int
    corrupt: int
    oldest: datetime | None


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise SpoolCorruptError(f"timestamp without a time zone: {text!r}")
    return value


# --- encoding ------------------------------------------------------------------------------------------
def _raw_to_json(raw: RawResponse) -> dict[str, Any]:
    return {
        "source": raw.source, "broker": raw.broker, "endpoint": raw.endpoint,
        "received_at": raw.received_at.isoformat(), "status_code": raw.status_code,
        "content_type": raw.content_type, "headers": dict(raw.headers),
        "sha256": raw.sha256, "body_b64": base64.b64encode(raw.body).decode("ascii"),
    }


def _raw_from_json(data: dict[str, Any]) -> RawResponse:
    body = base64.b64decode(data["body_b64"], validate=True)
    if hashlib.sha256(body).hexdigest() != data["sha256"]:
        raise SpoolCorruptError(f"body checksum mismatch for {data.get('endpoint')!r}")
    status = data.get("status_code")
    return RawResponse(
        source=str(data["source"]), broker=str(data["broker"]), endpoint=str(data["endpoint"]),
        received_at=_aware(data["received_at"]), status_code=None if status is None else int(status), body=body,
        content_type=data.get("content_type"), headers={str(k): str(v) for k, v in data["headers"].items()},
    )


def encode_entry(entry: SpoolEntry) -> bytes:
    doc = {
        "format": FORMAT, "type": "entry", "entry_id": str(entry.entry_id), "run": entry.run.to_json(),
        "source": entry.source, "kind": entry.kind, "parser_version": entry.parser_version,
        "spooled_at": entry.spooled_at.isoformat(), "outcome": entry.outcome,
        "raws": [_raw_to_json(r) for r in entry.raws],
    }
    return json.dumps(doc, default=str, indent=1).encode()


def decode_entry(data: bytes, path: Path | None = None) -> SpoolEntry:
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT or doc.get("type") != "entry":
            raise SpoolCorruptError(f"not a spool entry of format {FORMAT}")
        kind = doc["kind"]
        if kind not in ("parse", "raws"):
            raise SpoolCorruptError(f"unknown entry kind {kind!r}")
        return SpoolEntry(
            entry_id=uuid.UUID(doc["entry_id"]), run=RunMeta.from_json(doc["run"]), source=str(doc["source"]),
            kind=kind, parser_version=str(doc["parser_version"]), spooled_at=_aware(doc["spooled_at"]),
            outcome=dict(doc["outcome"]), raws=tuple(_raw_from_json(r) for r in doc["raws"]), path=path,
        )
    except SpoolCorruptError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SpoolCorruptError(f"unreadable spool entry: {type(exc).__name__}: {exc}") from None


def encode_manifest(manifest: RunManifest) -> bytes:
    doc = {
        "format": FORMAT, "type": "run", "run": manifest.run.to_json(),
        "finished_at": manifest.finished_at.isoformat(), "outcomes": manifest.outcomes,
        "warnings": manifest.warnings, "reason": manifest.reason,
    }
    return json.dumps(doc, default=str, indent=1).encode()


def decode_manifest(data: bytes) -> RunManifest:
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT or doc.get("type") != "run":
            raise SpoolCorruptError(f"not a spool run manifest of format {FORMAT}")
        return RunManifest(
            RunMeta.from_json(doc["run"]), _aware(doc["finished_at"]), [dict(o) for o in doc["outcomes"]],
            [str(w) for w in doc["warnings"]], str(doc["reason"]),
        )
    except SpoolCorruptError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SpoolCorruptError(f"unreadable run manifest: {type(exc).__name__}: {exc}") from None


# --- the spool -----------------------------------------------------------------------------------------
class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run_dir_name(self, meta: RunMeta) -> str:
        return f"{meta.started_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}_{meta.run_id}"

    def run_dirs(self) -> list[Path]:
        """Spooled runs, oldest first (names start with the UTC start time)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and p.name != CORRUPT)

    @contextlib.contextmanager
    def claim(self, directory: Path) -> Iterator[bool]:
        """Lock a run directory for replay; yields False when its capture is still running (or another
        replay has it)."""
        try:
            fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # removed by a concurrent replay
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield directory.is_dir()
        finally:
            os.close(fd)

    def load(self, directory: Path) -> PendingRun:
        """Read a run directory; unreadable files are moved to ``corrupt/`` and listed, never dropped."""
        pending = PendingRun(directory)
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.name.endswith(ENTRY_SUFFIX):
                continue
            try:
                data = path.read_bytes()
                if path.name == MANIFEST:
                    pending.manifest = decode_manifest(data)
                else:
                    pending.entries.append(decode_entry(data, path))
            except SpoolCorruptError as exc:
                pending.corrupt.append(self.quarantine(path))
                log.error("spool file %s is unreadable (%s); moved to %s/", path.name, exc, CORRUPT)
        return pending

    def quarantine(self, path: Path) -> Path:
        target_dir = self.root / CORRUPT
        ensure_private_dir(target_dir)
        target = target_dir / f"{path.parent.name}_{path.name}"
        os.replace(path, target)
        fsync_dir(target_dir)
        return target

    def remove(self, directory: Path) -> None:
        """Delete a run directory once everything in it is stored (called while holding its claim)."""
        shutil.rmtree(directory, ignore_errors=True)
        if self.root.is_dir():
            fsync_dir(self.root)

    def summary(self) -> SpoolSummary:
        runs = entries = responses = 0
        oldest: datetime | None = None
        for directory in self.run_dirs():
            runs += 1
            for path in directory.iterdir():
                if path.name.startswith(".") or path.name == MANIFEST or not path.name.endswith(ENTRY_SUFFIX):
                    continue
                entries += 1
                with contextlib.suppress(OSError, SpoolCorruptError):
                    entry = decode_entry(path.read_bytes())
                    responses += len(entry.raws)
                    if oldest is None or entry.run.started_at < oldest:
                        oldest = entry.run.started_at
        corrupt_dir = self.root / CORRUPT
        corrupt = sum(1 for _ in corrupt_dir.iterdir()) if corrupt_dir.is_dir() else 0
        return SpoolSummary(runs, entries, responses, corrupt, oldest)


class RunSpooler:
    """Spools one capture run's responses. Thread-safe: the capture's source threads call it concurrently.

    The run directory is created on first use (a capture with a healthy database never touches the disk)
    under a temporary name, locked, then renamed into place, so a replay never sees it unlocked while the
    capture is alive.
    """

    def __init__(self, spool: Spool, meta: RunMeta) -> None:
        self.spool = spool
        self.meta = meta
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._lock_fd: int | None = None
        self._seq = 0
        self.responses = 0
        self.entries = 0
        self.lost = 0  # responses neither stored nor spooled (the spool's disk failed too)

    @property
    def directory(self) -> Path:
        return self.spool.root / self.spool.run_dir_name(self.meta)

    @property
    def used(self) -> bool:
        return self._dir is not None

    def _open(self) -> Path:
        if self._dir is not None:
            return self._dir
        ensure_private_dir(self.spool.root)
        final = self.directory
        if final.exists():  # a second spooler for the same run (not expected): share the directory
            staging = final
        else:
            staging = self.spool.root / f".{final.name}.{uuid.uuid4().hex[:8]}"
            staging.mkdir(mode=0o700)
        fd = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if staging != final:
            os.rename(staging, final)
        fsync_dir(self.spool.root)
        self._lock_fd = fd
        self._dir = final
        return final

    def spool_source(
        self, source: str, parser_version: str, raws: Sequence[RawResponse], *, kind: Kind,
        outcome: dict[str, Any],
    ) -> SpoolEntry | None:
        """Write one source's entry; ``None`` (logged, counted in ``lost``) when the disk refuses it too."""
        try:
            with self._lock:
                directory = self._open()
                self._seq += 1
                entry = SpoolEntry(uuid.uuid4(), self.meta, source, kind, parser_version, datetime.now(UTC),
                                   outcome, tuple(raws))
                path = directory / f"{self._seq:03d}_{source}{ENTRY_SUFFIX}"
                write_atomic(path, encode_entry(entry))
                self.responses += len(raws)
                self.entries += 1
        except OSError as exc:
            self.lost += len(raws)
            log.error("%s: %d response(s) LOST: the database is unreachable and the spool in %s cannot be "
                      "written (%s)", source, len(raws), self.spool.root, exc)
            return None
        log.warning("%s: %d response(s) spooled to %s (%s)", source, len(raws), path.name, kind)
        return entry

    def finish(self, finished_at: datetime, outcomes: list[dict[str, Any]], warnings: list[str],
               reason: str) -> None:
        """Record the run's outcome (always: it is how a replay closes a run the database never saw end)."""
        with self._lock:
            directory = self._open()
            manifest = RunManifest(self.meta, finished_at, outcomes, warnings, reason)
            write_atomic(directory / MANIFEST, encode_manifest(manifest))

    def close(self) -> None:
        with self._lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def message(self, reason: str) -> str:
        text = (
            f"database unreachable ({reason}): {self.responses} response(s) spooled to {self.directory}; they "
            "will be stored by the next capture or `portfolio-dashboard spool replay`"
        )
        if self.lost:
            text += f"; {self.lost} response(s) LOST: the spool could not be written (see the log)"
        return text
