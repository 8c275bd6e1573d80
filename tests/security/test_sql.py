"""SQL is built only from constants: values always travel as bound parameters.

Two guards: ruff's bandit rules (``S``, including S608 "SQL built from strings") must pass over ``src/``, and
an AST scan finds every SQL string built at run time (f-string, ``%`` or ``.format``) handed to ``text()``,
``execute()``, ``exec_driver_sql()`` or ``copy()`` (directly, or through a variable assigned in the function). Each such place is listed below with why its pieces are
constants; a new one fails this test until it is reviewed and listed. The dashboard (``ui/``) may have none.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.architecture.sql_text import sql_places

SRC = Path(__file__).resolve().parents[2] / "src" / "portfolio_dashboard"
SQL_CALLS = {"execute", "exec_driver_sql", "copy", "executemany"}

# (module, function): why the interpolated pieces cannot carry user input
REVIEWED = {
    ("storage/reads/returns.py", "_edge_closes_sql"): "constant text; the optional time-machine bound is a constant",
    ("storage/reads/returns_inception.py", "thinned_closes_sql"): "built at import from the module's filter "
                                                                   "constant; the time-machine bounds are constants",
    ("storage/instrument_writes.py", "upsert_instruments_mapped"): "column names from the class constant",
    ("storage/instrument_writes.py", "_write_instruments"): "column names from the class constant; values bound",
    ("storage/reads/runs.py", "last_run"): "the module's constant column list",
    ("storage/reads/runs.py", "recent_runs"): "the module's constant column list; the limit is bound",
    ("storage/reads/scope.py", "factor_sql"): "SQL fragment from constant templates; the column/bind names are ours",
    ("storage/reads/scope.py", "latest_sql"): "SQL fragment from constants and scope_sql's constant text",
    ("storage/bulk.py", "_stage"): "temp-table names and column lists are literals of its callers",
    ("storage/bulk.py", "write_batch"): "constant column lists; values are COPYed or bound",
    ("storage/bulk.py", "_merge_snapshots"): "constant column lists; values are COPYed or bound",
    ("storage/bulk.py", "_merge_positions"): "constant column lists; values are staged by COPY",
    ("storage/reads/scope.py", "scope_sql"): "the table alias is a code constant; the filters are bound arrays",
    ("storage/reads/holdings.py", "_holdings_sql"): "constant fragments; the as-of choice is a boolean",
    ("storage/reads/holdings.py", "_accounts_sql"): "constant fragments; the as-of choice is a boolean",
    ("storage/reads/capital_gains.py", "_rate_sql"): "fragments from the module's constants; values are bound",
    ("storage/manual_fx.py", "delete_manual_rates"): "each UPDATE is one of the module's constants; ids bound",
    ("storage/bulk.py", "copy_positions"): "the module's constant column list; values are COPYed",
    ("storage/bulk.py", "upsert_trades"): "constant column lists; values bound",
    ("storage/mapping.py", "load_instruments"): "the module's constant column list; ids bound",
    ("storage/mapping.py", "_write_mapping"): "the guard is one of two constants",
    ("storage/mapping_pass.py", "_load_globals"): "constant column list; ids bound",
    ("storage/reads/explorer.py", "newest_rows"): "relation and column names only as the catalog lists them, "
                                                  "quoted as identifiers; the limit is bound; READ ONLY",
    ("storage/reads/mappings.py", "list_mappings"): "constant query, ORDER BY and latest_sql()/scope predicate; "
                                                    "scope values bound; broker/source filters applied in Python",
    ("storage/reads/mappings.py", "global_instruments"): "latest_sql()/constant predicate; scope values bound",
    ("storage/reads/stored_runs.py", "finished_runs"): "the WHERE is built from constant fragments; run ids and dates are bound",
    ("storage/migrations/versions/0002_mapping.py", "upgrade"): "DDL from module constants",
    ("storage/migrations/versions/0002_mapping.py", "downgrade"): "DDL from module constants",
    # the dashboard's read layer (branch ui): filters are bound arrays, aliases are code constants
    ("storage/reads/audit.py", "run_payloads"): "the module's constant column list; the run id bound",
    ("storage/reads/audit.py", "raw_payload"): "the module's constant column list; the payload id bound",
    ("storage/reads/audit.py", "run_snapshots"): "scope_sql() over a code-constant alias; scope values bound",
    ("storage/reads/portfolio.py", "_conversion_params"): "a module constant expression",
    ("storage/reads/portfolio.py", "instrument_history"): "scope_sql() over a code-constant alias; ids bound",
    ("storage/reads/portfolio.py", "allocation"): "key/label from the _GROUPS whitelist (else ValueError); values bound",
    ("storage/reads/portfolio.py", "_summary_sql"): "built at import from constants; the as-of bound is a parameter",
    ("storage/reads/portfolio.py", "_series_sql"): "built at import from constants; the as-of day is a parameter",
    ("storage/reads/portfolio.py", "_positions_sql"): "built at import from constants; the as-of bound is a parameter",
    ("storage/reads/returns.py", "_closes_sql"): "built at import from constants; the until bounds are parameters",
    ("storage/reads/returns.py", "_flows_sql"): "built at import from constants; the until bound is a parameter",
    ("storage/reads/returns.py", "_nav_sql"): "built at import from constants; the until day is a parameter",
    ("storage/reads/exports.py", "snapshot_sha_sql"): "SQL fragment over a code-constant alias",
    ("storage/reads/export_copy.py", "copy_export"): "the kind's constant query; column names checked against "
                                                     "[a-z_][a-z0-9_]* and quoted; dates bound by psycopg",
}


def _dynamic(node: ast.expr) -> bool:
    """A string built at run time from parts (f-string with fields, ``%``, ``+`` or ``.format``)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        # psycopg's sql.SQL("...").format(sql.Identifier(...)) quotes identifiers itself: that is composition
        target = node.func.value
        inner = target.func if isinstance(target, ast.Call) else None
        return not (inner is not None and getattr(inner, "attr", getattr(inner, "id", "")) == "SQL")
    return False


def _is_sql_call(func: ast.expr) -> bool:
    """``text(...)`` (SQLAlchemy's, or ``sa.text``) or a connection/cursor method that takes SQL."""
    if isinstance(func, ast.Name):
        return func.id == "text"
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "text":  # sa.text(...), not e.g. a UI helper called text
        return isinstance(func.value, ast.Name) and func.value.id in ("sa", "sqlalchemy")
    return func.attr in SQL_CALLS


def sql_built_at_run_time() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in SRC.rglob("*.py"):
        module = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            # SQL built into a variable first (sql = f"..."; text(sql)) counts as built at run time too
            built = {t.id for node in ast.walk(func) if isinstance(node, ast.Assign) and _dynamic(node.value)
                     for t in node.targets if isinstance(t, ast.Name)}
            for call in ast.walk(func):
                if not isinstance(call, ast.Call) or not call.args or not _is_sql_call(call.func):
                    continue
                arg = call.args[0]
                if _dynamic(arg) or (isinstance(arg, ast.Name) and arg.id in built):
                    found.add((module, func.name))
    return found


def test_only_reviewed_places_build_sql_at_run_time() -> None:
    found = sql_built_at_run_time()
    assert found <= set(REVIEWED), f"review and list (constants only, values as parameters): {found - set(REVIEWED)}"


def test_the_dashboard_never_builds_sql() -> None:
    assert {f for f in sql_built_at_run_time() if f[0].startswith("ui/")} == set()
    for path in (SRC / "ui").rglob("*.py"):
        source = path.read_text()
        assert "exec_driver_sql" not in source and "psycopg" not in source, path


def test_bandit_rules_pass_over_the_sources() -> None:
    # S101 (assert) is off project-wide: asserts state invariants for mypy, not security checks
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "S", "--ignore", "S101", "--no-cache",
                           str(SRC)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_s608_exemption_is_in_a_reviewed_place() -> None:
    """A ``# noqa: S608`` silences ruff; it must sit in a function on the reviewed list (or in a module-level
    constant, which cannot see run-time values)."""
    exempt: set[tuple[str, str]] = set()
    for path in SRC.rglob("*.py"):
        lines = path.read_text().splitlines()
        marked = {i + 1 for i, line in enumerate(lines) if "noqa: S608" in line}
        if not marked:
            continue
        module = path.relative_to(SRC).as_posix()
        for func in ast.walk(ast.parse("\n".join(lines))):
            end = getattr(func, "end_lineno", None)
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) and end is not None and any(
                    func.lineno <= n <= end for n in marked):
                exempt.add((module, func.name))
    assert exempt <= set(REVIEWED), f"S608 exemptions outside reviewed places: {exempt - set(REVIEWED)}"


# Modules outside storage/ that still hold SQL text, each with why; the list only shrinks.
SQL_OUTSIDE_STORAGE = {
}


def test_sql_text_lives_only_under_storage() -> None:
    """Every SQL statement (and every ``text()``) sits in ``storage/``: services, the CLI and the dashboard
    call repositories and read models instead of writing SQL."""
    outside = {mod: lines for mod, lines in sql_places().items()
               if not mod.startswith("portfolio_dashboard.storage") and mod not in SQL_OUTSIDE_STORAGE}
    assert outside == {}, f"SQL outside storage/ (module: lines); move it into a repository or read model: {outside}"


def test_the_sql_finder_sees_sql() -> None:
    # the guard above is only as good as its finder: it must recognise the statements storage/ holds
    found = sql_places()
    assert "portfolio_dashboard.storage.reads.status" in found
    assert "portfolio_dashboard.storage.run_locks" in found
    assert not any(m.startswith("portfolio_dashboard.domain") for m in found)
