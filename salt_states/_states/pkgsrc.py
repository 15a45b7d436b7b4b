"""Salt states for pkgsrc packages: pkgsrc.installed, pkgsrc.latest, pkgsrc.removed.

Each is one call of the execution function pkgsrc.manage, which runs the shared core; with
test=True it plans and reports without changing anything.

.. code-block:: yaml

    web packages:
      pkgsrc.installed:
        - pkgs:
          - nginx
          - php>=8.1<8.2
        - prefix: /opt/local
"""
from __future__ import annotations

from salt.exceptions import CommandExecutionError

__virtualname__ = "pkgsrc"

# __salt__ and __opts__ are injected by the Salt loader.
# pylint: disable=undefined-variable

OPTIONS = ("update_cache", "upgrade", "autoremove", "clean", "remove_dependants", "lock_timeout", "exact", "lock")
# The history options (pkgsrc_core.packages.journal.HISTORY_PARAMS), passed through as they are.
HISTORY = ("history_keep", "save_packages", "saved_keep", "saved_max_size")


def __virtual__():
    if "pkgsrc.manage" not in __salt__:
        return (False, "the pkgsrc execution module is not available (sync _modules and _utils)")
    return __virtualname__


def _run(name, state, pkgs=None, version=None, prefix=None, **kwargs):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    targets = [] if pkgs or kwargs.get("lock") is not None else [name]
    options = {k: v for k, v in kwargs.items() if k in OPTIONS + HISTORY}
    test = bool(__opts__.get("test"))
    try:
        result = __salt__["pkgsrc.manage"](targets, state=state, prefix=prefix, test=test, pkgs=pkgs,
                                           version=version, **options)
    except CommandExecutionError as exc:
        ret["comment"] = str(exc)
        ret["changes"] = (getattr(exc, "info", None) or {}).get("changes", {})  # a run that failed part-way
        return ret
    lines = result["messages"] or ["%s: already as asked (%s)" % (name, state)]
    if test:
        ret["result"] = None if result["changed"] else True
        if result["changed"]:
            ret["changes"] = {"planned": lines}
        ret["comment"] = "\n".join(("would " + line) if result["changed"] else line for line in lines)
        return ret
    ret["result"] = True
    # Only automatic flags (exact, lock) or the cache changed: no version changes, but changes all the same.
    ret["changes"] = result["changes"] or ({"done": lines} if result["changed"] else {})
    ret["comment"] = "\n".join(lines)
    return ret


def installed(name, pkgs=None, version=None, prefix=None, **kwargs):
    """
    The packages are installed (names, exact versions or pkg_install patterns).

    name
        A package name or pattern (ignored when pkgs is given, except as the state's ID).
    pkgs
        A list of names/patterns, or of {name: version} mappings.
    version
        An exact version for name.
    prefix
        The pkgsrc prefix (default: the first one found on the host).
    update_cache, autoremove, clean, lock_timeout
        As in pkgsrc.manage.
    exact
        True: the packages named are the whole set. What they need and the bootstrap kit's own
        packages stay; everything else is removed, and a dependency nobody named is marked
        automatic. Give exact versions (hello-1.0) to pin them (docs/lockfiles.md).
    lock
        A lock as data (docs/lockfiles.md; pkgsrc.facts returns one per prefix), applied exactly:
        every package at its locked version, the automatic flags as locked, nothing else but
        the kit's packages. Without pkgs; prefix defaults to the lock's.

    .. code-block:: yaml

        web packages:
          pkgsrc.installed:
            - pkgs: [hello-1.0, foo-tool-3.2]
            - exact: true

        same as web1:
          pkgsrc.installed:
            - lock: {{ salt['pillar.get']('pkgsrc:lock') | json }}
    """
    return _run(name, "present", pkgs, version, prefix, **kwargs)


def latest(name, pkgs=None, prefix=None, **kwargs):
    """
    The packages are installed at the newest version the repositories offer.
    """
    return _run(name, "latest", pkgs, None, prefix, **kwargs)


def removed(name, pkgs=None, prefix=None, **kwargs):
    """
    The packages are not installed. remove_dependants=True also removes packages that depend on them.
    """
    return _run(name, "absent", pkgs, None, prefix, **kwargs)


def bootstrapped(name, **kwargs):
    """
    pkgsrc is bootstrapped in the prefix (name is the state's ID; give prefix, url, from_source
    and the other options of pkgsrc.bootstrap as arguments).

    .. code-block:: yaml

        pkgsrc:
          pkgsrc.bootstrapped:
            - repositories:
              - https://pkgsrc.smartos.org/packages/SmartOS/trunk/x86_64/All
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    options = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    try:
        result = __salt__["pkgsrc.bootstrap"](test=test, **options)
    except CommandExecutionError as exc:
        ret["comment"] = str(exc)
        return ret
    if result["changed"]:
        ret["changes"] = {"actions": result["actions"]}
    ret["result"] = (None if result["changed"] else True) if test else True
    ret["comment"] = "\n".join(result["messages"]) or "pkgsrc is bootstrapped"
    return ret


def rolled_back(name, id=None, undo=False, prefix=None, **kwargs):  # pylint: disable=redefined-builtin
    """
    The prefix holds the package set it had before transaction ``id`` (or, with undo=True, before
    the newest transaction that changed packages and was not a rollback): applied again, it finds
    the prefix already back and changes nothing. See pkgsrc.rollback.

    .. code-block:: yaml

        back before the bad upgrade:
          pkgsrc.rolled_back:
            - id: 41
            - prefix: /opt/local
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    options = {k: v for k, v in kwargs.items() if k in HISTORY + ("lock_timeout",)}
    try:
        result = __salt__["pkgsrc.rollback"](id=id, undo=undo, prefix=prefix, test=test, **options)
    except CommandExecutionError as exc:
        ret["comment"] = str(exc)
        return ret
    lines = result["messages"]
    if result["changed"]:
        ret["changes"] = {"planned": lines} if test else {
            "transaction": result["transaction"], "rolled_back": result["rollback"]["target"],
            "diff": result["diff"], "saved": result["saved"]}
    ret["result"] = (None if result["changed"] else True) if test else True
    ret["comment"] = "\n".join(("would " + line) if test and result["changed"] else line for line in lines)
    return ret
