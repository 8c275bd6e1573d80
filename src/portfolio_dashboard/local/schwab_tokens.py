"""Schwab OAuth tokens at rest: one JSON file, mode 0600, written atomically under a cross-process lock.

Why a lock: two captures (a scheduled one and a manual one) may both find the 30-minute access token
expired. Without the lock both would refresh and the slower one could overwrite the file with a token pair
Schwab has already superseded — or, if Schwab rotates the refresh token, lose the only valid one. Under the
lock a process re-reads the file first and uses a token another process has just saved.

Secrets never leave this module in a ``repr``, log line or exception message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fasteners

from portfolio_dashboard.errors import AuthError
from portfolio_dashboard.formatting import span
from portfolio_dashboard.local.data_dir import remove_stale_temp_files
from portfolio_dashboard.local.files import write_atomic

log = logging.getLogger(__name__)

SOURCE = "schwab"
AUTH_COMMAND = "portfolio-dashboard auth schwab"
AUTH_HINT = f"run `{AUTH_COMMAND}` and log in to Schwab again"
# Schwab documents a 7-day refresh token and does not send its expiry, so it is counted from issue.
REFRESH_TOKEN_LIFETIME = timedelta(days=7)
FILE_VERSION = 1


@dataclass(frozen=True, slots=True)
class TokenSet:
    """One OAuth token pair with the times that matter. Secret fields are hidden from ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime  # access token expiry (Schwab: 30 minutes after issue)
    refresh_token_issued_at: datetime
    token_type: str = "Bearer"  # noqa: S105 - the scheme name
    scope: str | None = None

    @property
    def refresh_expires_at(self) -> datetime:
        return self.refresh_token_issued_at + REFRESH_TOKEN_LIFETIME

    def access_valid(self, now: datetime, leeway: timedelta) -> bool:
        return now + leeway < self.expires_at

    def refresh_seconds_left(self, now: datetime) -> float:
        return (self.refresh_expires_at - now).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FILE_VERSION,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "scope": self.scope,
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
            "refresh_token_issued_at": self.refresh_token_issued_at.astimezone(UTC).isoformat(),
        }

    @classmethod
    def from_json(cls, data: Any) -> TokenSet:
        """Raises ``ValueError`` (never echoing a value) when the file is not what we wrote."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise ValueError("access_token/refresh_token missing")
        scope = data.get("scope")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=_parse_time(data.get("expires_at"), "expires_at"),
            refresh_token_issued_at=_parse_time(data.get("refresh_token_issued_at"), "refresh_token_issued_at"),
            token_type=str(data.get("token_type") or "Bearer"),
            scope=scope if isinstance(scope, str) else None,
        )


def _parse_time(value: Any, name: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} is not an ISO-8601 time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"{name} missing")


_PATH_LOCKS: dict[str, threading.RLock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def _path_lock(path: Path) -> threading.RLock:
    """One in-process lock per token file: POSIX file locks do not exclude threads of the same process."""
    key = os.path.abspath(path)
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(key, threading.RLock())


class TokenStore:
    """The token file. ``locked()`` serialises refreshes across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = _path_lock(self.path)

    def exists(self) -> bool:
        return self.path.is_file()

    def secure(self) -> bool:
        """Tighten a token file others can read to 0600 (with a warning); True when it had to be fixed.

        The file holds a refresh token good for a week of account access: a copy restored from a backup, or
        written by an editor under a loose umask, must not stay readable by every user of the machine.
        """
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return False
        if not mode & 0o077:
            return False
        try:
            os.chmod(self.path, 0o600)
        except OSError as exc:
            log.warning("the Schwab token file %s is readable by others (mode %o) and could not be fixed: %s",
                        self.path, mode, exc)
            return False
        log.warning("the Schwab token file %s was readable by others (mode %o); fixed to 0600", self.path, mode)
        return True

    def remove(self) -> bool:
        """Delete the token file (a sign-out), under the same lock as a refresh; True when there was one."""
        with self.locked():
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
        self.remove_leftovers()
        return True

    def remove_leftovers(self) -> list[Path]:
        """Temporary files of a save that a kill interrupted (older than a minute: no save takes that long)."""
        return remove_stale_temp_files(self.path.parent, pattern=f".{self.path.name}.*.tmp")

    def load(self) -> TokenSet | None:
        """The stored tokens, or ``None`` when there is no token file yet."""
        self.secure()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuthError(
                f"cannot read the Schwab token file {self.path} ({type(exc).__name__})",
                source=SOURCE,
                hint=f"check its permissions, or {AUTH_HINT}",
            ) from None
        try:
            return TokenSet.from_json(json.loads(text))
        except ValueError as exc:
            raise AuthError(
                f"the Schwab token file {self.path} is damaged ({exc})", source=SOURCE, hint=AUTH_HINT
            ) from None

    def save(self, tokens: TokenSet) -> None:
        """Write atomically (0600; ``local.files.write_atomic``)."""
        directory = self.path.parent
        if not directory.exists():
            # Only a directory we create is tightened to 0700: a user-chosen existing one (say, $HOME)
            # keeps its mode; the file itself is 0600 either way.
            directory.mkdir(parents=True, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        self.remove_leftovers()
        write_atomic(self.path, json.dumps(tokens.to_json(), indent=2).encode("utf-8"))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the in-process and the cross-process lock (a sibling ``.lock`` file)."""
        with self._thread_lock:
            if not self.lock_path.parent.exists():
                self.lock_path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            lock = fasteners.InterProcessLock(str(self.lock_path))
            with lock:
                yield


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """What ``status`` and the Connections page show. Never holds a token."""

    token_path: str
    present: bool
    access_expires_in_s: float | None = None
    refresh_expires_in_s: float | None = None
    refresh_expires_at: datetime | None = None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.present and self.problem is None and (self.refresh_expires_in_s or 0) > 0

    def describe(self) -> str:
        if not self.present:
            return f"not logged in to Schwab (no token file at {self.token_path}) — run `{AUTH_COMMAND}`"
        if self.problem:
            return f"{self.problem} — run `{AUTH_COMMAND}`"
        left = self.refresh_expires_in_s or 0.0
        if left <= 0:
            return f"Schwab login expired {format_duration(-left)} ago — run `{AUTH_COMMAND}`"
        text = f"Schwab login valid for {format_duration(left)} more (refresh token, 7 days from login)"
        if left < 86400:
            text += f" — run `{AUTH_COMMAND}` soon"
        return text


def format_duration(seconds: float) -> str:
    """``5d 3h``, ``3h 12m``, ``12m`` — how long is left, to the minute (the shared ``span`` style)."""
    return span(seconds)


def status_of(store: TokenStore, now: datetime) -> TokenStatus:
    """What the token file says about the login now (never touches the network)."""
    path = str(store.path)
    try:
        tokens = store.load()
    except AuthError as exc:
        return TokenStatus(token_path=path, present=True, problem=exc.message)
    if tokens is None:
        return TokenStatus(token_path=path, present=False)
    return TokenStatus(
        token_path=path,
        present=True,
        access_expires_in_s=(tokens.expires_at - now).total_seconds(),
        refresh_expires_in_s=tokens.refresh_seconds_left(now),
        refresh_expires_at=tokens.refresh_expires_at,
    )
