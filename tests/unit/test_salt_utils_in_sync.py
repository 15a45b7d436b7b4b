"""salt_states/_utils/pkgsrc_core must link every core file (one source for Ansible and Salt)."""
from __future__ import annotations

import os
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent.parent
CORE = TOP / "plugins" / "module_utils" / "pkgsrc_core"
LINKS = TOP / "salt_states" / "_utils" / "pkgsrc_core"


def test_salt_utils_link_every_core_file():
    core = sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*.py"))
    links = sorted(str(p.relative_to(LINKS)) for p in LINKS.rglob("*.py"))
    assert links == core, "run: python3 scripts/sync_salt_utils.py"
    for rel in links:
        link = LINKS / rel
        assert link.is_symlink(), "%s must be a symlink to the core, not a copy" % rel
        assert os.path.realpath(link) == os.path.realpath(CORE / rel)
