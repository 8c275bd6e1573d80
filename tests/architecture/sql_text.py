"""Where SQL text is written: string literals that read as SQL statements, and SQLAlchemy's ``text()``."""

from __future__ import annotations

import ast
import re

from tests.architecture.graph import modules

# Upper-case keywords in the shape of a statement: prose ("select a source") and log lines do not match.
SQL = re.compile(
    r"\b(SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\w+(\s+\w+)?\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS\s*\(|"
    r"CREATE\s+(TEMP\s+)?(TABLE|INDEX|VIEW)|ALTER\s+TABLE|COPY\s+\w+\s*(\(|FROM\b)|pg_(try_)?advisory\w*|SET\s+LOCAL)"
)


def sql_places() -> dict[str, list[int]]:
    """module -> lines holding SQL text or a ``text()`` call from SQLAlchemy."""
    found: dict[str, list[int]] = {}
    for mod, path in modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        sa_text = any(
            isinstance(n, ast.ImportFrom) and (n.module or "").startswith("sqlalchemy")
            and any(a.name == "text" for a in n.names)
            for n in ast.walk(tree)
        )
        lines = []
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)) or (sa_text and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "text"):
                lines.append(node.lineno)
        if lines:
            found[mod] = sorted(set(lines))
    return found
