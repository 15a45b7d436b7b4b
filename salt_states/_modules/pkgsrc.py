"""Salt execution module for pkgsrc: packages (Salt's package-provider interface) and more.

With ``providers: {pkg: pkgsrc}`` in the minion configuration, the standard ``pkg.installed``,
``pkg.latest`` and ``pkg.removed`` states use it, on Linux, macOS, illumos and NetBSD alike.
Every function takes ``prefix`` to choose the pkgsrc prefix (default: the first one found).
The work is done by the shared pkgsrc_core library (the same code as the Ansible collection).
"""
from __future__ import annotations

import logging
import os
import sys

from salt.exceptions import CommandExecutionError


def _import_core():
    """The core's names this module uses (pkgsrc_core: the wheel, or _utils synced to the minion)."""
    # pylint: disable=import-outside-toplevel
    from pkgsrc_core.bootstrap.options import run_bootstrap
    from pkgsrc_core.errors import PkgsrcError
    from pkgsrc_core.facts import gather_facts
    from pkgsrc_core.packages.audit import audit as core_audit
    from pkgsrc_core.packages.catalogue import load_catalogue, repository_urls
    from pkgsrc_core.packages.converge import manage_packages, read_installed
    from pkgsrc_core.packages.journal import HISTORY_PARAMS, history_options
    from pkgsrc_core.packages.lockfile import with_lock
    from pkgsrc_core.packages.plan import PackageRequest
    from pkgsrc_core.packages.repository import RepositoryRequest, manage_repository
    from pkgsrc_core.packages.rollback import manage_history
    from pkgsrc_core.packages.tools import summary_cache_dir
    from pkgsrc_core.prefixes import find_prefixes, select_prefix
    from pkgsrc_core.runner import SubprocessRunner
    from pkgsrc_core.versions import best_match, dewey_cmp, split_pkgname
    return {
        "run_bootstrap": run_bootstrap,
        "PkgsrcError": PkgsrcError,
        "gather_facts": gather_facts,
        "core_audit": core_audit,
        "load_catalogue": load_catalogue,
        "repository_urls": repository_urls,
        "manage_packages": manage_packages,
        "read_installed": read_installed,
        "HISTORY_PARAMS": HISTORY_PARAMS,
        "history_options": history_options,
        "with_lock": with_lock,
        "manage_history": manage_history,
        "PackageRequest": PackageRequest,
        "RepositoryRequest": RepositoryRequest,
        "manage_repository": manage_repository,
        "summary_cache_dir": summary_cache_dir,
        "find_prefixes": find_prefixes,
        "select_prefix": select_prefix,
        "SubprocessRunner": SubprocessRunner,
        "best_match": best_match,
        "dewey_cmp": dewey_cmp,
        "split_pkgname": split_pkgname,
    }


try:
    globals().update(_import_core())
    HAS_CORE = True
except ImportError:  # pragma: no cover - reported by __virtual__, or found by _core() later
    HAS_CORE = False

log = logging.getLogger(__name__)

__virtualname__ = "pkgsrc"

# __salt__ and __opts__ are injected by the Salt loader.
# pylint: disable=undefined-variable


def _core():
    """Make sure the core is imported.

    As a `providers: {pkg: pkgsrc}` override, Salt loads this module with salt.loader.raw_mod:
    __virtual__ is not called and the minion's synced extmods/utils (where saltutil.sync_all puts
    _utils/pkgsrc_core) is not on sys.path, so the import above failed. Add it and import again.
    """
    global HAS_CORE  # pylint: disable=global-statement
    if HAS_CORE:
        return
    utils = os.path.join(__opts__.get("extension_modules") or "", "utils")
    if os.path.isdir(utils) and utils not in sys.path:
        sys.path.append(utils)
    try:
        globals().update(_import_core())
    except ImportError:
        raise CommandExecutionError("pkgsrc_core is missing: run saltutil.sync_all, or install the "
                                    "saltext-pkgsrc wheel") from None
    HAS_CORE = True


def __virtual__():
    if not HAS_CORE:
        return (False, "pkgsrc_core is missing: run saltutil.sync_all, or install the saltext-pkgsrc wheel")
    return __virtualname__


def _call(function, *args, **kwargs):
    """Call the core; a PkgsrcError becomes CommandExecutionError with its message and hint, and its
    details as the exception's info (a run that failed part-way gives Salt's pkg states its changes)."""
    try:
        return function(*args, **kwargs)
    except PkgsrcError as exc:
        raise CommandExecutionError(str(exc), info=exc.details() or None) from None


def _layout(prefix=None):
    return _call(select_prefix, prefix)


def _targets(name=None, pkgs=None, version=None):
    """Salt's name/pkgs/version arguments -> pkg_install patterns."""
    out = []
    if pkgs:
        for entry in pkgs:
            if isinstance(entry, dict):
                for pkg, ver in entry.items():
                    out.append(_with_version(pkg, ver))
            else:
                out.append(str(entry))
    elif name:
        out.append(_with_version(name, version))
    return out


def _with_version(name, version):
    if version in (None, "", "latest"):
        return str(name)
    version = str(version).strip()
    if version[:1] in "<>":
        return "%s%s" % (name, version.replace(" ", ""))
    if version.startswith("="):
        version = version.lstrip("=")
    return "%s-%s" % (name, version)


def _controller():
    """The master a minion answers to; None for salt-call --local, and under salt-ssh (the core
    reads SSH_CLIENT then)."""
    if os.environ.get("SSH_CLIENT") or __opts__.get("file_client") == "local":
        return None
    master = __opts__.get("master")
    return master if isinstance(master, str) else None


def _history(options):
    """The run's history options (actor salt) from the keyword arguments (HISTORY_PARAMS)."""
    return _call(history_options, "salt", options, _controller())


def _converge(names, state, prefix=None, test=False, lock=None, **options):
    history = _history(options)
    request = PackageRequest(tuple(names), state, **{k: v for k, v in options.items() if k not in HISTORY_PARAMS})
    if lock is not None:
        request, prefix = _call(with_lock, request, lock, prefix)
    return _call(manage_packages, request, prefix, None, SubprocessRunner(), test, history)[0]


def manage(names=None, state="present", prefix=None, test=False, pkgs=None, version=None, **options):
    """
    Converge packages in one call: the same options and results as the Ansible module
    pkgsrc.deploy.package (state present/latest/absent, update_cache, upgrade, autoremove,
    clean, remove_dependants, exact, lock). ``names`` is a list of names/patterns; ``pkgs`` and
    ``version`` are accepted as Salt's pkg functions take them. With test=True, plan only.

    ``exact=True``: the names are the whole set; everything else installed but what they need
    and the bootstrap kit's packages is removed. ``lock``: a lock (docs/lockfiles.md) as data,
    applied exactly (its prefix is the default prefix).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.manage '["nginx", "php>=8.1<8.2"]'
        salt '*' pkgsrc.manage '["hello"]' state=latest update_cache=True test=True
        salt '*' pkgsrc.manage '["hello-1.0", "foo-tool-3.2"]' exact=True
    """
    _core()
    allowed = ("update_cache", "upgrade", "autoremove", "clean", "remove_dependants", "lock_timeout", "exact",
               "lock")
    allowed += tuple(HISTORY_PARAMS)
    opts = {k: v for k, v in options.items() if k in allowed}
    targets = list(names or []) + _targets(None, pkgs) if pkgs else list(names or [])
    if version and len(targets) == 1:
        targets = [_with_version(targets[0], version)]
    result = _converge(targets, state, prefix, test=bool(test), **opts)
    out = result.as_dict()
    out["changes"] = result.version_changes()
    out["diff"] = result.diff
    return out


def list_pkgs(versions_as_list=False, prefix=None, **kwargs):
    """
    List the packages installed in the prefix, read straight from its package database.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.list_pkgs
        salt '*' pkgsrc.list_pkgs prefix=/opt/pkg
    """
    _core()
    if kwargs.get("removed") or kwargs.get("purge_desired"):
        return {}
    layout = _layout(prefix)
    installed = _call(read_installed, layout.host(layout.pkg_dbdir))
    if versions_as_list:
        return {name: [pkg.version] for name, pkg in installed.items()}
    return {name: pkg.version for name, pkg in installed.items()}


def version(*names, **kwargs):
    """
    The installed version of one or more packages ('' when not installed).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.version nginx
        salt '*' pkgsrc.version nginx php
    """
    _core()
    pkgs = list_pkgs(prefix=kwargs.get("prefix"))
    if len(names) == 1:
        return pkgs.get(names[0], "")
    return {name: pkgs.get(name, "") for name in names}


def version_cmp(pkg1, pkg2, ignore_epoch=False, **kwargs):  # pylint: disable=unused-argument
    """
    Compare two versions with pkgsrc's dewey rules: -1, 0 or 1 (1.0rc1 < 1.0 < 1.0nb1 < 1.0.1).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.version_cmp 1.0rc1 1.0
    """
    _core()
    return dewey_cmp(str(pkg1), str(pkg2))


def _available(prefix=None, refresh=False):
    layout = _layout(prefix)
    # Salt's pkg states ask for versions in test=True runs too: then nothing is cached.
    cache_dir = None if __opts__.get("test") else summary_cache_dir(layout)
    return _call(load_catalogue, repository_urls(layout.host(layout.sysconfdir)), cache_dir, bool(refresh)).pkgnames


def latest_version(*names, **kwargs):
    """
    The newest version the repositories offer for each package, or '' when the installed one is
    already the newest (as Salt's package providers do).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.latest_version nginx
    """
    _core()
    prefix = kwargs.get("prefix")
    available = _available(prefix, kwargs.get("refresh", False))
    installed = list_pkgs(prefix=prefix)
    out = {}
    for name in names:
        best = best_match(name, [p for p in available if split_pkgname(p)[0] == name])
        newest = split_pkgname(best)[1] if best else ""
        if newest and name in installed and dewey_cmp(newest, installed[name]) <= 0:
            newest = ""
        out[name] = newest
    return out[names[0]] if len(names) == 1 else out


available_version = latest_version


def upgrade_available(name, **kwargs):
    """
    True when the repositories offer a newer version of the package.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.upgrade_available nginx
    """
    _core()
    return latest_version(name, **kwargs) != ""


def list_upgrades(refresh=True, prefix=None, **kwargs):  # pylint: disable=unused-argument
    """
    Installed packages that have a newer version: {name: newest version}.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.list_upgrades
    """
    _core()
    result = _converge([], "present", prefix, test=True, upgrade=True, update_cache=bool(refresh))
    return {split_pkgname(c.pkgname)[0]: split_pkgname(c.pkgname)[1] for c in result.plan.upgrade_all}


def refresh_db(prefix=None, **kwargs):  # pylint: disable=unused-argument
    """
    Refresh the repository database (pkgin update, and the summaries read for planning).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.refresh_db
    """
    _core()
    _converge([], "present", prefix, update_cache=True)
    return True


def install(name=None, refresh=False, pkgs=None, version=None, prefix=None, **kwargs):  # pylint: disable=redefined-outer-name
    """
    Install packages: names, exact versions or pkg_install patterns, in one batched command.

    This is the package manager's "install", as Salt's pkg states expect it (and as
    ``pkgin install``, apt and dnf do): a bare name of an installed package with a newer
    version available is upgraded to the best version (``pkg.latest`` relies on it). An exact
    version (``version=1.0``, ``hello-1.0``) or a pattern (``hello>=1.0``) keeps its meaning and
    is satisfied by what is installed. The ``pkgsrc.installed`` state and the Ansible module
    ``pkgsrc.deploy.package`` mean "present": an installed name is left as it is.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.install nginx
        salt '*' pkgsrc.install pkgs='["nginx", "php>=8.1<8.2"]'
        salt '*' pkgsrc.install hello version=1.0
    """
    _core()
    if kwargs.get("sources"):
        raise CommandExecutionError("pkgsrc.install does not take sources: name packages from the repositories")
    targets = _targets(name, pkgs, version)
    if not targets:
        return {}
    return _converge(targets, "present", prefix, update_cache=bool(refresh), install_upgrades=True).version_changes()


def upgrade(name=None, pkgs=None, refresh=True, prefix=None, **kwargs):  # pylint: disable=unused-argument
    """
    Upgrade the named packages, or every package that has a newer version.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.upgrade
        salt '*' pkgsrc.upgrade name=nginx
    """
    _core()
    targets = _targets(name, pkgs)
    if targets:
        result = _converge(targets, "latest", prefix, update_cache=bool(refresh))
    else:
        result = _converge([], "present", prefix, upgrade=True, update_cache=bool(refresh))
    return result.version_changes()


def remove(name=None, pkgs=None, prefix=None, **kwargs):
    """
    Remove packages. Packages others depend on are refused unless remove_dependants=True.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.remove nginx
        salt '*' pkgsrc.remove libfoo remove_dependants=True
    """
    _core()
    targets = _targets(name, pkgs)
    if not targets:
        return {}
    result = _converge(targets, "absent", prefix, remove_dependants=bool(kwargs.get("remove_dependants")))
    return result.version_changes()


def purge(name=None, pkgs=None, **kwargs):
    """
    The same as remove (pkgsrc keeps no separate configuration state to purge).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.purge nginx
    """
    _core()
    return remove(name=name, pkgs=pkgs, **kwargs)


def autoremove(prefix=None, **kwargs):  # pylint: disable=unused-argument
    """
    Remove packages installed as dependencies that nothing needs any more.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.autoremove
    """
    _core()
    return _converge([], "present", prefix, autoremove=True).version_changes()


def prefixes(**kwargs):  # pylint: disable=unused-argument
    """
    The pkgsrc prefixes found on this host with their layout.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.prefixes
    """
    _core()
    return [layout.to_dict() for layout in find_prefixes()]


def facts(prefixes=None, **kwargs):  # pylint: disable=unused-argument
    """
    Facts about the host and every pkgsrc prefix on it: layout, repositories, branch,
    pkg_install/pkgin versions and installed packages (the input of the fleet report).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.facts
        salt '*' pkgsrc.facts prefixes='["/home/grid/pkg"]'
    """
    _core()
    return _call(gather_facts, SubprocessRunner(timeout=60), list(prefixes or []))


def audit(prefix=None, refresh=True, fail_on="never", test=False, **kwargs):  # pylint: disable=unused-argument
    """
    Fetch the vulnerability list and audit the installed packages (pkg_admin audit), returning
    each vulnerable package with its type, advisory URL and level. With fail_on set to a level
    (low, medium, high, critical), the result's ``failed`` is True when one is reached.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.audit
        salt '*' pkgsrc.audit fail_on=critical
    """
    _core()
    layout = _layout(prefix)
    result = _call(core_audit, layout, SubprocessRunner(timeout=300), bool(refresh), fail_on, bool(test))
    out = result.as_dict()
    out["message"] = result.message()
    return out


def repository(repositories=None, branch=None, preferred=None, pkg_path=True, verified_installation=None,
               update_cache=True, prefix=None, test=False, **kwargs):  # pylint: disable=unused-argument
    """
    Configure the prefix's repositories (pkgin repositories.conf, preferred.conf pins,
    pkg_install.conf PKG_PATH and VERIFIED_INSTALLATION); the same options as the Ansible module
    pkgsrc.deploy.repository. None leaves a part alone.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.repository repositories='["https://example.org/pkgsrc/{branch}/All"]' branch=2025Q3
    """
    _core()
    request = RepositoryRequest(
        tuple(repositories) if repositories is not None else None, branch,
        tuple(preferred) if preferred is not None else None, bool(pkg_path), verified_installation,
        bool(update_cache))
    return _call(manage_repository, request, _layout(prefix), SubprocessRunner(timeout=300), bool(test),
                 _history(kwargs))


def bootstrap(state="present", test=False, **options):
    """
    Bootstrap pkgsrc: the published kit for the host (verified by checksum and signature), a
    kit of your own (url, checksum, signature_url, gpg_key), or from source into a user prefix
    (from_source: {path or url, checksum, make_jobs, ...}). state=upgraded upgrades an existing
    install, state=absent removes one this made. The same options as the Ansible module
    pkgsrc.deploy.bootstrap; test=True plans only.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.bootstrap
        salt '*' pkgsrc.bootstrap url=https://mirror.example.org/kit.tar.gz checksum=sha256:...
        salt '*' pkgsrc.bootstrap prefix=~/pkg from_source='{"path": "/scratch/pkgsrc"}'
    """
    _core()
    params = {k: v for k, v in options.items() if not k.startswith("__")}
    params["state"] = state
    return _call(run_bootstrap, params, SubprocessRunner(timeout=3600), bool(test), "salt", _controller())


def history(count=None, prefix=None, **kwargs):  # pylint: disable=unused-argument
    """
    The prefix's transactions, newest first (at most ``count``): every run that changed it (packages,
    bootstrap, repositories, rollbacks), with the package set before and after, the commands and
    the outcome. The same core call as the Ansible module pkgsrc.deploy.history.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.history count=5
    """
    _core()
    return _call(manage_history, _layout(prefix), SubprocessRunner(), None, False,
                 None if count is None else _whole(count, "count"))


def rollback(id=None, undo=False, prefix=None, test=False, **options):  # pylint: disable=redefined-builtin
    """
    Bring the prefix back to the package set it had before transaction ``id`` (or, with undo=True,
    before the newest transaction that changed packages and was not a rollback): exact versions
    and automatic flags, from the packages saved before the change, then the repositories. When a
    version is found in neither, nothing changes and the error names it. With test=True, the plan
    and the package-set diff only. The same core call as the Ansible module pkgsrc.deploy.history.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc.rollback undo=True
        salt '*' pkgsrc.rollback id=41 test=True
    """
    _core()
    if id is None and not undo:
        raise CommandExecutionError("give id=<transaction> or undo=True (pkgsrc.history lists the transactions)")
    return _call(manage_history, _layout(prefix), SubprocessRunner(timeout=3600),
                 None if id is None else _whole(id, "id"), bool(undo), None, bool(test), _history(options),
                 float(options.get("lock_timeout", 600)))


def _whole(value, what):
    """A whole number given on the command line as text."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CommandExecutionError("%s must be a whole number, not %r" % (what, value)) from None
