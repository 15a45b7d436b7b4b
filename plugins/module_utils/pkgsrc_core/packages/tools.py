"""The two ways to change a prefix's packages: pkgin, or pkg_install's own tools.

Each backend turns a PackagePlan into a short list of commands, one per kind of action, with
absolute tool paths taken from the prefix (never from PATH). Building the commands runs nothing
(it reads at most the prefix's repository list, to choose between a plain and a forced
`pkgin update`); `run_commands` runs them through a Runner and checks what they say.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import CommandError
from ..fsutil import atomic_write, read_text
from ..layout import Layout
from ..runner import Runner
from ..versions import split_pkgname
from .catalogue import repository_urls
from .plan import PackagePlan

_PKGIN_ERRORS = re.compile(r"pkg_install warnings: \d+, errors: (\d+)")
_NOT_AVAILABLE = re.compile(r"^(\S+) is not available in the repository$", re.MULTILINE)
UPDATE_PURPOSE = "update the repository database"


def tool_path(layout: Layout, name: str) -> str:
    """Absolute path of a pkgsrc tool in the prefix: pkgin in bin/, pkg_install's tools in sbin/."""
    return layout.host(os.path.join(layout.prefix, "bin" if name == "pkgin" else "sbin", name))


def summary_cache_dir(layout: Layout) -> str:
    """Where pkgsrc.deploy keeps its copies of the repositories' summaries for a prefix."""
    return layout.host(os.path.join(layout.varbase, "db", "pkgsrc-deploy", "summaries"))


def _loaded_record(layout: Layout) -> str:
    return layout.host(os.path.join(layout.varbase, "db", "pkgsrc-deploy", "pkgin-repositories"))


def configured_repositories(layout: Layout) -> List[str]:
    """The repository URLs the prefix's configuration lists now."""
    return repository_urls(layout.host(layout.sysconfdir))


def pkgin_loaded(layout: Layout) -> Optional[List[str]]:
    """The repository list pkgin's database was last loaded from by us (None: not known)."""
    text = read_text(_loaded_record(layout))
    return None if text is None else [line for line in text.splitlines() if line]


def pkgin_update_command(layout: Layout, force: bool = False) -> "Command":
    """`pkgin -y update`, or `pkgin -f -y update` when the repository list changed.

    pkgin 26.4 loads a repository added beside the existing ones only on a forced update (a
    plain one downloads its summary but loads none of its packages, then calls it up to date:
    samples/pkgin-added-repository.md). So the update is forced whenever the list differs from
    the one pkgin's database was last loaded from (recorded by `record_pkgin_loaded`), or is not
    known; otherwise the cheap update.
    """
    force = force or pkgin_loaded(layout) != configured_repositories(layout)
    argv = (tool_path(layout, "pkgin"),) + (("-f",) if force else ()) + ("-y", "update")
    return Command(argv, UPDATE_PURPOSE + (" (forced: the repository list changed, or is not known)"
                                           if force else ""))


def record_pkgin_loaded(layout: Layout) -> None:
    """After a successful `pkgin update`, remember which repositories pkgin's database holds."""
    urls = configured_repositories(layout)
    atomic_write(_loaded_record(layout), "".join(u + "\n" for u in urls), mode=0o644)


def is_update(command: Command) -> bool:
    return command.purpose.startswith(UPDATE_PURPOSE)


def not_available(error: CommandError) -> List[str]:
    """The names pkgin said "is not available in the repository" about."""
    return _NOT_AVAILABLE.findall((error.stderr or "") + "\n" + (error.stdout or ""))


@dataclass(frozen=True)
class Command:
    """One program run: argv, extra environment, and what it is for."""

    argv: Tuple[str, ...]
    purpose: str
    env: Tuple[Tuple[str, str], ...] = ()

    def as_dict(self) -> Dict[str, object]:
        return {"argv": list(self.argv), "purpose": self.purpose}


def _names(pkgnames: Sequence[str]) -> List[str]:
    return [split_pkgname(p)[0] for p in pkgnames]


def pkgin_commands(plan: PackagePlan, layout: Layout, update_cache: bool = False,
                   clean: bool = False) -> List[Command]:
    """Commands for hosts with pkgin: one batch per kind of action."""
    pkgin = tool_path(layout, "pkgin")
    cmds: List[Command] = []
    installs = [c.pkgname for c in plan.changes if c.action in ("install", "upgrade", "downgrade")]
    if update_cache:
        update = pkgin_update_command(layout)
        # pkgin 26.4 checks every repository itself before an install (main.c: update_db(REMOTE_SUMMARY)
        # for install and upgrade) and loads a newer summary then: a plain update before it would
        # only ask the repositories the same question once more. A forced one (the list changed,
        # which a plain check does not load: samples/pkgin-added-repository.md) still goes first.
        if "-f" in update.argv or not (installs or plan.upgrade_all):
            cmds.append(update)
    removes = _names([c.pkgname for c in plan.of("remove")])
    if removes:
        cmds.append(Command((pkgin, "-y", "remove") + tuple(removes), "remove"))
    if installs:
        cmds.append(Command((pkgin, "-y", "install") + tuple(installs), "install"))
    keeps = [c.pkgname for c in plan.of("keep")]
    if keeps:
        cmds.append(Command((pkgin, "-y", "keep") + tuple(_names(keeps)), "mark as user-installed"))
    unkeeps = [c.pkgname for c in plan.of("unkeep")]  # exact sets and lock files
    if unkeeps:
        cmds.append(Command((pkgin, "-y", "unkeep") + tuple(_names(unkeeps)), "mark as automatic"))
    if plan.upgrade_all:
        # The planned PKGNAMEs, not `pkgin upgrade`: that one also downgrades a package newer than
        # anything the repositories offer (samples/transcripts-2: hello-1.2 became hello-1.1).
        # An upgraded dependency stays automatic (checked against the real pkgin, tests/realtools).
        cmds.append(Command((pkgin, "-y", "install") + tuple(c.pkgname for c in plan.upgrade_all), "upgrade all"))
    if plan.autoremove:
        # The planned orphans, not `pkgin autoremove`: pkgin does not see automatic flags set with
        # pkg_admin until its database is reloaded (samples/transcripts-2), the package database does.
        cmds.append(Command((pkgin, "-y", "remove") + tuple(_names(plan.autoremove)), "autoremove orphans"))
    if clean:
        cmds.append(Command((pkgin, "-y", "clean"), "clean the download cache"))
    return cmds


def pkg_add_commands(plan: PackagePlan, layout: Layout) -> List[Command]:
    """Commands for hosts with pkg_install only (packages found through PKG_PATH)."""
    dbdir = ("-K", layout.host(layout.pkg_dbdir))
    cmds: List[Command] = []
    removes = [c.pkgname for c in plan.of("remove")] + list(plan.autoremove)
    installs = [c.pkgname for c in plan.of("install")]
    replaces = [c.pkgname for c in plan.changes if c.action in ("upgrade", "downgrade")]
    replaces += [c.pkgname for c in plan.upgrade_all]
    keeps = [c.pkgname for c in plan.of("keep")]
    if removes:
        cmds.append(Command((tool_path(layout, "pkg_delete"),) + dbdir + tuple(removes), "remove"))
    if installs:
        cmds.append(Command((tool_path(layout, "pkg_add"),) + dbdir + tuple(installs), "install"))
    if replaces:
        cmds.append(Command((tool_path(layout, "pkg_add"), "-U") + dbdir + tuple(replaces), "upgrade"))
    if keeps:
        cmds.append(Command((tool_path(layout, "pkg_admin"),) + dbdir + ("unset", "automatic") + tuple(keeps),
                            "mark as user-installed"))
    unkeeps = [c.pkgname for c in plan.of("unkeep")]  # exact sets and lock files
    if unkeeps:
        cmds.append(Command((tool_path(layout, "pkg_admin"),) + dbdir + ("set", "automatic=YES") + tuple(unkeeps),
                            "mark as automatic"))
    return cmds


def run_commands(commands: Sequence[Command], runner: Runner) -> List[Dict[str, object]]:
    """Run the commands in order; stop at the first failure with a CommandError."""
    done: List[Dict[str, object]] = []
    for cmd in commands:
        result = runner.run(cmd.argv, env=dict(cmd.env) or None)
        errors = _PKGIN_ERRORS.search(result.stdout or "")
        if result.rc != 0 or (errors and int(errors.group(1)) > 0):
            raise CommandError(cmd.argv, result.rc, result.stdout, result.stderr,
                               "nothing after this step was run; see the tool's message above")
        done.append({"argv": list(cmd.argv), "rc": result.rc, "stdout": result.stdout,
                     "stderr": result.stderr, "purpose": cmd.purpose})
    return done
