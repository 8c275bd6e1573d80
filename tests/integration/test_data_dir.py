"""The data directory: created 0700 whatever the umask (with or without DATABASE_URL), one clear error naming it
when it is read-only or full, and no temporary file left behind by a write a kill interrupted."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from portfolio_dashboard.errors import DataDirectoryError
from portfolio_dashboard.local.data_dir import check_writable, prepare_data_dir, remove_stale_temp_files
from tests.integration.test_embedded_server import env_without_database_url


def cli(env: dict[str, str], cwd: Path, *args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=180, check=False,
                          umask=-1 if umask is None else umask)


@pytest.fixture
def mount_point() -> Iterator[Path]:
    """A small tmpfs of our own (root only): the only honest way to get a read-only or full file system."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    path = Path(tempfile.mkdtemp(prefix="pd-mnt-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], check=False,
                      capture_output=True).returncode != 0:
        path.rmdir()
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        path.rmdir()


def one_line_naming(stderr: str, directory: Path) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert str(directory) in lines[0]
    return lines[0]


def test_the_data_directory_is_0700_with_database_url_set(cli_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    env = dict(cli_env, PORTFOLIO_DATA_DIR=str(data))
    result = cli(env, tmp_path, "status", "--no-health", umask=0o022)
    assert result.returncode in (0, 1, 2), result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_a_read_only_data_directory_is_one_clear_error(mount_point: Path) -> None:
    data = mount_point / "data"
    data.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
    env = env_without_database_url(data)
    for args in (["capture"], ["status", "--no-health"]):
        result = cli(env, mount_point.parent, *args)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "cannot be written" in one_line_naming(result.stderr, data)


def test_a_full_data_directory_is_one_clear_error(mount_point: Path) -> None:
    data = mount_point / "data"
    data.mkdir()
    with (mount_point / "filler").open("wb") as handle:  # fill the device to the last block
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    result = cli(env_without_database_url(data), mount_point.parent, "capture")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is full" in one_line_naming(result.stderr, data)


def test_check_writable_names_a_nearly_full_directory(tmp_path: Path) -> None:
    # more than the whole disk: never free, whatever other processes delete meanwhile (the free space is not)
    more_than_the_disk = shutil.disk_usage(tmp_path).total + 1
    with pytest.raises(DataDirectoryError, match=f"{tmp_path} is full"):
        check_writable(tmp_path, min_free=more_than_the_disk)
    check_writable(tmp_path, min_free=0)
    assert list(tmp_path.iterdir()) == []  # the probe cleaned up after itself


def test_leftovers_of_an_interrupted_atomic_write_are_removed_on_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = data / ".schwab-token.json.abc123.tmp"
    old.write_text("half a token")
    past = time.time() - 3600
    os.utime(old, (past, past))
    young = data / ".schwab-token.json.def456.tmp"  # a write in progress in another process right now
    young.write_text("{")
    keep = data / "schwab-token.json"
    keep.write_text("{}")
    prepare_data_dir(data, strict=True)
    assert not old.exists()
    assert young.exists() and keep.exists()
    assert remove_stale_temp_files(data, older_than_s=0) == [young]
