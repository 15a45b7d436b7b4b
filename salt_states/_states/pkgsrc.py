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

OPTIONS = ("update_cache", "upgrade", "autoremove", "clean", "remove_dependants", "lock_timeout")


def __virtual__():
    if "pkgsrc.manage" not in __salt__:
        return (False, "the pkgsrc execution module is not available (sync _modules and _utils)")
    return __virtualname__


def _run(name, state, pkgs=None, version=None, prefix=None, **kwargs):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    targets = [] if pkgs else [name]
    options = {k: v for k, v in kwargs.items() if k in OPTIONS}
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
    ret["changes"] = result["changes"]
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
