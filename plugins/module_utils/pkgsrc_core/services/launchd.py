"""launchd (macOS): render a property list from a ServiceSpec, and drive launchctl.

Mapping of the spec (the plist is written by plistlib, which escapes every string):
- Label org.pkgsrc.<name> (spec.launchd_label overrides); file <Label>.plist in
  /Library/LaunchDaemons (system) or ~/Library/LaunchAgents (user scope, domain gui/<uid>).
- command -> ProgramArguments (an argv array: no shell); RunAtLoad true.
- restart -> KeepAlive: 'always' true, 'on-failure' {SuccessfulExit: false}, 'no' false.
- user/group -> UserName/GroupName (system daemons only: refused in user scope).
- env -> EnvironmentVariables; working_dir -> WorkingDirectory;
  log_file -> StandardOutPath and StandardErrorPath; stop_timeout -> ExitTimeOut
  (0, 'no limit', is left to launchd's default: launchd documents 0 as not to be used).
Refused, because launchd cannot express them: forks=True (launchd needs the program in the
foreground), stop_command (launchd stops a job with SIGTERM) and reload_command (the manager
reloads with `launchctl kill SIGHUP`). Not rendered: network, filesystems, depends_on (launchd
has no ordering; a program must wait for what it needs), start_timeout, pid_file.
"""
from __future__ import annotations

import os
import plistlib
import re
from typing import Any, Dict, List, Optional
from xml.parsers.expat import ExpatError

from ..errors import ServiceError, ServiceSpecError
from ..runner import Runner
from .base import ServiceManager, ServiceRef, ServiceStatus, last_line
from .spec import ServiceSpec

SYSTEM_DIR = "/Library/LaunchDaemons"
USER_SUBDIR = "Library/LaunchAgents"
_NOT_LOADED = ("Could not find service", "Could not find specified service", "No such process")
_DISABLED_RE = re.compile(r'^\s*"([^"]+)"\s*=>\s*(\S+)\s*$')


def label(spec: ServiceSpec) -> str:
    """The job Label: org.pkgsrc.<name> unless the spec names one."""
    return spec.launchd_label or "org.pkgsrc.%s" % spec.name


def plist_dict(spec: ServiceSpec) -> Dict[str, Any]:
    """The property list of spec as a dict (what render() serializes)."""
    if spec.forks:
        raise ServiceSpecError("launchd cannot run %s with forks=true" % spec.name,
                               "launchd needs the program in the foreground: run it with its "
                               "foreground option (often -f or --foreground) and set forks: false")
    if spec.stop_command:
        raise ServiceSpecError("launchd cannot run a stop command for %s" % spec.name,
                               "launchd stops a job with SIGTERM; drop stop_command for macOS")
    if spec.reload_command:
        raise ServiceSpecError("launchd cannot run a reload command for %s" % spec.name,
                               "the manager reloads a job with SIGHUP; drop reload_command for macOS")
    if spec.scope == "user" and (spec.user or spec.group):
        raise ServiceSpecError("a LaunchAgent cannot set user or group (service %s)" % spec.name,
                               "agents run as the logged-in user; drop user/group or use the system scope")
    keep_alive: Any = {"always": True, "on-failure": {"SuccessfulExit": False}, "no": False}[spec.restart]
    data: Dict[str, Any] = {
        "Label": label(spec),
        "ProgramArguments": list(spec.command),
        "RunAtLoad": True,
        "KeepAlive": keep_alive,
    }
    if spec.user:
        data["UserName"] = spec.user
    if spec.group:
        data["GroupName"] = spec.group
    if spec.env:
        data["EnvironmentVariables"] = dict(spec.env)
    if spec.working_dir:
        data["WorkingDirectory"] = spec.working_dir
    if spec.log_file:
        data["StandardOutPath"] = spec.log_file
        data["StandardErrorPath"] = spec.log_file
    if spec.stop_timeout:
        data["ExitTimeOut"] = spec.stop_timeout
    return data


def render(spec: ServiceSpec) -> str:
    """The plist text (XML format) for spec."""
    return plistlib.dumps(plist_dict(spec), fmt=plistlib.FMT_XML, sort_keys=True).decode("utf-8")


def label_from_plist(text: str, source: str = "plist") -> str:
    """The Label of a plist, after checking it names a program."""
    try:
        data = plistlib.loads(text.encode("utf-8", "surrogateescape"))
    except (ValueError, TypeError, AttributeError, ExpatError) as exc:
        raise ServiceError("%s is not a valid property list: %s" % (source, exc),
                           "check it with plutil -lint") from None
    if not isinstance(data, dict) or not isinstance(data.get("Label"), str) or not data["Label"]:
        raise ServiceError("%s has no Label" % source, "a launchd job plist needs a Label string")
    if "Program" not in data and "ProgramArguments" not in data:
        raise ServiceError("%s names no Program or ProgramArguments" % source)
    return str(data["Label"])


def parse_print(text: str) -> Dict[str, str]:
    """The top-level `key = value` lines of `launchctl print <target>` (nested blocks skipped)."""
    values: Dict[str, str] = {}
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith("{"):
            depth += 1
            continue
        if stripped == "}":
            depth -= 1
            continue
        if depth == 1 and " = " in stripped:
            key, _unused, value = stripped.partition(" = ")
            values.setdefault(key.strip(), value.strip())
    return values


def parse_disabled(text: str) -> Dict[str, bool]:
    """`launchctl print-disabled <domain>`: label -> disabled ('disabled'/'true' vs 'enabled'/'false')."""
    result: Dict[str, bool] = {}
    for line in text.splitlines():
        match = _DISABLED_RE.match(line)
        if match:
            result[match.group(1)] = match.group(2) in ("disabled", "true")
    return result


class LaunchdManager(ServiceManager):
    """launchctl bootstrap/bootout/enable/disable/kickstart/print in the system or a gui/<uid> domain.

    registered = loaded (`launchctl print` succeeds); running = its state is running; enabled =
    no disabled override (`launchctl print-disabled`), since a plist in LaunchDaemons or
    LaunchAgents is loaded at boot unless disabled. Registering is bootout + bootstrap, which
    starts a RunAtLoad job; stopping is bootout (KeepAlive would undo a plain kill).
    """

    kind = "launchd"
    file_mode = 0o644

    def __init__(self, runner: Runner, launchctl: str = "/bin/launchctl", scope: str = "system",
                 uid: Optional[int] = None, plist_dir: Optional[str] = None, home: Optional[str] = None) -> None:
        super().__init__(runner)
        if scope not in ("system", "user"):
            raise ServiceError("launchd scope %r is not valid" % (scope,), "use 'system' or 'user'")
        self.launchctl = launchctl
        self.scope = scope
        if scope == "user":
            self.domain = "gui/%d" % (os.getuid() if uid is None else uid)
        else:
            self.domain = "system"
        if plist_dir is None:
            plist_dir = SYSTEM_DIR if scope == "system" else os.path.join(home or os.path.expanduser("~"),
                                                                          USER_SUBDIR)
        self.plist_dir = plist_dir.rstrip("/") or "/"

    def target(self, ident: str) -> str:
        """The service target: <domain>/<label>."""
        return "%s/%s" % (self.domain, ident)

    def render(self, spec: ServiceSpec) -> str:
        """The plist for spec (its scope must match the manager's)."""
        if spec.scope != self.scope:
            raise ServiceSpecError("service %s has scope %s but this launchd manager works in %s scope"
                                   % (spec.name, spec.scope, self.scope), "make the two scopes agree")
        return render(spec)

    def ident_for(self, spec: ServiceSpec) -> str:
        """The Label."""
        return label(spec)

    def ident_from_definition(self, name: str, text: str, source: str = "") -> str:
        """The Label of a package's own plist."""
        return label_from_plist(text, source or name)

    def path_for(self, name: str, ident: str) -> str:
        """<plist_dir>/<Label>.plist."""
        return "%s/%s.plist" % (self.plist_dir, ident)

    def shipped_candidates(self, prefix: str, name: str) -> List[str]:
        """Where a package may ship a launchd plist (pkgsrc has no fixed place: examples first)."""
        prefix = prefix.rstrip("/")
        return ["%s/share/examples/launchd/%s.plist" % (prefix, name),
                "%s/share/examples/launchd/org.pkgsrc.%s.plist" % (prefix, name),
                "%s/share/examples/%s/%s.plist" % (prefix, name, name)]

    def _not_loaded(self, rc: int, text: str) -> bool:
        return rc in (3, 113) or any(marker in text for marker in _NOT_LOADED)

    def status(self, ref: ServiceRef, need_enabled: bool = True) -> ServiceStatus:
        """Plist on disk, `launchctl print` for load and run state, print-disabled for the override."""
        text = self.read_definition(ref.path)
        result = self.runner.run([self.launchctl, "print", self.target(ref.ident)])
        loaded = result.rc == 0
        if not loaded and not self._not_loaded(result.rc, result.stderr + result.stdout):
            raise ServiceError("launchctl print %s failed (exit %d): %s"
                               % (self.target(ref.ident), result.rc, last_line(result.stderr or result.stdout)))
        info = parse_print(result.stdout) if loaded else {}
        running = info.get("state") == "running"
        enabled: Optional[bool] = None
        if need_enabled:
            listing = self.runner.run([self.launchctl, "print-disabled", self.domain])
            if listing.rc == 0:
                enabled = not parse_disabled(listing.stdout).get(ref.ident, False)
        return ServiceStatus(kind=self.kind, ref=ref, definition=text, loaded=loaded, enabled=enabled,
                             running=running, state=info.get("state", "not loaded"),
                             detail="pid %s" % info["pid"] if "pid" in info else "")

    def _run(self, args: List[str], what: str, hint: str = "") -> str:
        result = self.runner.run([self.launchctl] + args)
        if result.rc != 0:
            raise ServiceError("launchctl %s failed (exit %d): %s"
                               % (" ".join(args), result.rc, last_line(result.stderr or result.stdout)),
                               hint or "see `launchctl print %s`" % what)
        return ""

    def _bootout(self, ident: str) -> bool:
        result = self.runner.run([self.launchctl, "bootout", self.target(ident)])
        if result.rc == 0:
            return True
        if self._not_loaded(result.rc, result.stderr + result.stdout):
            return False
        raise ServiceError("launchctl bootout %s failed (exit %d): %s"
                           % (self.target(ident), result.rc, last_line(result.stderr or result.stdout)))

    def register(self, ref: ServiceRef) -> str:
        """bootout (if loaded) and bootstrap the plist; RunAtLoad starts it."""
        self._bootout(ref.ident)
        return self._run(["bootstrap", self.domain, ref.path], self.target(ref.ident),
                         "check the plist with `plutil -lint %s`; a disabled job cannot be loaded "
                         "(`launchctl enable %s`)" % (ref.path, self.target(ref.ident)))

    def unregister(self, ref: ServiceRef) -> str:
        """bootout (not loaded is fine)."""
        self._bootout(ref.ident)
        return ""

    def enable(self, ref: ServiceRef) -> str:
        """launchctl enable: clear the disabled override (loads at boot)."""
        return self._run(["enable", self.target(ref.ident)], self.target(ref.ident))

    def disable(self, ref: ServiceRef) -> str:
        """launchctl disable: persistent override, not loaded at boot."""
        return self._run(["disable", self.target(ref.ident)], self.target(ref.ident))

    def start(self, ref: ServiceRef) -> str:
        """launchctl kickstart (no-op when running)."""
        return self._run(["kickstart", self.target(ref.ident)], self.target(ref.ident))

    def stop(self, ref: ServiceRef) -> str:
        """bootout: the only stop that KeepAlive does not undo."""
        self._bootout(ref.ident)
        return ""

    def restart(self, ref: ServiceRef) -> str:
        """launchctl kickstart -k."""
        return self._run(["kickstart", "-k", self.target(ref.ident)], self.target(ref.ident))

    def reload(self, ref: ServiceRef) -> str:
        """launchctl kill SIGHUP."""
        return self._run(["kill", "SIGHUP", self.target(ref.ident)], self.target(ref.ident))
