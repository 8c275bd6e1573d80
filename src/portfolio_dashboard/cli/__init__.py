"""The command line: a thin Typer layer over the services. ``root`` holds the top-level commands; each command
group (auth, fx, mapping, ops) has its own module."""

from portfolio_dashboard.cli.root import app, main

__all__ = ["app", "main"]
