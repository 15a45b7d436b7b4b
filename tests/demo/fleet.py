"""The demo fleet: which host is deployed by which tool, as whom, and which applications it runs.

Every application is the fixture package svc-demo (a small HTTP daemon) in a pkgsrc prefix of its
own, configured by an env file in that prefix and run as a service of the host's init system. REAL_NODE
runs the real svc-demo-1.0 package with the real pkgsrc tools instead (tests/realtools), where the real
kit is present.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from tests.demo.artifacts import CANARY_PREFIX, GRID_PREFIX
from tests.realtools import PREFIX as REAL_PREFIX


@dataclass(frozen=True)
class App:
    """One application: its service name, prefix, port and greeting (the answer to GET /)."""

    name: str
    prefix: str
    port: int
    greeting: str    # with configurable=False (the real svc-demo, no settings): its whole, fixed answer
    scope: str = "system"
    configurable: bool = True

    def answers(self, body: str) -> bool:
        """body is this application's answer to GET / (with its current greeting)."""
        if not self.configurable:
            return body.strip() == self.greeting
        return body.endswith("greeting: %s\n" % self.greeting)

    @property
    def unit(self) -> str:
        """The systemd unit the service becomes."""
        return self.name + ".service"

    @property
    def config(self) -> str:
        """The env file the service reads, inside the prefix."""
        return "%s/etc/%s/%s.env" % (self.prefix, self.name, self.name)


@dataclass(frozen=True)
class Node:
    """A host of the fleet."""

    name: str
    tool: str        # ansible or salt
    user: str        # who runs the deployment on the host: root, or the unprivileged grid user
    how: str         # one line for the output
    apps: Tuple[App, ...]
    real: bool = False   # the real pkgsrc tools and packages (tests/realtools) instead of the stand-ins


FLEET: Tuple[Node, ...] = (
    Node("web1", "ansible", "root", "signed binary kit into /usr/pkg, systemd service",
         (App("svc-demo", "/usr/pkg", 8080, "hello from web1 (Ansible)"),)),
    Node("grid1", "ansible", "grid", "pkgsrc's own bootstrap from a source tree, unprivileged, into "
         "~/pkg; systemd --user service",
         (App("svc-demo", GRID_PREFIX, 8080, "hello from grid1 (Ansible, no root)", scope="user"),)),
    Node("salt1", "salt", "root", "signed binary kit into /usr/pkg, systemd service",
         (App("svc-demo", "/usr/pkg", 8080, "hello from salt1 (Salt)"),)),
    Node("salt2", "salt", "root", "two applications, each in its own prefix from its own signed kit",
         (App("svc-demo", "/usr/pkg", 8080, "hello from salt2 (Salt)"),
          App("svc-demo-canary", CANARY_PREFIX, 8081, "hello from salt2's canary (Salt)"))),
)

# Only where the real kit is (tests.realtools.real_kit_dir()); skipped with one line otherwise.
REAL_NODE = Node("real1", "ansible", "root", "the REAL pkg_install 20170419 and pkgin 26.4.0: checksum-verified "
                 "kit into /opt/pkg, the real svc-demo package, its own systemd unit",
                 (App("svc-demo", REAL_PREFIX, 8080, "svc-demo ok", configurable=False),), real=True)
