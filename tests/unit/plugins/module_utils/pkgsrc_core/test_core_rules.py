"""House rules of the core, checked on every file under pkgsrc_core."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils import pkgsrc_core

CORE = Path(pkgsrc_core.__file__).resolve().parent
FILES = sorted(CORE.rglob("*.py"))
STDLIB = getattr(sys, "stdlib_module_names", None)
OPTIONAL = {"zstandard"}  # imported inside a function when present, never required
# Controller-only rooms may use what Ansible and Salt bring on the controller (DESIGN.md), and
# import it inside the function that needs it, so that importing the room needs nothing.
CONTROLLER = {"report": {"yaml"}}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node, node.module or "", node.level


def test_there_are_core_files():
    assert len(FILES) >= 4


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_file_follows_the_rules(path):
    source = path.read_text()
    # Runs on Python 3.8: the file must parse with 3.8's grammar.
    tree = ast.parse(source, filename=str(path), feature_version=(3, 8))
    for node, name, level in _imports(tree):
        top = name.split(".")[0]
        assert top not in ("ansible", "salt", "ansible_collections"), \
            "%s:%d imports %s: the core must stay framework-free" % (path.name, node.lineno, name)
        room = path.relative_to(CORE).parts[0] if len(path.relative_to(CORE).parts) > 1 else ""
        if level == 0 and STDLIB is not None:
            assert top in STDLIB or top in OPTIONAL or top in CONTROLLER.get(room, ()) or top == "__future__", \
                "%s:%d imports %s: the core uses the standard library only (relative imports for itself)" \
                % (path.name, node.lineno, name)
    asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    assert not asserts, "%s uses assert at lines %s" % (path.name, asserts)
    if source.strip():
        assert "from __future__ import annotations" in source, "%s lacks the annotations import" % path.name


def _module_of(path):
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_imports(path):
    """The core modules a file imports (relative imports resolved; `from . import x` counts x)."""
    module = _module_of(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    modules = {_module_of(p) for p in FILES}
    out = set()
    for node, name, level in _imports(ast.parse(path.read_text())):
        if level == 0:
            continue
        base = package[:len(package) - (level - 1)] if level > 1 else package
        target = ".".join([p for p in base + name.split(".") if p])
        for alias in node.names:
            sub = (target + "." if target else "") + alias.name
            out.add(sub if sub in modules else target)
    return {m for m in out if m != module}


GRAPH = {_module_of(p): _core_imports(p) for p in FILES}


def test_no_import_circles():
    """No core module imports, directly or through others, a module that imports it back."""
    def reach(start):
        seen, todo = set(), list(GRAPH.get(start, ()))
        while todo:
            mod = todo.pop()
            if mod not in seen:
                seen.add(mod)
                todo.extend(GRAPH.get(mod, ()))
        return seen

    circles = sorted(m for m in GRAPH if m in reach(m))
    assert not circles, "import circles through: %s" % ", ".join(circles)


ROOMS = ("bootstrap", "history", "packages", "report", "services")
# What a room may use of another room: the names its __init__.py documents.
ALLOWED = {
    "bootstrap": {"packages.journal", "packages.pkgconf", "packages.tools"},
    "history": set(),
    "packages": {"history.records", "history.saved"},
    "report": {"packages.audit", "packages.kit", "packages.lockfile"},
    "services": set(),
    "": {"history.records", "packages.audit", "packages.catalogue", "packages.kit", "packages.lockfile",
         "packages.pkgdb"},  # the base (facts.py)
}


def test_rooms_use_each_other_only_through_documented_modules():
    for module, imports in GRAPH.items():
        room = module.split(".")[0] if module.split(".")[0] in ROOMS else ""
        for target in imports:
            other = target.split(".")[0] if target.split(".")[0] in ROOMS else ""
            if other and other != room:
                assert target in ALLOWED[room], "%s uses %s: not a documented name of that room" % (module, target)
