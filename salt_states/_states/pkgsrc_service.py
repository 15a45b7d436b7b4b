"""Salt states for services described once and registered with SMF, systemd, launchd or rc.d:
pkgsrc_service.running, pkgsrc_service.dead, pkgsrc_service.registered (and .absent).

.. code-block:: yaml

    webapp:
      pkgsrc_service.running:
        - command: [/opt/local/bin/webapp, --port, "8080"]
        - user: www
        - env:
            WEBAPP_ENV: production
"""
from __future__ import annotations

from salt.exceptions import CommandExecutionError

__virtualname__ = "pkgsrc_service"

# __salt__ and __opts__ are injected by the Salt loader.
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
