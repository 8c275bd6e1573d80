"""The CLI's one failure helper: every command reports an error the same way (red, on stderr, exit status 1)."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(error: BaseException | str, code: int = 1) -> NoReturn:
    """Print ``error: <what went wrong>`` and end the command with ``code``."""
    typer.secho(f"error: {error}", fg="red", err=True)
    raise typer.Exit(code)
