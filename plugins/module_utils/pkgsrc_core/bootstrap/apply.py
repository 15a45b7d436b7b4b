"""Apply a BootstrapPlan: the only part of the bootstrap that changes the host.

Each action kind has one handler. A kit goes: fetch (checksum while downloading), signature
check (gpg in a throw-away home), scan of the whole archive, extraction into a staging directory
beside the prefix, the marker file, placement by rename (pkgdb last), then configuration and
`pkgin -f -y update`. A failure after the host changed raises BootstrapFailed naming what was done.

`bootstrap()` at the end is the room's entry point: detect the host, plan (plan.py), and unless in
check mode take the prefix's bootstrap lock, plan again and apply.
"""
from __future__ import annotations

import os
import posixpath
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import BootstrapFailed, CommandError, PkgsrcError
from ..fsutil import atomic_write, ensure_private_dir, is_within, read_text, remove_tree
from ..layout import Layout, layout_differences, layout_from_kit_config
from ..lock import FileLock, PkgdbLock, bootstrap_lock_path
from ..packages.journal import HistoryOptions, Journal, installed_packages
from ..packages.pkgconf import render_pkg_install_conf, render_repositories
from ..packages.tools import record_pkgin_loaded
from ..platforms import detect_host, probe_host
from ..runner import Runner, SubprocessRunner
from .archive import AllowedPaths, extract_archive, scan_archive
from .download import Fetched, fetch
from .gpg import verify_detached
from .marker import render_marker, updated_marker
from .plan import (
    Action,
    BootstrapPlan,
    BootstrapRequest,
    BootstrapResult,
    plan_bootstrap,
    probe_fs,
    result_of_plan,
    tool_versions,
)
from .shellenv import ShellFile, render_block
from .source import canonical_problems, clean_environment, env_argv, find_tree
from .staging import apply_placement, discard, make_staging, plan_placement, staging_parent

Log = Optional[Callable[[str], None]]


class _Context:
    """State carried from one action to the next."""

    def __init__(self, plan: BootstrapPlan, runner: Runner, log: Log,
                 history: Optional[HistoryOptions] = None) -> None:
        self.plan = plan
        self.history = history
        self.recorded = False  # the run's transaction is in the history already (upgrade)
        self.runner = runner
        self.log = log or (lambda _msg: None)
        self.layout: Layout = plan.layout
        self.fetched: Dict[str, Fetched] = {}
        self.done: List[str] = []
        self.diffs: List[Dict[str, str]] = []
        self.messages: List[str] = list(plan.messages)
        self.changed = False
        self.installed_now = False
        self.repos_changed = False
        self.owner: Optional[Tuple[int, int]] = (0, 0) if os.geteuid() == 0 else None
        self.roots: List[str] = []
        self.config_files: List[str] = []
        self.blocks: List[Tuple[str, str]] = []
        self.verifying: Optional[_Background] = None

    def finish_verification(self) -> None:
        """Wait for a signature check running in the background; raise its error, if any."""
        if self.verifying is not None:
            pending, self.verifying = self.verifying, None
            pending.result()

    def host(self, path: str) -> str:
        return self.layout.host(path)

    def did(self, what: str, changed: bool = True) -> None:
        self.done.append(what)
        self.changed = self.changed or changed
        self.log(what)


def _remove_stale(ctx: _Context, action: Action) -> None:
    for path in action.params["paths"]:
        if remove_tree(path):
            ctx.did("removed stale staging directory %s" % path)


def _fetch(ctx: _Context, action: Action) -> None:
    params = action.params
    fetched = fetch(params["url"], params["dest"], params.get("checksum"), log=ctx.log,
                    timeout=ctx.plan.request.timeout)
    ctx.fetched[params["role"]] = fetched
    if params.get("checksum"):
        ctx.messages.append("%s verified: %s" % (params["url"], params["checksum"]))
    ctx.done.append("fetched %s" % params["url"])


class _Background:
    """A function run in a thread; result() waits and re-raises what it raised."""

    def __init__(self, function: Callable[[], None]) -> None:
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, args=(function,), daemon=True)
        self.thread.start()

    def _run(self, function: Callable[[], None]) -> None:
        try:
            function()
        except BaseException as exc:  # noqa: B036 - handed to the waiting thread  # pylint: disable=broad-except
            self.error = exc

    def result(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _verify(ctx: _Context, action: Action) -> None:
    """Check the signature. It runs in the background while the kit's listing is checked (both
    only read the downloaded file); nothing is written before it has succeeded.
    """
    params = action.params
    data = ctx.fetched["kit"].path if "kit" in ctx.fetched else params["data"]
    signature = ctx.fetched["signature"].path if "signature" in ctx.fetched else params["signature"]
    name = params.get("name") or posixpath.basename(data)

    def check() -> None:
        found = verify_detached(ctx.runner, data, signature, list(params["keys"]), params.get("fingerprint"),
                                gpg=ctx.plan.request.gpg)
        ctx.messages.append("signature of %s verified: key %s" % (name, found.primary_fingerprint))
        ctx.done.append("checked the signature of %s" % name)

    ctx.verifying = _Background(check)


def _allowed(layout: Layout) -> AllowedPaths:
    return AllowedPaths(roots=layout.allowed_roots(), files=layout.allowed_files(), setid_roots=(layout.prefix,))


def _install_kit(ctx: _Context, action: Action) -> None:
    layout = ctx.layout
    archive = ctx.fetched["kit"].path if "kit" in ctx.fetched else action.params["archive"]
    try:
        listing = scan_archive(archive, _allowed(layout))
    finally:
        ctx.finish_verification()  # the signature must hold before anything is written
    if not any(is_within(m.path, layout.prefix) and not m.ancestor for m in listing.members):
        raise PkgsrcError("kit %s installs nothing into %s (its paths: %s)" % (
            archive, layout.prefix, ", ".join(listing.roots_used) or "none"),
            "this kit is for another layout; pick the kit for this platform or give prefix")
    ctx.log("kit %s checked: %d members, %d bytes, all inside %s" % (
        archive, len(listing.members), listing.expanded_size, ", ".join(listing.roots_used)))
    parent = staging_parent(layout.root, layout.prefix)
    staging = make_staging(parent)
    try:
        extract_archive(listing, staging, owner=ctx.owner, log=ctx.log)
        staged = layout_from_kit_config(staging + layout.prefix, staging, base=layout)
        real = layout
        if staged is not None:
            real = staged.with_root(layout.root)
            diffs = layout_differences(layout, real)
            if diffs:
                ctx.messages.append("the kit's own configuration sets %s" % ", ".join(
                    "%s %s (not %s)" % (k, b, a) for k, (a, b) in sorted(diffs.items())))
        elif not layout.confirmed:
            ctx.messages.append("the kit names no PKG_DBDIR in etc/mk.conf or etc/pkg_install.conf: "
                                "assuming %s" % layout.pkg_dbdir)
        ctx.roots = list(listing.roots_used)
        marker = _marker_data(ctx, real, {"method": "kit", "kit": dict(action.params["kit"]),
                                          "kit_sha256": listing.sha256})
        atomic_write(staging + real.marker, render_marker(marker), mode=0o644, owner=ctx.owner)
        placement = plan_placement(staging, layout.root, replaceable=set(layout.allowed_files()) | {real.marker},
                                   last=(real.pkg_dbdir,))
        apply_placement(placement, log=ctx.log)
    finally:
        if os.path.isdir(staging):
            discard(staging)
    ctx.layout = real
    ctx.installed_now = True
    ctx.did("installed kit %s into %s" % (posixpath.basename(archive), ", ".join(listing.roots_used)))
    if archive.startswith(ctx.plan.cache_dir + "/"):
        try:
            os.unlink(archive)  # kept only while a run has not finished (for resuming)
        except OSError:
            pass


def _marker_data(ctx: _Context, layout: Layout, extra: Mapping[str, Any]) -> Dict[str, Any]:
    data = updated_marker(None, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          layout={k: v for k, v in layout.to_dict().items() if k != "root"},
                          roots=list(ctx.roots), config_files=list(ctx.config_files),
                          profile_blocks=[list(b) for b in ctx.blocks])
    data.update(extra)
    return data


def _unpack_source(ctx: _Context, action: Action) -> None:
    archive = ctx.fetched["source"].path if "source" in ctx.fetched else action.params["archive"]
    dest = action.params["dest"]
    if find_tree(dest):
        ctx.log("pkgsrc tree already unpacked in %s" % dest)
        return
    if os.path.lexists(dest):
        remove_tree(dest)
    listing = scan_archive(archive, AllowedPaths(roots=("/",), absolute_links=False))
    os.makedirs(dest, mode=0o700)
    extract_archive(listing, dest, log=ctx.log)
    ctx.done.append("unpacked %s into %s" % (archive, dest))


def _run_bootstrap(ctx: _Context, action: Action) -> None:
    params = action.params
    layout = ctx.layout
    tree = params["tree"]
    script = os.path.join(tree, "bootstrap", "bootstrap")
    if not os.path.isfile(script):
        found = find_tree(tree)
        if found is None:
            raise PkgsrcError("%s is not a pkgsrc tree (no bootstrap/bootstrap)" % tree,
                              "give the top directory of a pkgsrc checkout or source tarball")
        tree, script = found, os.path.join(found, "bootstrap", "bootstrap")
    problems = canonical_problems([layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase,
                                   params["workdir"]])
    if problems:
        raise PkgsrcError("the bootstrap needs canonical paths; these go through symlinks: %s" % "; ".join(problems),
                          "give the real paths instead")
    sh = params["sh"]
    if not os.path.isfile(sh):
        raise PkgsrcError("shell %s for the bootstrap does not exist" % sh, "set sh to an absolute path of a shell")
    workdir = params["workdir"]
    if os.path.lexists(workdir):
        if not params.get("workdir_is_default"):
            raise PkgsrcError("work directory %s already exists" % workdir,
                              "remove it or give another workdir; the bootstrap needs a fresh one")
        remove_tree(workdir)
    os.makedirs(posixpath.dirname(workdir), mode=0o700, exist_ok=True)
    if params.get("mk_fragment_path"):
        atomic_write(params["mk_fragment_path"], params["mk_fragment"], mode=0o644)
    env = clean_environment(os.environ, sh)
    argv = env_argv(env, [sh, script] + list(params["args"]))
    ctx.log("running %s" % " ".join([script] + list(params["args"])))
    started = time.time()
    result = ctx.runner.run(argv, cwd=os.path.dirname(script))
    log_path = posixpath.join(params["cache"], "bootstrap.log")
    try:
        atomic_write(log_path, "$ %s\n%s\n%s" % (" ".join(argv), result.stdout, result.stderr), mode=0o600)
    except OSError:
        log_path = ""
    if result.rc != 0:
        raise CommandError(argv, result.rc, result.stdout, result.stderr,
                           "pkgsrc's bootstrap failed%s; fix the cause and run again (the work directory %s "
                           "is left for inspection)" % (" (full output in %s)" % log_path if log_path else "",
                                                        workdir))
    ctx.roots = list(params["roots"])
    marker = _marker_data(ctx, layout, {"method": "source", "source": params.get("source"),
                                        "bootstrap_args": list(params["args"]), "bootstrap_rc": result.rc,
                                        "bootstrap_seconds": round(time.time() - started, 1)})
    atomic_write(layout.host(layout.marker), render_marker(marker), mode=0o644)
    if params.get("workdir_is_default"):
        remove_tree(workdir)
    ctx.installed_now = True
    ctx.did("bootstrapped %s from source in %.0f s" % (layout.prefix, time.time() - started))


def _resolve_path(ctx: _Context, params: Mapping[str, Any]) -> str:
    kind = params["file"]
    if kind == "repositories":
        return posixpath.join(ctx.layout.sysconfdir, "pkgin", "repositories.conf")
    if kind == "pkg_install":
        return posixpath.join(ctx.layout.sysconfdir, "pkg_install.conf")
    return params["path"]


def _write_file(ctx: _Context, action: Action) -> None:
    params = action.params
    path = _resolve_path(ctx, params)
    host_path = ctx.host(path)
    current = read_text(host_path)
    kind = params["file"]
    if kind == "repositories":
        after = render_repositories(current, params["repositories"])
    elif kind == "pkg_install":
        after = render_pkg_install_conf(current, params["settings"])
    else:
        shell_file: ShellFile = params["shell_file"]
        after = shell_file.render(current)
    if after == current:
        return
    mode = params["mode"]
    if current is not None:
        mode = os.stat(host_path).st_mode & 0o7777
    atomic_write(host_path, after, mode=mode)
    ctx.diffs.append({"before_header": path if current is not None else "%s (absent)" % path,
                      "after_header": path, "before": current or "", "after": after})
    if kind == "repositories":
        ctx.repos_changed = True
    if kind == "shell":
        shell_file = params["shell_file"]
        if shell_file.block_id:
            ctx.blocks.append((path, shell_file.block_id))
        elif not is_within(path, ctx.layout.prefix):
            ctx.config_files.append(path)
    ctx.did("wrote %s" % path)


def _pkgin_update(ctx: _Context, action: Action) -> None:
    if not (ctx.installed_now or ctx.repos_changed):
        return
    if ctx.layout.root != "/":
        ctx.messages.append("pkgin update skipped: the install is under the alternate root %s; run it there"
                            % ctx.layout.root)
        return
    argv = [posixpath.join(ctx.layout.prefix, "bin", "pkgin")] + list(action.params["argv"][1:])
    if not os.path.isfile(argv[0]):
        ctx.messages.append("pkgin update skipped: %s is not installed" % argv[0])
        return
    result = ctx.runner.run(argv)
    if result.rc != 0:
        raise CommandError(argv, result.rc, result.stdout, result.stderr,
                           "check the repositories in %s/pkgin/repositories.conf and the network"
                           % ctx.layout.sysconfdir)
    record_pkgin_loaded(ctx.layout)
    ctx.did("ran %s" % " ".join(argv))


def _pkgdb_names(ctx: _Context, pkgdb: str) -> Tuple[str, ...]:
    host = ctx.host(pkgdb)
    try:
        return tuple(sorted(n for n in os.listdir(host) if "-" in n and os.path.isdir(os.path.join(host, n))))
    except OSError:
        return ()


def _upgrade(ctx: _Context, action: Action) -> None:
    pkgdb = action.params["pkgdb"]
    steps = [list(s) for s in action.params["steps"]]
    before = _pkgdb_names(ctx, pkgdb)

    def run(argv: List[str]) -> None:
        result = ctx.runner.run(argv)
        if result.rc != 0:
            raise CommandError(argv, result.rc, result.stdout, result.stderr,
                               "see the output above; the package database is consistent after a failed step")
        ctx.done.append("ran %s" % " ".join(argv))
        ctx.log("ran %s" % " ".join(argv))

    # The same lock as every package change (converge), so no package run interleaves; and a
    # transaction of the prefix's history, like theirs.
    with PkgdbLock(ctx.host(pkgdb), timeout=ctx.plan.request.lock_timeout):
        journal = Journal(ctx.layout, "bootstrap", ctx.history, ctx.runner)
        installed = installed_packages(ctx.layout)
        journal.recover(installed)
        journal.begin({"state": "upgraded", "steps": steps}, installed)
        ran: List[Dict[str, object]] = []
        try:
            for step in steps[:2]:
                run(step)
                ran.append({"argv": step, "rc": 0})
            pkgin_before = tool_versions(_pkgdb_names(ctx, pkgdb))["pkgin"]
            run(steps[2])
            ran.append({"argv": steps[2], "rc": 0})
            pkgin_after = tool_versions(_pkgdb_names(ctx, pkgdb))["pkgin"]
            if pkgin_after != pkgin_before:
                ctx.messages.append("pkgin upgraded itself (%s -> %s): ran pkgin upgrade again"
                                    % (pkgin_before, pkgin_after))
                run(steps[2])
                ran.append({"argv": steps[2], "rc": 0})
        except CommandError as exc:
            journal.ran(ran + [{"argv": exc.argv, "rc": exc.rc}])
            journal.fail(exc, installed)
            raise
        journal.ran(ran)
        now = installed_packages(ctx.layout)
        if now == installed:
            journal.abandon()
        else:
            journal.note_unsaved(installed, now)
            journal.finish("ok", now)
            ctx.recorded = True
    after = _pkgdb_names(ctx, pkgdb)
    if after != before:
        ctx.changed = True
        ctx.diffs.append({"before_header": "%s (installed packages)" % pkgdb, "after_header": pkgdb,
                          "before": "".join(n + "\n" for n in before), "after": "".join(n + "\n" for n in after)})
        removed = sorted(set(before) - set(after))
        added = sorted(set(after) - set(before))
        ctx.messages.append("upgraded: %s" % ", ".join("%s -> %s" % pair for pair in _pairs(removed, added))
                            if removed or added else "packages changed")
    else:
        ctx.messages.append("everything was up to date")


def _pairs(removed: List[str], added: List[str]) -> List[Tuple[str, str]]:
    from ..versions import split_pkgname  # pylint: disable=import-outside-toplevel

    old = {split_pkgname(n)[0]: n for n in removed}
    pairs = []
    for name in added:
        base = split_pkgname(name)[0]
        pairs.append((old.pop(base, "(new)"), name))
    pairs.extend((n, "(removed)") for n in old.values())
    return pairs


def _remove(ctx: _Context, action: Action) -> None:
    for path in action.params["paths"]:
        if remove_tree(ctx.host(path)):
            ctx.did("removed %s" % path)


def _remove_block(ctx: _Context, action: Action) -> None:
    path = action.params["path"]
    host_path = ctx.host(path)
    current = read_text(host_path)
    if current is None:
        return
    after = render_block(current, action.params["block_id"], None)
    if after != current:
        atomic_write(host_path, after, mode=os.stat(host_path).st_mode & 0o7777)
        ctx.diffs.append({"before_header": path, "after_header": path, "before": current, "after": after})
        ctx.did("removed the %s block from %s" % (action.params["block_id"], path))


_HANDLERS: Dict[str, Callable[[_Context, Action], None]] = {
    "remove_stale": _remove_stale,
    "fetch": _fetch,
    "verify_signature": _verify,
    "install_kit": _install_kit,
    "unpack_source": _unpack_source,
    "run_bootstrap": _run_bootstrap,
    "write_file": _write_file,
    "pkgin_update": _pkgin_update,
    "upgrade": _upgrade,
    "remove": _remove,
    "remove_block": _remove_block,
}


def _record_config(ctx: _Context) -> None:
    """Add the config files and profile blocks written after installation to the marker."""
    if not (ctx.config_files or ctx.blocks):
        return
    path = ctx.host(ctx.layout.marker)
    text = read_text(path)
    if text is None:
        return
    from .marker import parse_marker  # pylint: disable=import-outside-toplevel

    try:
        current = parse_marker(text)
    except PkgsrcError:
        return
    data = updated_marker(current, config_files=list(ctx.config_files),
                          profile_blocks=[list(b) for b in ctx.blocks])
    if data != current:
        atomic_write(path, render_marker(data), mode=0o644)


def _record(ctx: _Context) -> None:
    """A bootstrap that installed or changed the prefix becomes a transaction of its new history."""
    if ctx.recorded or not ctx.changed or ctx.plan.request.state == "absent":
        return
    dbdir = ctx.host(ctx.layout.pkg_dbdir)
    if not os.path.isdir(dbdir):
        return
    with PkgdbLock(dbdir, timeout=ctx.plan.request.lock_timeout):
        journal = Journal(ctx.layout, "bootstrap", ctx.history, ctx.runner)
        installed = installed_packages(ctx.layout)
        journal.recover(installed)
        before = {} if ctx.installed_now else installed
        kit = ctx.plan.kit.to_dict() if ctx.plan.kit else None
        journal.begin({"state": ctx.plan.request.state, "method": ctx.plan.method,
                       "kit": (kit or {}).get("url") or (kit or {}).get("name")}, before)
        journal.messages.extend(ctx.done)
        journal.finish("ok", installed)


def apply_plan(plan: BootstrapPlan, runner: Runner, log: Log = None,
               history: Optional[HistoryOptions] = None) -> BootstrapResult:
    """Run every action of the plan in order; BootstrapFailed when one fails after changes."""
    ctx = _Context(plan, runner, log, history)
    for action in plan.actions:
        handler = _HANDLERS.get(action.kind)
        if handler is None:
            raise PkgsrcError("unknown bootstrap action %r" % action.kind)
        try:
            if action.kind not in ("verify", "install_kit"):
                ctx.finish_verification()
            handler(ctx, action)
        except PkgsrcError as err:
            if ctx.changed:
                raise BootstrapFailed("%s failed: %s" % (action.summary, err.message), err.hint,
                                      done=ctx.done) from err
            raise
        except OSError as err:
            raise BootstrapFailed("%s failed: %s" % (action.summary, err),
                                  "check permissions and free space, then run again", done=ctx.done) from err
    ctx.finish_verification()
    _record_config(ctx)
    _record(ctx)
    layout = ctx.layout
    existing = plan.existing.to_dict() if plan.existing else None
    return BootstrapResult(ctx.changed, tuple(ctx.done), tuple(ctx.diffs), tuple(ctx.messages),
                           layout.to_dict(), existing, plan.kit.to_dict() if plan.kit else None,
                           plan.method)


# ---------------------------------------------------------------------------------------------
# Entry point: detect, plan, and (unless check mode) lock and apply

def apply_bootstrap(plan: BootstrapPlan, runner: Runner, log: Log = None,
                    history: Optional[HistoryOptions] = None) -> BootstrapResult:
    """Carry out a plan on the host."""
    return apply_plan(plan, runner, log, history)


def bootstrap(request: BootstrapRequest, runner: Optional[Runner] = None, check_mode: bool = False,
              log: Log = None, probe: Optional[Mapping[str, Any]] = None,
              history: Optional[HistoryOptions] = None) -> BootstrapResult:
    """Detect, plan and (unless check_mode) apply. probe: a host probe dict instead of the real host's."""
    runner = runner or SubprocessRunner()
    host = detect_host(probe if probe is not None else probe_host(runner))
    plan = plan_bootstrap(request, host, probe_fs(request, host))
    if check_mode:
        return result_of_plan(plan)
    if not plan.actions:
        return apply_bootstrap(plan, runner, log, history)
    # One bootstrap of a prefix at a time: a second run waits, then plans again and finds the
    # prefix there (and never takes the first run's staging directory for a stale one).
    path = bootstrap_lock_path(ensure_private_dir(plan.cache_dir), plan.layout.root, plan.layout.prefix)
    with FileLock(path, "bootstrap", timeout=request.lock_timeout) as held:
        if held.waited and log:
            log("waited %.1f s for another bootstrap of %s" % (held.waited, plan.layout.prefix))
        plan = plan_bootstrap(request, host, probe_fs(request, host))
        return apply_bootstrap(plan, runner, log, history)
