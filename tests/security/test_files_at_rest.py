"""Files and secrets at rest: a Schwab token file others can read is fixed to 0600 with a warning, and what a write
killed half-way leaves behind (its temporary file) is removed by the next start or write."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portfolio_dashboard.local.data_dir import prepare_data_dir
from portfolio_dashboard.local.schwab_tokens import TokenSet, TokenStore

# A save that is killed after its temporary file is written but before the rename.
KILLED_WRITER = """
import os, sys, tempfile, time
from pathlib import Path
path = Path(sys.argv[1])
fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
os.write(fd, b'{"access_token": "half')
print(name, flush=True)
time.sleep(600)
"""


def tokens() -> TokenSet:
    now = datetime.now(UTC)
    return TokenSet("access", "refresh", now + timedelta(minutes=30), now)


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def killed_write(target: Path) -> Path:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    leftover = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert leftover.exists()
    return leftover


def test_a_token_file_readable_by_others_is_fixed_to_0600_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schwab-token.json"
    store = TokenStore(path)
    store.save(tokens())
    path.chmod(0o644)  # restored from a backup, or copied by hand under a loose umask
    with caplog.at_level(logging.WARNING):
        loaded = store.load()
    assert loaded is not None and loaded.refresh_token == "refresh"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("readable by others" in r.getMessage() and "0600" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        store.load()
    assert not caplog.records  # a private file is left alone, silently


def test_a_token_write_killed_half_way_leaves_nothing_after_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "schwab-token.json"
    leftover = killed_write(path)
    store = TokenStore(path)
    store.save(tokens())
    assert leftover.exists()  # it could still be another process's write in progress: too young to judge
    age(leftover, 120)
    store.save(tokens())
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schwab-token.json"]
    unrelated = tmp_path / "notes.tmp"  # not one of ours: never touched
    unrelated.write_text("mine")
    age(unrelated, 3600)
    store.save(tokens())
    assert unrelated.exists()


def test_a_spool_write_killed_half_way_is_cleared_on_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    spool_run = data / "spool" / "run-1"
    spool_run.mkdir(parents=True)
    leftover = killed_write(spool_run / "0001.json")
    age(leftover, 120)
    kept = spool_run / "0000.json"
    kept.write_text("{}")
    prepare_data_dir(data, strict=True)
    assert not leftover.exists()
    assert kept.exists()
