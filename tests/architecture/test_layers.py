"""The package's layout is its architecture, and these checks keep it so (docs/architecture.md):

    cli, ui          -> services, storage.reads, bootstrap, domain, formatting, config, errors, logs
    services         -> storage, storage.reads, brokers, local, bootstrap, domain, formatting, config, errors, logs
    bootstrap        -> storage, brokers, local, domain, config, errors
    storage          -> domain, config, errors          (storage.reads: the same, plus storage)
    brokers          -> local (token files), domain, formatting, config, errors
    local            -> domain, formatting, errors
    domain           -> domain only
    formatting       -> nothing of ours
    config           -> domain (the source names), errors

Every import counts, deferred ones inside functions too. No import cycle; no private name taken from another
module; no module over 400 lines.
"""

from __future__ import annotations

import ast

import pytest

from tests.architecture.graph import PACKAGE, imports, modules

MAX_LINES = 400

# layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "formatting": set(),
    "errors": set(),
    "logs": {"errors"},  # log lines pass through errors.scrub_secrets
    "package": set(),  # portfolio_dashboard/__init__.py: the version
    "config": {"domain", "errors"},
    "local": {"domain", "formatting", "errors"},
    "brokers": {"local", "domain", "formatting", "config", "errors"},
    "storage": {"local", "domain", "config", "errors"},  # the embedded server's data directory is a local file
    "storage.reads": {"storage", "domain", "config", "errors"},
    "bootstrap": {"storage", "brokers", "local", "domain", "config", "errors", "package"},
    "services": {"storage", "storage.reads", "brokers", "local", "bootstrap", "domain", "formatting", "config",
                 "errors", "logs", "package"},
    "cli": {"services", "storage.reads", "bootstrap", "domain", "formatting", "config", "errors", "logs", "package"},
    "ui": {"services", "storage.reads", "bootstrap", "domain", "formatting", "config", "errors", "logs", "package"},
    "__main__": {"cli"},
}

# Modules over MAX_LINES, each with why it is not split yet; the list only shrinks.
TOO_LONG: dict[str, str] = {}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] == "storage" and len(parts) > 2 and parts[2] == "reads":
        return "storage.reads"
    return parts[1]


def test_the_graph_is_read() -> None:
    # the checks below are only as good as the graph: it must see the package and its imports
    assert f"{PACKAGE}.services.capture" in modules()
    assert any(i.importer == f"{PACKAGE}.services.capture" and i.target == f"{PACKAGE}.services.pipeline"
               for i in imports())
    assert set(map(layer, modules())) <= set(ALLOWED), set(map(layer, modules())) - set(ALLOWED)


def test_dependencies_point_inward() -> None:
    wrong = sorted(
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports()
        if layer(i.importer) != layer(i.target) and layer(i.target) not in ALLOWED[layer(i.importer)]
    )
    assert wrong == [], "\n".join(wrong)


def test_the_domain_does_no_io() -> None:
    io = {"sqlalchemy", "psycopg", "httpx", "streamlit", "pandas", "alembic", "os", "socket", "subprocess", "pathlib"}
    found = []
    for mod, path in modules().items():
        if layer(mod) not in ("domain", "formatting"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{mod} imports {n}" for n in names if n.split(".")[0] in io]
    assert found == []


def test_no_import_cycle() -> None:
    from tests.architecture.graph import cycles

    assert cycles() == []


def test_no_private_name_is_imported_from_another_module() -> None:
    private = sorted(
        f"{i.importer}:{i.line} takes {name} from {i.target}"
        for i in imports() for name in i.names
        if name.startswith("_") and not name.startswith("__")
    )
    assert private == [], "\n".join(private)


def test_no_private_attribute_of_another_module_is_used() -> None:
    # ``import x.y as m; m._helper()`` is the same reach into another module's privates
    found = []
    for mod, path in modules().items():
        tree = ast.parse(path.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases.update({(a.asname or a.name): a.name for a in node.names if a.name.startswith(PACKAGE)})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                aliases.update({(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names
                                if f"{node.module}.{a.name}" in modules()})
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{mod}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert found == []


@pytest.mark.parametrize("module", sorted(modules()))
def test_no_module_is_over_400_lines(module: str) -> None:
    lines = len(modules()[module].read_text().splitlines())
    if module in TOO_LONG:
        assert lines > MAX_LINES, f"{module} is short enough now: take it off TOO_LONG"
        return
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by responsibility"


# the one place a command ends: cli/common.py (finish / fail / usage_error / exit_with / run); supervise.py turns a
# stop signal into SystemExit so that cleanup runs
EXITS_ALLOWED = {f"{PACKAGE}.cli.common", f"{PACKAGE}.cli.supervise"}


def test_commands_end_through_the_one_handler() -> None:
    found = []
    for mod, path in sorted(modules().items()):
        if not mod.startswith(f"{PACKAGE}.cli.") or mod in EXITS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = ast.unparse(target)
                if name in {"typer.Exit", "Exit", "SystemExit", "click.exceptions.Exit"}:
                    found.append(f"{mod}:{node.lineno} raises {name}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) in {"sys.exit", "exit"}:
                found.append(f"{mod}:{node.lineno} calls {ast.unparse(node.func)}")
    assert found == []
