"""What the real-tools tier serves to its test hosts over HTTP:

    www/kit/<the real kit>            checksum-verified by pkgsrc.deploy.bootstrap
    www/All/                          the real demo packages (made with the real pkg_create)
    www/extra/All/                    a second repository: big-1.0 and hello-1.2 (fixture-built,
                                      real package format), for added repositories and newer versions
    www/pkg-vulnerabilities           the real kit's list (hello<1.1 is vulnerable)
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

from tests.fixtures.demo import hello_spec
from tests.fixtures.packages import PackageSpec
from tests.fixtures.repo import build_repo
from tests.realtools import KIT_NAME, PKG_DBDIR, PREFIX, SYSCONFDIR, VARBASE


@dataclass(frozen=True)
class RealSite:
    root: Path
    base_url: str
    kit_sha256: str

    @property
    def repo_url(self) -> str:
        return self.base_url + "All"

    @property
    def extra_url(self) -> str:
        return self.base_url + "extra/All"

    @property
    def vuln_url(self) -> str:
        return self.base_url + "pkg-vulnerabilities"

    def bootstrap_options(self) -> Dict[str, object]:
        """pkgsrc.deploy.bootstrap / Salt pkgsrc.bootstrap options for the real kit at /opt/pkg."""
        return {"url": self.base_url + "kit/" + KIT_NAME, "checksum": "sha256:" + self.kit_sha256,
                "prefix": PREFIX, "pkg_dbdir": PKG_DBDIR, "sysconfdir": SYSCONFDIR, "varbase": VARBASE,
                "repositories": [self.repo_url]}


def big_spec(prefix: str = PREFIX) -> PackageSpec:
    return PackageSpec("big", "1.0", comment="big-1.0 test", pkgpath="misc/big", prefix=prefix,
                       files={"share/big/README": "only in the extra repository\n"})


def prepare(root: Path, base_url: str, kit_dir: Path) -> RealSite:
    """Lay out the served folder for hosts that reach it at base_url."""
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    (root / "kit").mkdir(parents=True, exist_ok=True)
    kit = root / "kit" / KIT_NAME
    shutil.copyfile(kit_dir / KIT_NAME, kit)
    shutil.copytree(kit_dir / "All", root / "All", dirs_exist_ok=True)
    shutil.copyfile(kit_dir / "pkg-vulnerabilities", root / "pkg-vulnerabilities")
    for path in [root / "All", *root.joinpath("All").iterdir(), root / "pkg-vulnerabilities"]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the source is read-only
    build_repo(root / "extra", [big_spec(), hello_spec("1.2")])
    digest = hashlib.sha256(kit.read_bytes()).hexdigest()
    return RealSite(root, base_url, digest)
