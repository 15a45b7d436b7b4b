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
        if level == 0 and STDLIB is not None:
            assert top in STDLIB or top in OPTIONAL or top == "__future__", \
                "%s:%d imports %s: the core uses the standard library only (relative imports for itself)" \
                % (path.name, node.lineno, name)
    asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    assert not asserts, "%s uses assert at lines %s" % (path.name, asserts)
    if source.strip():
        assert "from __future__ import annotations" in source, "%s lacks the annotations import" % path.name
