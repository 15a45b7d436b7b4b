"""Services, plan then apply: the data types, the pure planner and the manager interface.

    request = manager.request(spec, enabled=True, state="running")   # renders the native file
    result = ensure(manager, request, check=False)                   # status -> plan -> apply

`plan_service(desired, current)` is pure: it compares the file text to install with the file
on disk and the init system's state, and returns the actions in the order the init system
needs them. `apply(plan, manager)` performs them; check mode stops after the plan. The plan
carries the before/after text of the definition file, which is the diff.

Per init system, the planner knows four things (TRAITS): whether a definition must be
registered after writing it (not for rc.d), whether registering also starts it (launchd
bootstrap of a RunAtLoad job), whether enabling also starts it (SMF), and whether stopping
also unloads it (launchd bootout).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import ServiceError
from ..fsutil import atomic_write, read_text
from ..runner import Runner
from .spec import ServiceSpec, check_name, check_text

STATES = ("running", "stopped", "restarted", "reloaded")
VERBS = ("write", "remove", "register", "unregister", "enable", "disable",
         "start", "stop", "restart", "reload")


@dataclass(frozen=True)
class ServiceRef:
    """Which service: its file base name, its native identifier, and where its file lives.

    ident is the FMRI (SMF), unit name (systemd), Label (launchd) or rc.conf variable (rc.d).
    """

    name: str
    ident: str
    path: str


@dataclass(frozen=True)
class ServiceRequest:
    """The desired state of one service.

    definition: the native file text to install (rendered from a spec, or a package's own
    file); None leaves the file alone and only acts on the state. enabled: start at boot
    (None: leave as is). state: 'running', 'stopped', 'restarted', 'reloaded' or None.
    present=False removes the service (stopped, disabled, unregistered, file deleted).
    """

    name: str
    ident: str
    definition: Optional[str] = None
    source: str = ""
    present: bool = True
    enabled: Optional[bool] = None
    state: Optional[str] = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_text(self.ident, "service identifier", allow_empty=False)
        if self.state is not None and self.state not in STATES:
            raise ServiceError("service state %r is not valid" % (self.state,),
                               "use one of: %s" % ", ".join(STATES))
        if self.enabled is not None and not isinstance(self.enabled, bool):
            raise ServiceError("enabled must be true, false or unset, not %r" % (self.enabled,))
        if self.definition is not None and not isinstance(self.definition, str):
            raise ServiceError("a service definition must be text")


@dataclass(frozen=True)
class ServiceStatus:
    """What the host has now. definition is the file text on disk (None when absent).

    loaded: the init system knows the service; stale: the file changed since it was loaded
    (systemd NeedDaemonReload); enabled None means not asked; state is the native word
    (SMF 'online', systemd 'active', ...); detail holds e.g. the SMF log path.
    """

    kind: str
    ref: ServiceRef
    definition: Optional[str]
    loaded: bool
    enabled: Optional[bool]
    running: bool
    state: str = ""
    stale: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Action:
    """One step: a verb from VERBS and what it acts on."""

    verb: str
    target: str

    def __str__(self) -> str:
        return "%s %s" % (self.verb, self.target)


@dataclass(frozen=True)
class ServicePlan:
    """The ordered actions that take `current` to `request`; empty when nothing changes."""

    request: ServiceRequest
    current: ServiceStatus
    actions: Tuple[Action, ...]

    @property
    def changed(self) -> bool:
        """True when applying would do anything."""
        return bool(self.actions)

    @property
    def verbs(self) -> Tuple[str, ...]:
        """The verbs in order, e.g. ('write', 'register', 'enable')."""
        return tuple(a.verb for a in self.actions)

    @property
    def diff(self) -> Dict[str, str]:
        """Ansible-style before/after of the definition file; {} when the file is untouched."""
        verbs = self.verbs
        if "write" not in verbs and "remove" not in verbs:
            return {}
        path = self.current.ref.path
        after = "" if "remove" in verbs else (self.request.definition or "")
        return {"before": self.current.definition or "", "after": after,
                "before_header": path, "after_header": path}

    def describe(self) -> List[str]:
        """One line per action."""
        return [str(a) for a in self.actions]


@dataclass(frozen=True)
class ServiceResult:
    """What apply did: changed, the file diff, and one message per action (plus notes)."""

    changed: bool
    diff: Dict[str, str]
    messages: Tuple[str, ...]
    plan: ServicePlan


@dataclass(frozen=True)
class Traits:
    """How an init system couples registering, enabling and running (see the module docstring)."""

    needs_register: bool = True
    register_starts: bool = False
    enable_starts: bool = False
    stop_unloads: bool = False


TRAITS = {
    "smf": Traits(enable_starts=True),
    "systemd": Traits(),
    "launchd": Traits(register_starts=True, stop_unloads=True),
    "rcd": Traits(needs_register=False),
}


def _plan_absent(cur: ServiceStatus, traits: Traits) -> List[Action]:
    ref = cur.ref
    acts: List[Action] = []
    if traits.stop_unloads:
        if cur.loaded:
            acts.append(Action("unregister", ref.ident))
        if cur.definition is not None:
            acts.append(Action("remove", ref.path))
        return acts
    if cur.running:
        acts.append(Action("stop", ref.ident))
    if cur.enabled:
        acts.append(Action("disable", ref.ident))
    if cur.definition is not None:
        acts.append(Action("remove", ref.path))
    if cur.loaded and traits.needs_register:
        acts.append(Action("unregister", ref.ident))
    return acts


def plan_service(desired: ServiceRequest, current: ServiceStatus) -> ServicePlan:
    """Pure: the actions, in order, that make `current` what `desired` asks for."""
    traits = TRAITS.get(current.kind, Traits())
    ref = current.ref
    if not desired.present:
        return ServicePlan(desired, current, tuple(_plan_absent(current, traits)))
    if desired.definition is None and current.definition is None and not current.loaded:
        raise ServiceError("service %s is not defined on this host" % desired.name,
                           "give a service spec, or the package that ships its definition")
    changed = desired.definition is not None and desired.definition != current.definition
    state = desired.state

    en_act: Optional[Action] = None
    if desired.enabled is True and current.enabled is not True:
        en_act = Action("enable", ref.ident)
    elif desired.enabled is False and current.enabled is not False:
        en_act = Action("disable", ref.ident)
    # SMF: disabling also stops it, so it is no longer running for what follows.
    running = current.running and not (traits.enable_starts and en_act is not None and en_act.verb == "disable")

    if state in ("running", "restarted", "reloaded"):
        will_run = True
    elif state == "stopped":
        will_run = False
    else:
        will_run = running or (traits.enable_starts and en_act is not None and en_act.verb == "enable")

    register = False
    unload = False
    if traits.needs_register:
        needs = changed or current.stale or not current.loaded
        if traits.register_starts:
            register = will_run and needs
            unload = changed and current.loaded and not will_run
        else:
            register = needs
    fresh = (traits.register_starts and register) or (
        traits.enable_starts and en_act is not None and en_act.verb == "enable" and not running)

    run_act: Optional[str] = None
    if state == "running":
        if not fresh:
            run_act = "restart" if (running and changed) else (None if running else "start")
    elif state == "stopped":
        if running or fresh:
            run_act = "stop"
    elif state == "restarted":
        if not fresh:
            run_act = "restart" if running else "start"
    elif state == "reloaded":
        if not fresh:
            if not running:
                run_act = "start"
            else:
                run_act = "restart" if changed else "reload"
    elif changed and running and not fresh:
        run_act = "restart"

    acts: List[Action] = []
    if changed:
        acts.append(Action("write", ref.path))
    if traits.register_starts:
        # launchd: enable before bootstrap (a disabled job cannot be loaded), disable after.
        if en_act is not None and en_act.verb == "enable":
            acts.append(en_act)
        if unload:
            acts.append(Action("unregister", ref.ident))
        if register:
            acts.append(Action("register", ref.ident))
        if en_act is not None and en_act.verb == "disable":
            acts.append(en_act)
    else:
        if register:
            acts.append(Action("register", ref.ident))
        if en_act is not None:
            acts.append(en_act)
    if run_act is not None:
        acts.append(Action(run_act, ref.ident))
    return ServicePlan(desired, current, tuple(acts))


def apply(plan: ServicePlan, manager: "ServiceManager") -> ServiceResult:
    """Perform the plan's actions through the manager; stops at the first failure (raised)."""
    ref = plan.current.ref
    messages: List[str] = []
    for act in plan.actions:
        if act.verb == "write":
            manager.write_definition(ref.path, plan.request.definition or "")
            note = ""
        elif act.verb == "remove":
            manager.remove_definition(ref.path)
            note = ""
        else:
            note = getattr(manager, act.verb)(ref)
        messages.append(str(act))
        if note:
            messages.append(note)
    return ServiceResult(changed=plan.changed, diff=plan.diff, messages=tuple(messages), plan=plan)


def ensure(manager: "ServiceManager", request: ServiceRequest, check: bool = False) -> ServiceResult:
    """Status, plan and (unless check) apply: the one call an Ansible module or Salt state makes."""
    ref = manager.ref(request.name, request.ident)
    current = manager.status(ref, need_enabled=request.enabled is not None or not request.present)
    plan = plan_service(request, current)
    if check:
        return ServiceResult(changed=plan.changed, diff=plan.diff, messages=tuple(plan.describe()), plan=plan)
    return apply(plan, manager)


def last_line(text: str) -> str:
    """The last non-blank line of a program's output (for error messages)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class ServiceManager:
    """One init system: native file names, status, and the actions apply() calls.

    Subclasses set `kind` and `file_mode` and implement the methods that raise
    NotImplementedError here. Action methods take a ServiceRef and return a note ('' if none).
    """

    kind = ""
    file_mode = 0o644

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    # naming and files
    def render(self, spec: ServiceSpec) -> str:
        """The native definition text for spec."""
        raise NotImplementedError

    def ident_for(self, spec: ServiceSpec) -> str:
        """The native identifier of spec's service."""
        raise NotImplementedError

    def ident_from_definition(self, name: str, text: str, source: str = "") -> str:
        """The native identifier a package-shipped definition declares."""
        raise NotImplementedError

    def path_for(self, name: str, ident: str) -> str:
        """Where the definition file of the service lives."""
        raise NotImplementedError

    def shipped_candidates(self, prefix: str, name: str) -> List[str]:
        """Paths under a pkgsrc prefix where a package may ship its own definition."""
        raise NotImplementedError

    def ref(self, name: str, ident: str) -> ServiceRef:
        """A ServiceRef with the manager's path for the definition file."""
        return ServiceRef(name=name, ident=ident, path=self.path_for(name, ident))

    def read_definition(self, path: str) -> Optional[str]:
        """The file's text, or None when it does not exist."""
        try:
            return read_text(path)
        except PermissionError:
            raise ServiceError("cannot read %s: permission denied" % path,
                               "run as a user that may read the init system's files") from None
        except IsADirectoryError:
            raise ServiceError("%s is a directory, not a service definition" % path) from None

    def write_definition(self, path: str, text: str, mode: Optional[int] = None) -> None:
        """Replace the file atomically, with the manager's mode (or the one given)."""
        try:
            atomic_write(path, text, mode=self.file_mode if mode is None else mode)
        except PermissionError:
            raise ServiceError("cannot write %s: permission denied" % path,
                               "run with privileges (become: true), or use the user scope") from None
        except OSError as exc:
            raise ServiceError("cannot write %s: %s" % (path, exc.strerror or exc)) from None

    def remove_definition(self, path: str) -> None:
        """Delete the definition file (absent is fine)."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except PermissionError:
            raise ServiceError("cannot remove %s: permission denied" % path,
                               "run with privileges (become: true)") from None

    # requests
    def request(self, spec: ServiceSpec, present: bool = True, enabled: Optional[bool] = None,
                state: Optional[str] = None) -> ServiceRequest:
        """A request whose definition is rendered from spec."""
        return ServiceRequest(name=spec.name, ident=self.ident_for(spec), definition=self.render(spec),
                              source="rendered", present=present, enabled=enabled, state=state)

    def request_from_file(self, name: str, path: str, present: bool = True, enabled: Optional[bool] = None,
                          state: Optional[str] = None) -> ServiceRequest:
        """A request that installs an existing definition file (e.g. one a package ships) as is."""
        text = self.read_definition(path)
        if text is None:
            raise ServiceError("service definition %s does not exist" % path,
                               "install the package that ships it, or give a service spec instead")
        return ServiceRequest(name=name, ident=self.ident_from_definition(name, text, path), definition=text,
                              source=path, present=present, enabled=enabled, state=state)

    def shipped(self, prefix: str, name: str) -> Optional[str]:
        """The first existing package-shipped definition of name under prefix, or None."""
        for cand in self.shipped_candidates(prefix, name):
            if os.path.isfile(cand):
                return cand
        return None

    def request_from_package(self, prefix: str, name: str, present: bool = True, enabled: Optional[bool] = None,
                             state: Optional[str] = None) -> ServiceRequest:
        """A request that installs the definition a package shipped under prefix."""
        check_name(name)
        path = self.shipped(prefix, name)
        if path is None:
            raise ServiceError("no %s definition of %s under %s" % (self.kind, name, prefix),
                               "looked in: %s; give a service spec instead"
                               % ", ".join(self.shipped_candidates(prefix, name)))
        return self.request_from_file(name, path, present=present, enabled=enabled, state=state)

    # state and actions
    def status(self, ref: ServiceRef, need_enabled: bool = True) -> ServiceStatus:
        """The current state; need_enabled=False may skip the query for the boot-time setting."""
        raise NotImplementedError

    def register(self, ref: ServiceRef) -> str:
        """Make the init system (re)load the definition file."""
        raise NotImplementedError

    def unregister(self, ref: ServiceRef) -> str:
        """Make the init system forget the service."""
        raise NotImplementedError

    def enable(self, ref: ServiceRef) -> str:
        """Start at boot."""
        raise NotImplementedError

    def disable(self, ref: ServiceRef) -> str:
        """Do not start at boot."""
        raise NotImplementedError

    def start(self, ref: ServiceRef) -> str:
        """Start now."""
        raise NotImplementedError

    def stop(self, ref: ServiceRef) -> str:
        """Stop now."""
        raise NotImplementedError

    def restart(self, ref: ServiceRef) -> str:
        """Stop and start now."""
        raise NotImplementedError

    def reload(self, ref: ServiceRef) -> str:
        """Make the program re-read its configuration."""
        raise NotImplementedError
