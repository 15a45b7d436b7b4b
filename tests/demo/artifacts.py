"""What the demo fleet downloads, built fresh for each run and served by the testbed's HTTP server.

    www/
      pkgsrc-signing.asc                     the public key every kit is signed with
      kits/bootstrap-trunk-el-x86_64-...     a signed kit for /usr/pkg (LAYOUTS["el"]) (+ .sha256, .asc)
      kits/bootstrap-canary.tar.gz           a signed kit for a second prefix, /opt/canary (+ .sha256, .asc)
      All/                                   packages built for /usr/pkg, with pkg_summary.{gz,bz2,xz}
      canary/All/                            the same packages built for /opt/canary
      grid/All/                              the same packages built for /home/grid/pkg
      grid/pkgsrc-demo.tar.gz                a pkgsrc source tree for the unprivileged user: its
                                             bootstrap/bootstrap is the stand-in (tests/fixtures/source_tree.py)
      real/                                  where the real kit is: the real pkg_install and pkgin kit for
                                             /opt/pkg and the real packages (tests/realtools/site.py)

Binary packages are built for one prefix, so each prefix has its own repository, as with the
published ones (SmartOS /opt/local vs macOS /opt/pkg).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from tests.fixtures.demo import build_demo_repo
from tests.fixtures.gpg import Signer
from tests.fixtures.kits import build_kit
from tests.fixtures.layouts import source_layout
from tests.fixtures.source_tree import build_source_tree
from tests.fixtures.www import Www, prepare_www
from tests.realtools.site import RealSite, prepare

CANARY_PREFIX = "/opt/canary"
GRID_PREFIX = "/home/grid/pkg"


@dataclass(frozen=True)
class Artifacts:
    """The URLs and bootstrap options of everything served."""

    base_url: str
    main: Www
    canary_kit: Dict[str, Any]
    canary_repo: str
    grid_source: Dict[str, Any]
    grid_repo: str
    real: Optional[RealSite] = None

    @property
    def main_kit(self) -> Dict[str, Any]:
        """pkgsrc.bootstrap options for the signed /usr/pkg kit."""
        return dict(self.main.kit_options())

    @property
    def main_repo(self) -> str:
        """The repository of packages built for /usr/pkg."""
        return self.main.repo_url

    def describe(self) -> Dict[str, str]:
        """name -> what it is, for the demo's output."""
        kit = self.main.kit
        out = {
            "kit for /usr/pkg": "%s (sha256 %s..., signed: %s)" % (kit.path.name, kit.sha256[:12],
                                                                   "yes" if kit.signature else "no"),
            "kit for %s" % CANARY_PREFIX: self.canary_kit["url"],
            "repositories": ", ".join((self.main_repo, self.canary_repo, self.grid_repo)),
            "pkgsrc source tree": "%s (%s...)" % (self.grid_source["url"], self.grid_source["checksum"][:19]),
        }
        if self.real is not None:
            out["real kit for /opt/pkg"] = "%s (sha256 %s...), repository %s" % (
                self.real.bootstrap_options()["url"], self.real.kit_sha256[:12], self.real.repo_url)
        return out


def publish(www_dir: os.PathLike, base_url: str, signer: Signer, real_kit: Optional[Path] = None) -> Artifacts:
    """Build every artifact under www_dir (served at base_url); the real kit's site too, given its folder."""
    www = Path(www_dir)
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    main = prepare_www(www, base_url, signer)

    canary = source_layout(CANARY_PREFIX)
    build_demo_repo(www / "canary", CANARY_PREFIX, layout=canary, bootstrap=False)
    canary_repo = base_url + "canary/All"
    kit = build_kit(www / "kits", canary, [canary_repo], signer=signer, name="bootstrap-canary.tar.gz")
    canary_kit = {"url": base_url + "kits/" + kit.name, "checksum": "sha256:" + kit.sha256,
                  "signature_url": base_url + "kits/" + kit.name + ".asc",
                  "gpg_key": base_url + "pkgsrc-signing.asc"}

    grid = source_layout(GRID_PREFIX)
    build_demo_repo(www / "grid", GRID_PREFIX, layout=grid, bootstrap=False)
    grid_repo = base_url + "grid/All"
    checksum = build_source_tree(www / "grid" / "pkgsrc-demo.tar.gz", grid, [grid_repo])
    grid_source = {"url": base_url + "grid/pkgsrc-demo.tar.gz", "checksum": checksum}
    real = prepare(www / "real", base_url + "real/", real_kit) if real_kit else None
    return Artifacts(base_url, main, canary_kit, canary_repo, grid_source, grid_repo, real)
