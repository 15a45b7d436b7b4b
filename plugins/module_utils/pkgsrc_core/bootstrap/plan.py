"""The bootstrap's plan: requests, host and filesystem probes, and the plan as data (pure).

apply.bootstrap(request, runner, check_mode=False, log=None) -> BootstrapResult detects the
host (platforms.probe_host/detect_host), probes the filesystem read-only here (probe_fs ->
FsProbe: is there a pkgdb, which tool versions, our marker, stale staging dirs, current config
files), plans here (plan_bootstrap: pure, the plan is also the diff) and, unless in check mode,
applies (apply.apply_plan). This file never imports apply.

States: present (bootstrap from a binary kit or from source, then configure repositories,
pkg_install.conf and PATH/MANPATH), absent (remove a prefix this tool bootstrapped), upgraded
(upgrade the package tools and packages of an existing install: pkg_add -U pkg_install pkgin
libarchive, pkgin clean, pkgin -y upgrade, again if pkgin upgraded itself).

An existing package database means "already bootstrapped": a kit is never extracted over it.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import PkgsrcError
from ..fsutil import is_within, normalize_abs, read_text
from ..layout import Layout, layout_from_kit_config
from ..packages.pkgconf import pkg_path_for, render_pkg_install_conf, render_repositories
from ..platforms import HostFacts, default_layout, pkgdb_candidates
from ..versions import split_pkgname
from .kits import CATALOGUE, Kit, merge_catalogue, required_trust, select_kit, user_kit
from .marker import parse_marker
from .shellenv import shell_files
from .source import bootstrap_args, default_shell
from .staging import find_stale, staging_parent

STATES = ("present", "absent", "upgraded")
METHODS = ("auto", "kit", "source")
Log = Optional[Callable[[str], None]]


@dataclass(frozen=True)
class BootstrapRequest:
    """What the user asked for (the adapters' options, 1:1)."""

    state: str = "present"
    method: str = "auto"
    branch: str = "trunk"
    kit: Optional[str] = None
    kit_url: Optional[str] = None
    kit_checksum: Optional[str] = None
    kit_signature_url: Optional[str] = None
    kit_key: Optional[str] = None
    kit_keyring: Optional[str] = None
    kit_fingerprint: Optional[str] = None
    catalogue: Tuple[Any, ...] = ()
    verify: bool = True
    prefix: Optional[str] = None
    pkg_dbdir: Optional[str] = None
    sysconfdir: Optional[str] = None
    varbase: Optional[str] = None
    unprivileged: Optional[bool] = None
    root: str = "/"
    repositories: Tuple[str, ...] = ()
    verified_installation: Optional[str] = None
    manage_path: bool = True
    pkgin_update: bool = True
    cache_dir: Optional[str] = None
    force: bool = False
    source_path: Optional[str] = None
    source_url: Optional[str] = None
    source_checksum: Optional[str] = None
    workdir: Optional[str] = None
    make_jobs: Optional[int] = None
    abi: Optional[int] = None
    compiler: Optional[str] = None
    prefer_pkgsrc: Optional[str] = None
    mk_fragment: Optional[str] = None
    sh: Optional[str] = None
    extra_paths: Tuple[str, ...] = ()
    timeout: float = 60.0
    gpg: str = "gpgv"
    lock_timeout: float = 3600.0  # waiting for another bootstrap of the prefix, or its pkgdb lock (upgrade)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "BootstrapRequest":
        """Build from adapter parameters: None values mean the default; lists become tuples."""
        known = set(cls.__dataclass_fields__)  # pylint: disable=no-member
        unknown = sorted(k for k in params if k not in known)
        if unknown:
            raise PkgsrcError("unknown bootstrap option(s): %s" % ", ".join(unknown))
        values: Dict[str, Any] = {}
        for key, value in params.items():
            if value is None:
                continue
            if key in ("repositories", "extra_paths") and isinstance(value, str):
                value = (value,)
            if isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)


@dataclass(frozen=True)
class FsProbe:
    """What the filesystem says, gathered read-only before planning."""

    pkgdb: Optional[str] = None
    packages: Tuple[str, ...] = ()
    installed_layout: Optional[Layout] = None
    marker: Optional[Mapping[str, Any]] = None
    marker_error: Optional[str] = None
    stale_staging: Tuple[str, ...] = ()
    files: Mapping[str, Optional[str]] = field(default_factory=dict)
    existing: Tuple[str, ...] = ()
    pkgin_present: bool = False
    shell: Optional[str] = None


@dataclass(frozen=True)
class Action:
    """One step of a plan: a kind the apply layer knows, a line for humans, and its parameters."""

    kind: str
    summary: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Existing:
    """An install found in place."""

    pkgdb: str
    packages: Tuple[str, ...]
    pkg_install: Optional[str]
    pkgin: Optional[str]
    libarchive: Optional[str]
    ours: bool

    def to_dict(self) -> Dict[str, Any]:
        """Plain data for results."""
        return {"pkgdb": self.pkgdb, "packages": list(self.packages), "pkg_install": self.pkg_install,
                "pkgin": self.pkgin, "libarchive": self.libarchive, "bootstrapped_by_us": self.ours}


@dataclass(frozen=True)
class BootstrapPlan:
    """The actions to take, what they change (diff) and what to tell the user."""

    request: BootstrapRequest
    host: HostFacts
    layout: Layout
    actions: Tuple[Action, ...]
    messages: Tuple[str, ...] = ()
    diff: Tuple[Mapping[str, str], ...] = ()
    existing: Optional[Existing] = None
    kit: Optional[Kit] = None
    method: str = ""
    cache_dir: str = ""

    @property
    def changed(self) -> bool:
        """True when applying would change the host."""
        return bool(self.actions)


@dataclass(frozen=True)
class BootstrapResult:
    """What happened (or, in check mode, what would)."""

    changed: bool
    actions: Tuple[str, ...]
    diff: Tuple[Mapping[str, str], ...]
    messages: Tuple[str, ...]
    layout: Mapping[str, Any]
    existing: Optional[Mapping[str, Any]] = None
    kit: Optional[Mapping[str, Any]] = None
    method: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """Plain data for Ansible's exit_json and Salt's return dicts."""
        return {"changed": self.changed, "actions": list(self.actions), "diff": [dict(d) for d in self.diff],
                "messages": list(self.messages), "layout": dict(self.layout),
                "existing": dict(self.existing) if self.existing else None,
                "kit": dict(self.kit) if self.kit else None, "method": self.method}


# ---------------------------------------------------------------------------------------------
# Layout and method resolution (pure)


def resolve_method(request: BootstrapRequest, host: HostFacts) -> str:
    """kit or source, from the request (auto: source for unprivileged users or when a tree is given)."""
    if request.method not in METHODS:
        raise PkgsrcError("method %r is not one of %s" % (request.method, ", ".join(METHODS)))
    if request.method != "auto":
        return request.method
    if request.kit or request.kit_url:
        return "kit"
    if request.source_path or request.source_url:
        return "source"
    unprivileged = request.unprivileged if request.unprivileged is not None else not host.privileged
    if unprivileged and request.root == "/":
        return "source"
    return "kit"


def resolve_layout(request: BootstrapRequest, host: HostFacts) -> Layout:
    """The layout to bootstrap into: the platform default with the request's overrides applied."""
    root = normalize_abs(request.root or "/", "root")
    method = resolve_method(request, host)
    unprivileged = request.unprivileged if request.unprivileged is not None else not host.privileged
    base = default_layout(host, unprivileged=unprivileged, method=method, root=root)
    if request.prefix:
        prefix = normalize_abs(request.prefix, "prefix")

        def moved(path: str) -> str:
            if is_within(path, base.prefix):
                return prefix + path[len(base.prefix):]
            return path

        base = replace(base, prefix=prefix, pkg_dbdir=moved(base.pkg_dbdir), sysconfdir=moved(base.sysconfdir),
                       varbase=moved(base.varbase))
    for key in ("pkg_dbdir", "sysconfdir", "varbase"):
        value = getattr(request, key)
        if value:
            base = replace(base, **{key: normalize_abs(value, key)})  # type: ignore[arg-type]
    if request.extra_paths:
        base = replace(base, extra_paths=tuple(request.extra_paths))
    return base


def default_cache_dir(host: HostFacts, request: BootstrapRequest) -> str:
    """Where downloads and work files go (on the host, not under root)."""
    if request.cache_dir:
        return normalize_abs(request.cache_dir, "cache_dir")
    if host.privileged:
        return "/var/tmp/pkgsrc-deploy"
    return posixpath.join(host.home, ".cache", "pkgsrc-deploy")


def _catalogue(request: BootstrapRequest) -> Tuple[Kit, ...]:
    return merge_catalogue(CATALOGUE, request.catalogue) if request.catalogue else CATALOGUE


def choose_kit(request: BootstrapRequest, host: HostFacts) -> Kit:
    """The kit to install: the user's URL, a named catalogue entry, or the one for this host."""
    if request.kit_url:
        kit = user_kit(request.kit_url, checksum=request.kit_checksum, signature_url=request.kit_signature_url,
                       key=request.kit_key, keyring=request.kit_keyring, fingerprint=request.kit_fingerprint,
                       prefix=request.prefix)
        return kit
    kit = select_kit(host.platform, host.arch, request.branch, _catalogue(request), host.os_release,
                     host.os_family, name=request.kit)
    changes: Dict[str, Any] = {}
    if request.kit_checksum:
        changes["checksum"] = request.kit_checksum
    if request.kit_signature_url:
        changes["signature_url"] = request.kit_signature_url
    if request.kit_key:
        changes["key_url"] = "file://" + request.kit_key if request.kit_key.startswith("/") else request.kit_key
    if request.kit_keyring:
        changes["keyring"] = request.kit_keyring
    if request.kit_fingerprint:
        changes["key_fingerprint"] = request.kit_fingerprint
    return replace(kit, **changes) if changes else kit


# ---------------------------------------------------------------------------------------------
# Filesystem probe (read only)


def _config_paths(layout: Layout, host: HostFacts) -> List[str]:
    paths = [posixpath.join(layout.sysconfdir, "pkgin", "repositories.conf"),
             posixpath.join(layout.sysconfdir, "pkg_install.conf")]
    files = shell_files(layout, host.opsys, host.home)[0]
    paths.extend(f.path for f in files)
    return paths


def _packages(host_pkgdb: str) -> Tuple[str, ...]:
    try:
        names = os.listdir(host_pkgdb)
    except OSError:
        return ()
    return tuple(sorted(n for n in names if "-" in n and not n.startswith(".")
                        and os.path.isdir(os.path.join(host_pkgdb, n))))


def probe_fs(request: BootstrapRequest, host: HostFacts) -> FsProbe:
    """Look (read only) at what is installed where the request points."""
    layout = resolve_layout(request, host)
    installed: Optional[Layout] = None
    host_prefix = layout.host(layout.prefix)
    if os.path.isdir(host_prefix):
        installed = layout_from_kit_config(host_prefix, layout.root, base=layout)
    pkgdb: Optional[str] = None
    candidates = list(pkgdb_candidates(layout, host))
    if installed is not None:
        candidates.insert(0, installed.pkg_dbdir)
    for candidate in candidates:
        if os.path.isdir(layout.host(candidate)):
            pkgdb = candidate
            break
    packages = _packages(layout.host(pkgdb)) if pkgdb else ()
    effective = installed or layout
    marker: Optional[Mapping[str, Any]] = None
    marker_error: Optional[str] = None
    try:
        marker = parse_marker(read_text(layout.host(layout.marker)))
    except PkgsrcError as err:
        marker_error = err.message
    dirs = {staging_parent(layout.root, layout.prefix)}
    for path in layout.allowed_roots() + layout.allowed_files():
        dirs.add(layout.host(posixpath.dirname(path)))
    config = _config_paths(effective, host)
    looked_at = [layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase]
    looked_at += [effective.prefix, effective.pkg_dbdir, effective.sysconfdir, effective.varbase]
    looked_at += _forced_paths(effective)
    if marker is not None:
        config += [p for p in marker.get("config_files", []) if isinstance(p, str) and p.startswith("/")]
        config += [b[0] for b in marker.get("profile_blocks", []) if isinstance(b, (list, tuple)) and b
                   and isinstance(b[0], str) and b[0].startswith("/")]
        looked_at += [p for p in marker.get("roots", []) if isinstance(p, str) and p.startswith("/")]
    files = {p: read_text(effective.host(p)) for p in config}
    existing = tuple(sorted({p for p in looked_at if os.path.lexists(effective.host(p))}))
    shell = request.sh or default_shell(host.opsys)
    return FsProbe(pkgdb=pkgdb, packages=packages, installed_layout=installed, marker=marker,
                   marker_error=marker_error, stale_staging=find_stale(dirs), files=files, existing=existing,
                   pkgin_present=os.path.isfile(effective.host(posixpath.join(effective.prefix, "bin", "pkgin"))),
                   shell=shell)


# ---------------------------------------------------------------------------------------------
# Planning (pure)


def tool_versions(packages: Sequence[str]) -> Dict[str, Optional[str]]:
    """Versions of pkg_install, pkgin and libarchive among installed PKGNAMEs (pkgdb directory names)."""
    found: Dict[str, Optional[str]] = {"pkg_install": None, "pkgin": None, "libarchive": None}
    for pkgname in packages:
        name, version = split_pkgname(pkgname)
        if name in found:
            found[name] = version
    return found


def _existing(fs: FsProbe) -> Optional[Existing]:
    if fs.pkgdb is None:
        return None
    versions = tool_versions(fs.packages)
    return Existing(fs.pkgdb, fs.packages, versions["pkg_install"], versions["pkgin"], versions["libarchive"],
                    fs.marker is not None)


def _describe_existing(existing: Existing, layout: Layout) -> str:
    pairs = (("pkg_install", existing.pkg_install), ("pkgin", existing.pkgin))
    tools = ", ".join("%s %s" % (n, v) for n, v in pairs if v) or "no pkg_install or pkgin"
    return "pkgsrc is already bootstrapped in %s (PKG_DBDIR %s, %d packages: %s)" % (
        layout.prefix, existing.pkgdb, len(existing.packages), tools)


def _unified(before: Optional[str], after: str, path: str) -> Dict[str, str]:
    return {"before_header": path if before is not None else "%s (absent)" % path, "after_header": path,
            "before": before or "", "after": after}


def config_actions(request: BootstrapRequest, layout: Layout, host: HostFacts, files: Mapping[str, Optional[str]],
                   known: bool) -> Tuple[List[Action], List[Dict[str, str]], List[str]]:
    """Actions that bring repositories.conf, pkg_install.conf and PATH/MANPATH to what was asked.

    known: the current texts in files are the real ones (an existing install); otherwise (a kit
    not extracted yet) the files are rendered again at apply time from what the kit holds.
    """
    actions: List[Action] = []
    diffs: List[Dict[str, str]] = []
    messages: List[str] = []
    repos = tuple(request.repositories)
    wanted: List[Tuple[str, str, int, Any]] = []
    if repos:
        wanted.append(("repositories", posixpath.join(layout.sysconfdir, "pkgin", "repositories.conf"), 0o644,
                       tuple(repos)))
    settings: Dict[str, Optional[str]] = {}
    if repos:
        settings["PKG_PATH"] = pkg_path_for(repos)
    if request.verified_installation:
        settings["VERIFIED_INSTALLATION"] = request.verified_installation
    if settings:
        wanted.append(("pkg_install", posixpath.join(layout.sysconfdir, "pkg_install.conf"), 0o644, settings))
    if request.manage_path:
        shells, notes = shell_files(layout, host.opsys, host.home)
        messages.extend(notes)
        for shell_file in shells:
            wanted.append(("shell", shell_file.path, shell_file.mode, shell_file))
    for kind, path, mode, arg in wanted:
        current = files.get(path) if known else None
        if kind == "repositories":
            after = render_repositories(current, arg)
        elif kind == "pkg_install":
            after = render_pkg_install_conf(current, arg)
        else:
            current = files.get(path)
            after = arg.render(current)
        if (known or kind == "shell") and after == current:
            continue
        params: Dict[str, Any] = {"file": kind, "path": path, "mode": mode}
        if kind == "repositories":
            params["repositories"] = list(arg)
        elif kind == "pkg_install":
            params["settings"] = dict(arg)
        else:
            params["shell_file"] = arg
        actions.append(Action("write_file", "write %s" % path, params))
        diffs.append(_unified(current if (known or kind == "shell") else None, after, path))
    return actions, diffs, messages


def plan_bootstrap(request: BootstrapRequest, host: HostFacts, fs: FsProbe) -> BootstrapPlan:
    """The plan for request on host given fs (pure: no I/O)."""
    if request.state not in STATES:
        raise PkgsrcError("state %r is not one of %s" % (request.state, ", ".join(STATES)))
    layout = resolve_layout(request, host)
    cache = default_cache_dir(host, request)
    if request.state == "absent":
        return _plan_absent(request, host, fs, layout, cache)
    if request.state == "upgraded":
        return _plan_upgrade(request, host, fs, layout, cache)
    existing = _existing(fs)
    if existing is not None:
        effective = fs.installed_layout or replace(layout, pkg_dbdir=existing.pkgdb)
        messages = [_describe_existing(existing, effective) + "; the kit is not extracted over an existing install"]
        actions, diffs, notes = config_actions(request, effective, host, fs.files, known=True)
        messages.extend(notes)
        repo_changed = any(a.params.get("file") == "repositories" for a in actions)
        if repo_changed and request.pkgin_update and fs.pkgin_present:
            actions.append(_pkgin_update_action(effective))
        return BootstrapPlan(request, host, effective, tuple(actions), tuple(messages), tuple(diffs), existing,
                             method="existing", cache_dir=cache)
    method = resolve_method(request, host)
    if method == "kit":
        return _plan_kit(request, host, fs, layout, cache)
    return _plan_source(request, host, fs, layout, cache)


def _pkgin_update_action(layout: Layout) -> Action:
    # Forced: it runs after the repository list changed, and pkgin 26.4 loads a repository added
    # beside the existing ones only on a forced update (samples/pkgin-added-repository.md).
    argv = [posixpath.join(layout.prefix, "bin", "pkgin"), "-f", "-y", "update"]
    return Action("pkgin_update", "run %s" % " ".join(argv), {"argv": argv})


def _stale_action(fs: FsProbe) -> List[Action]:
    if not fs.stale_staging:
        return []
    return [Action("remove_stale", "remove staging left by an interrupted run: %s" % ", ".join(fs.stale_staging),
                   {"paths": list(fs.stale_staging)})]


def _cache_name(url: str) -> str:
    base = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return "%s-%s" % (digest, base)


def _local_or_cached(url: str, cache: str) -> str:
    if url.startswith("file://"):
        return url[len("file://"):]
    if url.startswith("/"):
        return url
    return posixpath.join(cache, _cache_name(url))


def _plan_kit(request: BootstrapRequest, host: HostFacts, fs: FsProbe, layout: Layout, cache: str) -> BootstrapPlan:
    kit = choose_kit(request, host)
    trust = required_trust(kit, request.verify)
    if trust.problems:
        raise PkgsrcError(trust.problems[0], "kits are verified before anything is written")
    if kit.prefix and kit.prefix != layout.prefix:
        raise PkgsrcError(
            "kit %s installs into %s, but the prefix asked for is %s" % (kit.name, kit.prefix, layout.prefix),
            "binary kits cannot be relocated: drop the prefix option, or bootstrap from source")
    if layout.root == "/" and not host.privileged and not is_within(layout.prefix, host.home):
        raise PkgsrcError("kit %s installs into %s, which needs root" % (kit.name, layout.prefix),
                          "run as root (become: true), or bootstrap from source into $HOME/pkg as this user")
    messages: List[str] = []
    actions: List[Action] = list(_stale_action(fs))
    kit_path = _local_or_cached(kit.url, cache)
    actions.append(Action("fetch", "download %s%s" % (kit.url, " (%s)" % kit.checksum if trust.checksum else ""),
                          {"role": "kit", "url": kit.url, "dest": kit_path,
                           "checksum": kit.checksum if trust.checksum else None}))
    if trust.signature:
        sig_path = _local_or_cached(kit.signature_url or "", cache)
        actions.append(Action("fetch", "download %s" % kit.signature_url,
                              {"role": "signature", "url": kit.signature_url, "dest": sig_path, "checksum": None}))
        keys: List[str] = []
        if kit.key_url:
            key_path = _local_or_cached(kit.key_url, cache)
            actions.append(Action("fetch", "download key %s" % kit.key_url,
                                  {"role": "key", "url": kit.key_url, "dest": key_path, "checksum": None}))
            keys.append(key_path)
        if kit.keyring:
            keys.append(kit.keyring)
        actions.append(Action("verify_signature", "check the signature of %s%s" % (
            kit.filename, " by key %s" % kit.key_fingerprint if kit.key_fingerprint else ""),
            {"data": kit_path, "signature": sig_path, "keys": keys, "fingerprint": kit.key_fingerprint,
             "name": kit.filename}))
    if not request.verify:
        messages.append("WARNING: kit %s is installed UNVERIFIED (verify=false)%s" % (
            kit.name, "; only its checksum is checked" if trust.checksum else ""))
    if not layout.confirmed:
        messages.append("the %s layout is not documented by the publisher: PKG_DBDIR and VARBASE are read from "
                        "the kit's mk.conf and pkg_install.conf after extraction" % (layout.name or "default"))
    actions.append(Action("install_kit", "extract %s into %s (%s) and place it" % (
        kit.filename, layout.prefix, ", ".join(layout.allowed_roots() + layout.allowed_files())),
        {"archive": kit_path, "kit": kit.to_dict()}))
    cfg, diffs, notes = config_actions(request, layout, host, fs.files, known=False)
    actions.extend(cfg)
    messages.extend(notes)
    if request.pkgin_update:
        actions.append(_pkgin_update_action(layout))
    return BootstrapPlan(request, host, layout, tuple(actions), tuple(messages), tuple(diffs), None, kit,
                         "kit", cache)


def _plan_source(request: BootstrapRequest, host: HostFacts, fs: FsProbe, layout: Layout,
                 cache: str) -> BootstrapPlan:
    actions: List[Action] = list(_stale_action(fs))
    messages: List[str] = []
    if request.source_path:
        tree = normalize_abs(request.source_path, "source_path")
    elif request.source_url:
        if not request.source_checksum and request.verify:
            raise PkgsrcError("source_url %s has no checksum" % request.source_url,
                              "give source_checksum ('sha256:<hex>'), or set verify=false (not recommended)")
        archive = _local_or_cached(request.source_url, cache)
        unpack = posixpath.join(cache, "src-" + _cache_name(request.source_url).split("-", 1)[0])
        actions.append(Action("fetch", "download %s" % request.source_url,
                              {"role": "source", "url": request.source_url, "dest": archive,
                               "checksum": request.source_checksum}))
        actions.append(Action("unpack_source", "unpack %s into %s" % (posixpath.basename(archive), unpack),
                              {"archive": archive, "dest": unpack}))
        tree = unpack
    else:
        raise PkgsrcError("bootstrapping from source needs a pkgsrc tree",
                          "give source_path (a pkgsrc checkout) or source_url with source_checksum")
    unprivileged = layout.unprivileged or (request.unprivileged is True) or not host.privileged
    workdir = normalize_abs(request.workdir, "workdir") if request.workdir else posixpath.join(cache, "bootstrap-work")
    fragment_path = posixpath.join(cache, "mk-fragment.conf") if request.mk_fragment else None
    args = bootstrap_args(layout, workdir, unprivileged, request.make_jobs, request.abi, request.compiler,
                          request.prefer_pkgsrc, fragment_path)
    if layout.root != "/":
        raise PkgsrcError("a bootstrap from source cannot target an alternate root",
                          "bootstrap from source on the host itself, or use a kit with root")
    sh = fs.shell or default_shell(host.opsys)
    roots = [layout.prefix] + [p for p in (layout.pkg_dbdir, layout.sysconfdir, layout.varbase)
                               if not is_within(p, layout.prefix) and p not in fs.existing]
    actions.append(Action("run_bootstrap", "run %s/bootstrap/bootstrap %s" % (tree, " ".join(args)),
                          {"tree": tree, "args": args, "sh": sh, "workdir": workdir,
                           "workdir_is_default": not request.workdir, "mk_fragment": request.mk_fragment,
                           "mk_fragment_path": fragment_path, "roots": roots, "cache": cache,
                           "source": request.source_url or request.source_path}))
    cfg, diffs, notes = config_actions(request, layout, host, fs.files, known=False)
    actions.extend(cfg)
    messages.extend(notes)
    messages.append("a bootstrap from source installs bmake and pkg_install; install pkgin as a package")
    return BootstrapPlan(request, host, layout, tuple(actions), tuple(messages), tuple(diffs), None, None,
                         "source", cache)


_NEVER_REMOVE = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
                 "/sbin", "/sys", "/tmp", "/usr", "/usr/local", "/var", "/var/db", "/var/tmp", "/Users",
                 "/System", "/Library", "/Applications")


def _removable(path: str, host: HostFacts) -> bool:
    return path not in _NEVER_REMOVE and path != host.home and path.count("/") >= 2


def _plan_absent(request: BootstrapRequest, host: HostFacts, fs: FsProbe, layout: Layout,
                 cache: str) -> BootstrapPlan:
    existing = _existing(fs)
    effective = fs.installed_layout or layout
    messages: List[str] = []
    paths: List[str] = []
    shell_paths: List[str] = []
    blocks: List[Tuple[str, str]] = []
    if fs.marker is not None:
        paths = [p for p in fs.marker.get("roots", []) if isinstance(p, str)]
        shell_paths = [p for p in fs.marker.get("config_files", []) if isinstance(p, str)]
        blocks = [tuple(b) for b in fs.marker.get("profile_blocks", []) if isinstance(b, (list, tuple))]
    elif existing is not None or effective.prefix in fs.existing:
        if not request.force:
            why = fs.marker_error or "no %s" % effective.marker
            raise PkgsrcError("%s was not bootstrapped by pkgsrc.deploy (%s); refusing to remove it" % (
                effective.prefix, why), "set force=true to remove %s anyway" % ", ".join(
                    _forced_paths(effective)))
        paths = _forced_paths(effective)
        files = shell_files(effective, host.opsys, host.home)[0]
        for shell_file in files:
            if shell_file.block_id:
                blocks.append((shell_file.path, shell_file.block_id))
            else:
                shell_paths.append(shell_file.path)
        messages.append("removing %s by force: it was not bootstrapped by pkgsrc.deploy" % effective.prefix)
    for path in paths:
        if not _removable(path, host):
            raise PkgsrcError("refusing to remove %s: it is a system directory" % path,
                              "fix the state file %s or remove the prefix by hand" % effective.marker)
    actions: List[Action] = []
    present = [p for p in paths if p in fs.existing]
    diffs: List[Dict[str, str]] = []
    if present:
        actions.append(Action("remove", "remove %s" % ", ".join(present), {"paths": present}))
    for path in shell_paths:
        if fs.files.get(path) is not None:
            actions.append(Action("remove", "remove %s" % path, {"paths": [path]}))
            diffs.append({"before_header": path, "after_header": "%s (absent)" % path,
                          "before": fs.files.get(path) or "", "after": ""})
    for path, ident in blocks:
        current = fs.files.get(path)
        if current is not None and ("# BEGIN %s" % ident) in current:
            actions.append(Action("remove_block", "remove the %s block from %s" % (ident, path),
                                  {"path": path, "block_id": ident}))
    if not actions:
        messages.append("pkgsrc is not installed in %s: nothing to remove" % effective.prefix)
    return BootstrapPlan(request, host, effective, tuple(actions), tuple(messages), tuple(diffs), existing,
                         method="absent", cache_dir=cache)


def _forced_paths(layout: Layout) -> List[str]:
    paths = [layout.prefix]
    for path in (layout.pkg_dbdir, layout.sysconfdir):
        if not is_within(path, layout.prefix):
            paths.append(path)
    if not is_within(layout.varbase, layout.prefix):
        paths.extend(posixpath.join(layout.varbase, p) for p in layout.var_paths)
    return paths


def _plan_upgrade(request: BootstrapRequest, host: HostFacts, fs: FsProbe, layout: Layout,
                  cache: str) -> BootstrapPlan:
    existing = _existing(fs)
    if existing is None:
        raise PkgsrcError("pkgsrc is not bootstrapped in %s: nothing to upgrade" % layout.prefix,
                          "bootstrap it first (state=present)")
    effective = fs.installed_layout or replace(layout, pkg_dbdir=existing.pkgdb)
    if effective.root != "/":
        raise PkgsrcError("cannot upgrade an install under an alternate root (%s)" % effective.root,
                          "its tools only run on the host they serve")
    prefix = effective.prefix
    steps = [
        [posixpath.join(prefix, "sbin", "pkg_add"), "-U", "pkg_install", "pkgin", "libarchive"],
        [posixpath.join(prefix, "bin", "pkgin"), "clean"],
        [posixpath.join(prefix, "bin", "pkgin"), "-y", "upgrade"],
    ]
    action = Action("upgrade", "; ".join(" ".join(s) for s in steps) + " (again if pkgin upgraded itself)",
                    {"steps": steps, "pkgdb": existing.pkgdb})
    messages = [_describe_existing(existing, effective)]
    return BootstrapPlan(request, host, effective, (action,), tuple(messages), (), existing, method="upgrade",
                         cache_dir=cache)


# ---------------------------------------------------------------------------------------------
# Entry point


def result_of_plan(plan: BootstrapPlan) -> BootstrapResult:
    """The result check mode reports: the plan's actions and diff, nothing applied."""
    return BootstrapResult(plan.changed, tuple(a.summary for a in plan.actions), plan.diff, plan.messages,
                           plan.layout.to_dict(), plan.existing.to_dict() if plan.existing else None,
                           plan.kit.to_dict() if plan.kit else None, plan.method)


def plan_as_json(plan: BootstrapPlan) -> str:
    """The plan as JSON (for logs and debugging)."""
    return json.dumps({"actions": [{"kind": a.kind, "summary": a.summary} for a in plan.actions],
                       "messages": list(plan.messages), "layout": plan.layout.to_dict()}, indent=2)


__all__ = ["Action", "BootstrapPlan", "BootstrapRequest", "BootstrapResult", "Existing", "FsProbe",
           "choose_kit", "config_actions", "default_cache_dir", "plan_bootstrap",
           "probe_fs", "resolve_layout", "resolve_method", "result_of_plan", "tool_versions"]
