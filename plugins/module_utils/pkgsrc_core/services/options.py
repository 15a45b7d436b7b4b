"""The one call the adapters make for services: options (as Ansible and Salt take them) -> result.

The Ansible module pkgsrc.deploy.service and the Salt function pkgsrc_service.manage take the
same options, validated here, so the two say the same thing and get the same result.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from ..errors import ServiceError
from ..platforms import detect_host, probe_host
from ..runner import Runner
from . import ensure, manager_for
from .base import ServiceResult
from .spec import ServiceSpec

# Adapter state word -> (present, core state)
STATE_WORDS = {
    "started": (True, "running"),
    "stopped": (True, "stopped"),
    "restarted": (True, "restarted"),
    "reloaded": (True, "reloaded"),
    "registered": (True, None),
    "absent": (False, None),
}

SPEC_OPTIONS = ("command", "description", "user", "group", "working_dir", "env", "stop_command",
                "reload_command", "network", "filesystems", "depends_on", "restart", "start_timeout",
                "stop_timeout", "forks", "pid_file", "log_file", "smf_fmri", "launchd_label")
NAMING_OPTIONS = ("smf_fmri", "launchd_label")  # the spec options that change a service's identity

INIT_SYSTEMS = ("auto", "smf", "systemd", "launchd", "rcd")


def detect_init(runner: Runner) -> str:
    """The host's init system: smf, systemd, launchd or rcd."""
    init = detect_host(probe_host(runner)).init
    if init == "unknown":
        raise ServiceError("cannot tell this host's init system (no SMF, systemd, launchd or rc.d found)",
                           "set init to smf, systemd, launchd or rcd")
    return init


def manage_service(options: Mapping[str, Any], runner: Runner, check: bool = False) -> Dict[str, Any]:
    """Register, enable and run (or remove) one service as the options say.

    options: name, state (started/stopped/restarted/reloaded/registered/absent), enabled
    (true/false/None), init (auto or a name), scope (system/user), source (spec, package, or a
    path to a definition file), prefix (for source=package), and the ServiceSpec fields.
    """
    name = options.get("name")
    if not isinstance(name, str) or not name:
        raise ServiceError("a service needs a name", "give name, e.g. webapp")
    state_word = options.get("state") or "started"
    if state_word not in STATE_WORDS:
        raise ServiceError("service state %r is not valid" % (state_word,),
                           "use one of: %s" % ", ".join(STATE_WORDS))
    present, state = STATE_WORDS[state_word]
    enabled: Optional[bool] = options.get("enabled")
    if enabled is None and state_word == "started":
        enabled = True
    if not present:
        enabled = None
    init = options.get("init") or "auto"
    if init not in INIT_SYSTEMS:
        raise ServiceError("init %r is not known" % (init,), "use one of: %s" % ", ".join(INIT_SYSTEMS))
    if init == "auto":
        init = detect_init(runner)
    scope = options.get("scope") or "system"
    manager_options: Dict[str, Any] = {}
    if init in ("systemd", "launchd"):
        manager_options["scope"] = scope
    elif scope != "system":
        raise ServiceError("scope %r is not available with %s" % (scope, init),
                           "user services exist with systemd and launchd only")
    manager = manager_for(init, runner, **manager_options)
    source = options.get("source") or "spec"
    if source == "spec":
        if present and not options.get("command"):
            raise ServiceError("service %s has no command" % name,
                               "give command (an argv list), or source: package to use the package's own file")
        if options.get("command"):
            fields = {k: options[k] for k in SPEC_OPTIONS if options.get(k) is not None}
            spec = ServiceSpec(name=name, scope=scope, **fields)
            request = manager.request(spec, present=present, enabled=enabled, state=state)
        else:
            # Removal needs only the service's identity (name, and any FMRI or Label given):
            # the placeholder command is never written anywhere.
            naming = {k: options[k] for k in NAMING_OPTIONS if options.get(k) is not None}
            request = manager.request(ServiceSpec(name=name, command=("/bin/true",), scope=scope, **naming),
                                      present=False)
    elif source == "package":
        prefix = options.get("prefix")
        if not prefix:
            raise ServiceError("source: package needs the prefix the package is installed in",
                               "give prefix, e.g. /opt/local")
        request = manager.request_from_package(os.path.expanduser(prefix), name, present=present,
                                               enabled=enabled, state=state)
    else:
        request = manager.request_from_file(name, os.path.expanduser(source), present=present,
                                            enabled=enabled, state=state)
    result: ServiceResult = ensure(manager, request, check=check)
    return {
        "changed": result.changed,
        "diff": result.diff,
        "messages": list(result.messages),
        "actions": result.plan.describe(),
        "init": init,
        "ident": request.ident,
        "path": result.plan.current.ref.path,
    }
