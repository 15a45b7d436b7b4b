"""Salt states for services described once and registered with SMF, systemd, launchd or rc.d:
pkgsrc_service.running, pkgsrc_service.dead, pkgsrc_service.registered (and .absent); and an
application's health: pkgsrc_service.checkpoint, then pkgsrc_service.healthy, which rolls this run's
changes back on the host when the check fails.

.. code-block:: yaml

    webapp:
      pkgsrc_service.running:
        - command: [/opt/local/bin/webapp, --port, "8080"]
        - user: www
        - env:
            WEBAPP_ENV: production
"""
from __future__ import annotations

import os
import stat
import tempfile

from salt.exceptions import CommandExecutionError

__virtualname__ = "pkgsrc_service"

# __salt__, __opts__ and __context__ are injected by the Salt loader.
# pylint: disable=undefined-variable


def __virtual__():
    if "pkgsrc_service.manage" not in __salt__:
        return (False, "the pkgsrc_service execution module is not available (sync _modules and _utils)")
    return __virtualname__


def _run(name, state, **kwargs):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    try:
        result = __salt__["pkgsrc_service.manage"](name, state=state, test=test, **kwargs)
    except CommandExecutionError as exc:
        ret["comment"] = str(exc)
        return ret
    if result["changed"]:
        ret["changes"] = {"actions": result["actions"]}
        if result["diff"]:
            ret["changes"]["diff"] = result["diff"]
    ret["result"] = (None if result["changed"] else True) if test else True
    lines = result["messages"] or ["service %s is as asked" % name]
    ret["comment"] = "\n".join(lines if not test or not result["changed"]
                               else ["would " + a for a in result["actions"]])
    return ret


def running(name, enabled=True, **kwargs):
    """The service is registered, enabled (unless enabled=False) and running."""
    return _run(name, "started", enabled=enabled, **kwargs)


def dead(name, enabled=None, **kwargs):
    """The service is registered and stopped (enabled=False also disables it at boot)."""
    return _run(name, "stopped", enabled=enabled, **kwargs)


def registered(name, **kwargs):
    """The service definition is installed and known to the init system; its state is left alone."""
    return _run(name, "registered", **kwargs)


def absent(name, **kwargs):
    """The service is stopped, unregistered and its definition removed."""
    return _run(name, "absent", **kwargs)


def mod_watch(name, sfun=None, reload=False, **kwargs):  # pylint: disable=redefined-builtin
    """
    Restart the service when a state it watches changed (Salt calls this for ``watch``; do not
    call it directly). Only pkgsrc_service.running restarts; with ``reload: true`` it reloads
    instead (the service needs a reload_command). A restart keeps the service's definition, so
    the other options are those of the watching state.

    .. code-block:: yaml

        webapp:
          pkgsrc_service.running:
            - command: [/opt/local/bin/webapp]
            - watch:
              - file: /opt/local/etc/webapp.conf
    """
    if sfun != "running":
        return {"name": name, "result": True, "changes": {},
                "comment": "pkgsrc_service.%s does not act on watch; nothing to restart" % sfun}
    return _run(name, "reloaded" if reload else "restarted", enabled=kwargs.pop("enabled", True), **kwargs)


# ----- health check with per-host rollback ------------------------------------------------------------
#
# An application's formula runs pkgsrc_service.checkpoint first and pkgsrc_service.healthy last. The
# checkpoint keeps, in memory for this state run only (__context__, shared by the states of one run),
# the prefix's newest transaction id and the configuration files as they are before the run writes
# them. When the check fails, healthy rolls back what came after the checkpoint, and only that: the
# package transactions of this run (pkgsrc.rollback to before the first of them), the configuration
# files (previous content, mode and owner; a file this run created is removed), then restarts the
# service and checks again. A run that changes nothing writes nothing.

_CHECKPOINTS = "pkgsrc_service.checkpoints"
_MAX_KEPT = 16 << 20  # config files, kept in memory for the run


def _snapshot(path):
    """A file as it is now: None when it does not exist, else content, mode and owner."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise CommandExecutionError("%s is not a regular file: a checkpoint keeps copies of files only" % path)
    if info.st_size > _MAX_KEPT:
        raise CommandExecutionError("%s is %d bytes: a checkpoint keeps copies of config files up to %d bytes"
                                    % (path, info.st_size, _MAX_KEPT))
    with open(path, "rb") as handle:
        content = handle.read()
    return {"content": content, "mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}


def _restore(path, kept):
    """Put path back as kept (None: remove it). Returns a line saying what was done, or None when it already is."""
    if kept is None:
        if not os.path.lexists(path):
            return None
        os.unlink(path)
        return "removed %s (this run created it)" % path
    if _snapshot(path) == kept:
        return None
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".pkgsrc-restore-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(kept["content"])
        os.chmod(tmp, kept["mode"])
        if hasattr(os, "chown"):
            os.chown(tmp, kept["uid"], kept["gid"])
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return "restored %s" % path


def _newest_transaction(prefix):
    """(prefix, deployed, its newest transaction id or None); not deployed when the prefix does not exist.
    Without a prefix, the first one found on the host."""
    if prefix is None:
        found = __salt__["pkgsrc.prefixes"]()
        if not found:
            return None, False, None
        prefix = found[0]["prefix"]
    elif not os.path.isdir(prefix):
        return prefix, False, None
    newest = __salt__["pkgsrc.history"](count=1, prefix=prefix)["transactions"]
    return prefix, True, (newest[0]["id"] if newest else None)


def checkpoint(name, prefix=None, files=None):
    """
    Remember what a failed health check of this state run rolls back to: the prefix's newest
    transaction and the files (an application's configuration files) as they are now. Nothing is
    written: the checkpoint lives in memory for this run, for ``pkgsrc_service.healthy`` (which finds it
    by ``name``). Put it before the states that change the application; the ``pkgsrc.app`` formula
    does so when an application has a ``health_check``.

    name
        The checkpoint's name (the formula uses the application's name).
    prefix
        The application's prefix (default: the first prefix found). A prefix that does not exist yet
        means a first deployment: there is no older version to go back to.
    files
        Paths whose current content, mode and owner are kept (a missing file is remembered as missing).

    .. code-block:: yaml

        webapp checkpoint:
          pkgsrc_service.checkpoint:
            - name: webapp
            - prefix: /opt/local
            - files: [/opt/local/etc/webapp.conf]
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    try:
        prefix, deployed, newest = _newest_transaction(prefix)
        kept = {str(path): _snapshot(str(path)) for path in files or []}
    except (CommandExecutionError, OSError) as exc:
        ret["comment"] = "no checkpoint, so no rollback is possible in this run: %s" % exc
        return ret
    __context__.setdefault(_CHECKPOINTS, {})[name] = {"prefix": prefix, "deployed": deployed,
                                                      "transaction": newest, "files": kept}
    where = prefix or "the first prefix"
    if not deployed:
        what = "%s is not deployed yet (a failed check cannot go back to an older version)" % where
    else:
        what = "%s at transaction %s" % (where, newest if newest is not None else "none (empty history)")
    ret["result"] = True
    ret["comment"] = "checkpoint %s: %s; %d file(s) kept" % (name, what, len(kept))
    return ret


def _check(options):
    """(healthy, message) of one health check; healthy is None when the check is asked for wrongly
    (pkgsrc_service.health raises in both cases, with the check's result as info only when unhealthy)."""
    try:
        return True, __salt__["pkgsrc_service.health"](**options)["msg"]
    except CommandExecutionError as exc:
        info = getattr(exc, "info", None)
        if isinstance(info, dict) and "healthy" in info:
            return False, info.get("msg") or str(exc)
        return None, str(exc)


def _roll_back_packages(point):
    """Roll the prefix back to before this run's first transaction: (lines, changes, problems). After a
    first deployment, the bootstrap of the new prefix stays (a rollback never removes pkgsrc itself)."""
    listing = __salt__["pkgsrc.history"](prefix=point["prefix"])["transactions"]
    mine = sorted(t["id"] for t in listing
                  if (point["transaction"] is None or t["id"] > point["transaction"])
                  and not (t.get("kind") == "bootstrap" and not t.get("before")))
    if not mine:
        return [], {}, []
    result = __salt__["pkgsrc.rollback"](id=mine[0], prefix=point["prefix"])
    if not result["changed"]:
        return [], {}, []
    steps = [m for m in result["messages"] if not m.startswith("rolled back to")]
    lines = ["packages back to before transaction %d (%s)" % (mine[0], ", ".join(steps))]
    return lines, {"transaction": result.get("transaction"), "before_transaction": mine[0],
                   "diff": result["diff"]}, []


def _roll_back(point, service):
    """Undo this run's changes after the checkpoint: (lines, changes, problems)."""
    lines, changes, problems = [], {}, []
    try:
        done, pkgs, trouble = _roll_back_packages(point)
        lines += done
        problems += trouble
        if pkgs:
            changes["packages"] = pkgs
    except CommandExecutionError as exc:
        problems.append("packages NOT rolled back: %s" % exc)
    restored = []
    for path, kept in sorted(point["files"].items()):
        try:
            line = _restore(path, kept)
        except OSError as exc:
            problems.append("%s NOT restored: %s" % (path, exc))
            continue
        if line:
            restored.append(path)
            lines.append(line)
    if restored:
        changes["files"] = restored
    if service and (lines or problems):
        # After a first deployment there is no older version to run: the service is stopped instead.
        state, done = ("restarted", "restarted") if point["deployed"] else ("stopped", "stopped")
        options = {k: v for k, v in service.items() if k not in ("name", "state")}
        try:
            __salt__["pkgsrc_service.manage"](service["name"], state=state, **options)
            lines.append("%s %s" % (done, service["name"]))
            changes["service"] = "%s %s" % (done, service["name"])
        except CommandExecutionError as exc:
            problems.append("service %s NOT %s: %s" % (service["name"], done, exc))
    return lines, changes, problems


def _steps(states):
    """What this run's deployment states (their IDs) did, from __running__: (changed, the first failure
    as "ID: comment" or None). (True, None) when the states are not named: check every time."""
    if states is None:
        return True, None
    wanted = set(states)
    done = [(tag.split("_|-")[1], result) for tag, result in sorted(
        globals().get("__running__", {}).items(), key=lambda item: item[1].get("__run_num__", 0))
        if tag.split("_|-")[1] in wanted]
    failed = ["%s: %s" % (sid, " ".join(str(r.get("comment", "")).split())) for sid, r in done
              if r.get("result") is False]
    return any(r.get("changes") for sid, r in done), (failed[0] if failed else None)


def healthy(name, url=None, command=None, status=200, body=None, rc=0, timeout=5, retries=10, delay=2,
            rollback_on_failure=True, checkpoint=None, service=None, states=None):  # pylint: disable=redefined-outer-name
    """
    The application answers its health check after this run changed it (the check of
    ``pkgsrc_service.health``: GET ``url`` answers ``status``, and its body holds ``body`` when given;
    or ``command``, an argv list, exits ``rc``; 1 + ``retries`` attempts, ``delay`` seconds apart,
    each bounded by ``timeout``).

    states
        The IDs of the states that deploy the application (the formula gives its packages, config
        files and service). When none of them changed anything in this run, nothing is checked (a
        converged host costs nothing more); when one of them failed, that is a failure like a failed
        check. Without ``states``, the check runs on every apply.

    When the check fails (or a deployment state did), and ``rollback_on_failure`` is true (the
    default), this run's changes are rolled back on this host: the package transactions made since
    the checkpoint named ``checkpoint`` (default: ``name``) with pkgsrc.rollback (after a first
    deployment: back to the bare bootstrap), the configuration files the checkpoint kept (a file the
    run created is removed), then the ``service`` (the options of pkgsrc_service.running, with
    ``name``) is restarted and the check runs again. The state fails either way; its comment says
    what failed, what was rolled back and whether the previous version is healthy again, and its
    changes hold ``rolled_back`` and ``healthy_again``. With test=True nothing is checked.

    .. code-block:: yaml

        webapp healthy:
          pkgsrc_service.healthy:
            - name: webapp
            - url: http://127.0.0.1:8080/health
            - body: ok
            - retries: 15
            - service: {name: webapp, command: [/opt/local/bin/webapp]}
            - states: [webapp packages, webapp config, webapp service]
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    options = {"url": url, "command": command, "status": status, "body": body, "rc": rc, "timeout": timeout,
               "retries": retries, "delay": delay}
    what = ("GET %s" % url) if url else "command %s" % (command,)
    changed, failed = _steps(states)
    if not changed and not failed:
        ret["result"] = True
        ret["comment"] = "this run changed nothing: %s not checked" % what
        return ret
    if __opts__.get("test"):
        ret["result"] = True
        ret["comment"] = "would check %s after this run's changes%s" % (
            what, ", and roll them back if it fails" if rollback_on_failure else "")
        return ret
    if failed:
        message = "the deployment failed (%s)" % failed
    else:
        ok, message = _check(options)
        if ok:
            ret["result"] = True
            ret["comment"] = message
            return ret
        if ok is None:
            ret["comment"] = "the health check cannot run, nothing rolled back: %s" % message
            return ret
    if not rollback_on_failure:
        ret["comment"] = "%s; nothing rolled back (rollback_on_failure is off)" % message
        return ret
    point = __context__.get(_CHECKPOINTS, {}).get(checkpoint or name)
    if point is None:
        ret["comment"] = ("%s; nothing rolled back: no pkgsrc_service.checkpoint named %s ran before in this run"
                          % (message, checkpoint or name))
        return ret
    lines, changes, problems = _roll_back(point, service)
    if not lines and not problems:
        ret["comment"] = "%s; this run changed nothing that can be rolled back" % message
        return ret
    if point["deployed"]:
        again, second = _check(options) if lines else (False, "not checked again")
        verdict = "The previous version is %s: %s" % ("healthy again" if again else "STILL UNHEALTHY", second)
    else:
        again, verdict = False, "This was the first deployment in %s: there is no previous version to run." % (
            point["prefix"] or "the prefix")
    ret["changes"] = {"rolled_back": changes, "healthy_again": bool(again)}
    comment = ["%s after this run's changes." % message,
               "Rolled back: %s." % "; ".join(lines) if lines else "Nothing was rolled back."]
    if problems:
        comment.append("Problems: %s." % "; ".join(problems))
    comment.append(verdict)
    ret["comment"] = "\n".join(comment)
    return ret
