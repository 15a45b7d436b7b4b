"""Keep salt_states/_utils/pkgsrc_core in step with the core: one relative symlink per file.

Salt's file_roots serve salt_states/; saltutil.sync_utils copies _utils/pkgsrc_core to the
minion. The core has one source (plugins/module_utils/pkgsrc_core): these are links to it, one
per file because ansible-test forbids symlinked directories. Run after adding or removing a
core file: `python3 scripts/sync_salt_utils.py` (the unit test test_salt_utils_in_sync fails
until you do).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
CORE = TOP / "plugins" / "module_utils" / "pkgsrc_core"
LINKS = TOP / "salt_states" / "_utils" / "pkgsrc_core"


def wanted():
    """{link path: relative target} for every .py file of the core."""
    out = {}
    for src in sorted(CORE.rglob("*.py")):
        rel = src.relative_to(CORE)
        link = LINKS / rel
        out[link] = os.path.relpath(src, link.parent)
    return out


def main(check: bool = False) -> int:
    want = wanted()
    have = {p for p in LINKS.rglob("*") if p.is_symlink() or p.is_file()} if LINKS.exists() else set()
    problems = []
    for link, target in want.items():
        if not link.is_symlink() or os.readlink(link) != target:
            problems.append("missing or wrong: %s" % link.relative_to(TOP))
            if not check:
                link.parent.mkdir(parents=True, exist_ok=True)
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(target)
    for extra in sorted(have - set(want)):
        problems.append("stale: %s" % extra.relative_to(TOP))
        if not check:
            extra.unlink()
    if check and problems:
        print("\n".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
