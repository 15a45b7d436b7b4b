"""Shared repository and restarter of the SMF stand-ins (svccfg, svcadm, svcs). Test code only.

State lives in `<config["SMF_STATE"]>/repository.json` (the environment variable
PKGSRC_SIM_SMF_STATE overrides the directory), guarded by an flock on `repository.lock`, so
the three tools can run as separate processes like the real ones. Instance logs go to
`<config["SMF_LOG_DIR"]>` (default `<SMF_STATE>/log`), named as on illumos:
svc:/pkgsrc/foo:default -> pkgsrc-foo:default.log. Other config keys: SMF_DTD and XMLLINT
(svccfg's validation), SMF_TIMEOUT_CAP, SMF_CHILD_GRACE, SMF_TRANSITION_CALLS (below).

The model, and where it is simpler than illumos (deterministic on purpose):
- `svccfg import` turns a manifest into property groups (dependencies, exec methods with
  exec/timeout_seconds, a `method_context` group with working_directory, user, group and an
  environment list, startd/duration, the template's common name) on the service, and
  general/enabled plus restarter/state on each instance. Re-importing updates the
  properties; running instances keep running (as after a refresh).
- Methods really run, as svc.startd runs them: `/bin/sh -c "exec <exec>"` after %-token
  expansion (%% %r %m %s %i %f %{pg/prop}), in the method's working directory, with
  SMF_FMRI/SMF_METHOD/SMF_RESTARTER/SMF_ZONENAME plus the method environment, output
  appended to the instance log. Credentials are checked (an unknown user sends the instance
  to maintenance) but not switched: methods run as the invoking user.
- startd/duration=contract (default) or transient: the start method runs to completion
  (limited by timeout_seconds, capped by SMF_TIMEOUT_CAP seconds, default 30); exit 0 ->
  online, anything else -> maintenance at once (svc.startd would retry a few times first).
  The method runs in its own session; that process group stands in for the contract.
- startd/duration=child: the start command is spawned in its own session and watched for
  SMF_CHILD_GRACE seconds (default 0.5); still running -> online, exited -> maintenance.
- Stop: ':kill' signals the process group (SIGTERM, SIGKILL after the stop timeout); any
  other stop method runs, then leftovers are killed. Processes that setsid() themselves
  escape the group: the stand-in cannot follow them (a real contract would).
- Dependencies: require_all on a stored service needs it online/degraded; FMRIs under
  svc:/milestone/, svc:/system/ and svc:/network/ that are not stored count as online;
  anything else never does. Enabled instances start when their dependencies come online,
  and go offline when one goes away.
- Transitions happen synchronously inside svcadm. After `svcadm enable` without -s,
  `restart`, `refresh`, `clear` or `disable` without -s, the next SMF_TRANSITION_CALLS
  (default 1) svcs listings of that instance show the transitional state with a '*'
  (offline* -> online, online* -> online, online* -> disabled) before the settled one.
- A running process that dies later is not noticed: the instance stays online.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

RESTARTER = "svc:/system/svc/restarter:default"
BUILTIN_PREFIXES = ("svc:/milestone/", "svc:/system/", "svc:/network/")
RUNNING = ("online", "degraded")


class SmfFail(Exception):
    """A stand-in error: message for stderr and the exit code."""

    def __init__(self, message: str, rc: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.rc = rc


# ---------------------------------------------------------------- repository

def state_dir(config: Mapping[str, str]) -> str:
    path = os.environ.get("PKGSRC_SIM_SMF_STATE") or config.get("SMF_STATE", "")
    if not path:
        raise SmfFail("stand-in misconfigured: SMF_STATE is not set", 1)
    os.makedirs(path, exist_ok=True)
    return path


def log_dir(config: Mapping[str, str]) -> str:
    path = config.get("SMF_LOG_DIR") or os.path.join(state_dir(config), "log")
    os.makedirs(path, exist_ok=True)
    return path


def log_path(config: Mapping[str, str], fmri: str) -> str:
    body = fmri[len("svc:/"):] if fmri.startswith("svc:/") else fmri
    return os.path.join(log_dir(config), body.replace("/", "-") + ".log")


@contextlib.contextmanager
def repository(config: Mapping[str, str]) -> Iterator[Dict[str, Any]]:
    """The repository, loaded under an exclusive lock and saved (atomically) afterwards."""
    directory = state_dir(config)
    lock_fd = os.open(os.path.join(directory, "repository.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        path = os.path.join(directory, "repository.json")
        try:
            with open(path) as handle:
                repo = json.load(handle)
        except FileNotFoundError:
            repo = {"services": {}}
        yield repo
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(repo, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    finally:
        os.close(lock_fd)


def now() -> float:
    return time.time()


def stamp(when: Optional[float] = None) -> str:
    return time.strftime("%b %d %H:%M:%S", time.localtime(when or now()))


def log(config: Mapping[str, str], fmri: str, text: str) -> None:
    with open(log_path(config, fmri), "a") as handle:
        handle.write("[ %s %s ]\n" % (stamp(), text))


# ---------------------------------------------------------------- names

def split_fmri(text: str) -> Tuple[str, Optional[str]]:
    """('pkgsrc/foo', 'default') from svc:/pkgsrc/foo:default; instance None if absent."""
    body = text[len("svc:/"):] if text.startswith("svc:/") else text.lstrip("/")
    if ":" in body:
        svc, inst = body.rsplit(":", 1)
        return svc, inst
    return body, None


def inst_fmri(svc: str, inst: str) -> str:
    return "svc:/%s:%s" % (svc, inst)


def resolve(repo: Dict[str, Any], pattern: str) -> List[Tuple[str, str]]:
    """Instances a pattern names: full or abbreviated FMRI, or the service's last component."""
    svc_part, inst_part = split_fmri(pattern)
    found = []
    for svc in sorted(repo["services"]):
        if svc == svc_part or svc.endswith("/" + svc_part):
            for inst in sorted(repo["services"][svc]["instances"]):
                if inst_part is None or inst == inst_part:
                    found.append((svc, inst))
    return found


def resolve_service(repo: Dict[str, Any], pattern: str) -> Tuple[str, Optional[str]]:
    """(service, instance or None) for svccfg's -s / delete / export; raises when unknown."""
    svc_part, inst_part = split_fmri(pattern)
    for svc in sorted(repo["services"]):
        if svc == svc_part or svc.endswith("/" + svc_part):
            if inst_part is not None and inst_part not in repo["services"][svc]["instances"]:
                break
            return svc, inst_part
    raise SmfFail("Pattern '%s' doesn't match any instances or services" % pattern, 1)


# ---------------------------------------------------------------- manifests

def _bool(text: Optional[str]) -> bool:
    return text in ("true", "1")


def _context_props(node: ET.Element) -> Dict[str, List[Any]]:
    props: Dict[str, List[Any]] = {}
    wd = node.get("working_directory")
    if wd is not None:
        props["working_directory"] = ["astring", [wd]]
    cred = node.find("method_credential")
    if cred is not None:
        props["user"] = ["astring", [cred.get("user", "")]]
        if cred.get("group"):
            props["group"] = ["astring", [cred.get("group", "")]]
    env = node.find("method_environment")
    if env is not None:
        props["environment"] = ["astring", ["%s=%s" % (e.get("name", ""), e.get("value", ""))
                                            for e in env.findall("envvar")]]
    return props


def _values(prop: ET.Element) -> List[str]:
    values: List[str] = []
    for child in prop:
        values += [v.get("value", "") for v in child.findall("value_node")]
    return values


def _entity_pgs(node: ET.Element) -> Dict[str, Dict[str, Any]]:
    """Property groups of a service or instance element."""
    pgs: Dict[str, Dict[str, Any]] = {}
    for dep in node.findall("dependency"):
        pgs[dep.get("name", "")] = {"type": "dependency", "props": {
            "grouping": ["astring", [dep.get("grouping", "")]],
            "restart_on": ["astring", [dep.get("restart_on", "")]],
            "type": ["astring", [dep.get("type", "")]],
            "entities": ["fmri", [f.get("value", "") for f in dep.findall("service_fmri")]],
        }}
    context = node.find("method_context")
    if context is not None:
        pgs["method_context"] = {"type": "framework", "props": _context_props(context)}
    for meth in node.findall("exec_method"):
        props = {
            "exec": ["astring", [meth.get("exec", "")]],
            "timeout_seconds": ["count", [meth.get("timeout_seconds", "0")]],
            "type": ["astring", [meth.get("type", "method")]],
        }
        inner = meth.find("method_context")
        if inner is not None:
            props.update(_context_props(inner))
        pgs[meth.get("name", "")] = {"type": "method", "props": props}
    for group in node.findall("property_group"):
        props = {}
        for pv in group.findall("propval"):
            props[pv.get("name", "")] = [pv.get("type", "astring"), [pv.get("value", "")]]
        for prop in group.findall("property"):
            props[prop.get("name", "")] = [prop.get("type", "astring"), _values(prop)]
        pgs[group.get("name", "")] = {"type": group.get("type", "application"), "props": props}
    template = node.find("template")
    if template is not None:
        names = template.findall("common_name/loctext")
        if names:
            pgs["tm_common_name"] = {"type": "template", "props": {
                n.get("{http://www.w3.org/XML/1998/namespace}lang", "C"): ["ustring", [n.text or ""]]
                for n in names}}
    stability = node.find("stability")
    if stability is not None:
        pgs.setdefault("general", {"type": "framework", "props": {}})
        pgs["general"]["props"]["entity_stability"] = ["astring", [stability.get("value", "")]]
    return pgs


def parse_manifest(text: str) -> List[Dict[str, Any]]:
    """The services a manifest defines, in the repository's shape (instances without state)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SmfFail("couldn't parse document: %s" % exc, 1) from None
    if root.tag != "service_bundle":
        raise SmfFail("document is not a service bundle", 1)
    services = []
    for node in root.iter("service"):
        name = node.get("name", "")
        instances: Dict[str, Dict[str, Any]] = {}
        default = node.find("create_default_instance")
        if default is not None:
            instances["default"] = {"enabled": _bool(default.get("enabled")), "pgs": {}}
        for inst in node.findall("instance"):
            instances[inst.get("name", "")] = {"enabled": _bool(inst.get("enabled")), "pgs": _entity_pgs(inst)}
        services.append({"name": name, "pgs": _entity_pgs(node), "instances": instances})
    return services


def import_services(repo: Dict[str, Any], text: str, source: str, config: Mapping[str, str]) -> None:
    for parsed in parse_manifest(text):
        entry = repo["services"].setdefault(parsed["name"], {"instances": {}})
        entry["pgs"] = parsed["pgs"]
        entry["manifest"] = text
        entry["source"] = source
        for name, inst in parsed["instances"].items():
            current = entry["instances"].get(name)
            if current is None:
                entry["instances"][name] = {
                    "enabled": inst["enabled"], "temp": None, "state": "uninitialized", "next": "-",
                    "pid": None, "since": now(), "reason": "", "display": [], "pgs": inst["pgs"]}
                log(config, inst_fmri(parsed["name"], name), "Imported from %s." % source)
            else:
                current["pgs"] = inst["pgs"]
                log(config, inst_fmri(parsed["name"], name), "Rereading configuration.")
    for svc, entry in repo["services"].items():
        for inst_name, inst in entry["instances"].items():
            if inst["state"] == "uninitialized":
                set_state(inst, "disabled" if not effective_enabled(inst) else "offline")
                if inst["state"] == "offline":
                    log(config, inst_fmri(svc, inst_name), "Enabled.")
    settle(repo, config)


# ---------------------------------------------------------------- properties

def effective_pgs(repo: Dict[str, Any], svc: str, inst: Optional[str]) -> Dict[str, Dict[str, Any]]:
    entry = repo["services"][svc]
    pgs = json.loads(json.dumps(entry.get("pgs", {})))
    if inst is not None:
        for name, pg in entry["instances"][inst].get("pgs", {}).items():
            merged = pgs.setdefault(name, {"type": pg["type"], "props": {}})
            merged["props"].update(pg["props"])
        state = entry["instances"][inst]
        pgs.setdefault("general", {"type": "framework", "props": {}})
        pgs["general"]["props"]["enabled"] = ["boolean", ["true" if state["enabled"] else "false"]]
        if state.get("temp") is not None:
            pgs["general_ovr"] = {"type": "framework", "props": {
                "enabled": ["boolean", ["true" if state["temp"] else "false"]]}}
        pgs["restarter"] = {"type": "framework", "props": {
            "state": ["astring", [state["state"]]],
            "next_state": ["astring", ["none" if state["next"] == "-" else state["next"]]],
            "logfile": ["astring", [state.get("logfile", "")]],
        }}
    return pgs


def prop_value(pgs: Dict[str, Dict[str, Any]], name: str, default: str = "") -> str:
    pg, _unused, prop = name.partition("/")
    try:
        values = pgs[pg]["props"][prop][1]
    except KeyError:
        return default
    return values[0] if values else default


def effective_enabled(inst: Dict[str, Any]) -> bool:
    return bool(inst["temp"]) if inst.get("temp") is not None else bool(inst["enabled"])


def set_state(inst: Dict[str, Any], state: str, reason: str = "") -> None:
    if inst["state"] != state:
        inst["since"] = now()
    inst["state"] = state
    inst["next"] = "-"
    inst["reason"] = reason


# ---------------------------------------------------------------- processes

def group_alive(pgid: int) -> bool:
    """True when a non-zombie process of the group exists."""
    if os.path.isdir("/proc"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    data = handle.read()
            except OSError:
                continue
            fields = data[data.rfind(")") + 2:].split()
            if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_group(pgid: Optional[int], grace: float) -> None:
    if not pgid:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = now() + grace
    while now() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.02)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def expand_tokens(text: str, pgs: Dict[str, Dict[str, Any]], svc: str, inst: str, method: str) -> str:
    def repl(match: "re.Match[str]") -> str:
        token = match.group(0)
        if token == "%%":
            return "%"
        if token.startswith("%{"):
            return prop_value(pgs, token[2:-1])
        return {"%r": "svc.startd", "%m": method, "%s": svc, "%i": inst,
                "%f": inst_fmri(svc, inst)}.get(token, token)
    return re.sub(r"%%|%\{[^}]*\}|%[rmsif]", repl, text)


def method_context(pgs: Dict[str, Dict[str, Any]], method: str) -> Dict[str, Any]:
    props = dict(pgs.get("method_context", {}).get("props", {}))
    props.update({k: v for k, v in pgs.get(method, {}).get("props", {}).items()
                  if k in ("working_directory", "user", "group", "environment")})
    return {k: v[1] for k, v in props.items()}


def _timeout(config: Mapping[str, str], pgs: Dict[str, Dict[str, Any]], method: str) -> float:
    cap = float(config.get("SMF_TIMEOUT_CAP", "30"))
    try:
        value = float(prop_value(pgs, method + "/timeout_seconds", "0"))
    except ValueError:
        value = 0.0
    return cap if value <= 0 else min(value, cap)


def _prepare(config: Mapping[str, str], repo: Dict[str, Any], svc: str, inst: str, method: str,
             fmri: str) -> Tuple[Optional[str], Dict[str, str], Optional[str], str]:
    """(exec string or None, environment, cwd, failure) for a method."""
    pgs = effective_pgs(repo, svc, inst)
    if method not in pgs:
        return None, {}, None, ""
    raw = prop_value(pgs, method + "/exec")
    exec_str = expand_tokens(raw, pgs, svc, inst, method)
    ctx = method_context(pgs, method)
    user = (ctx.get("user") or [""])[0]
    if user and not user.isdigit() and user != ":default":
        try:
            pwd.getpwnam(user)
        except KeyError:
            return exec_str, {}, None, "Missing passwd entry for user."
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SMF_FMRI": fmri, "SMF_METHOD": method,
           "SMF_RESTARTER": RESTARTER, "SMF_ZONENAME": "global", "LC_ALL": "C"}
    for item in ctx.get("environment", []):
        key, _unused, value = item.partition("=")
        env[key] = value
    cwd = (ctx.get("working_directory") or [None])[0]
    if cwd == ":default":
        cwd = os.path.expanduser("~")
    if cwd is not None and not os.path.isdir(cwd):
        return exec_str, env, cwd, "svc.startd could not set context for method: chdir: No such file or directory"
    return exec_str, env, cwd, ""


def _spawn(exec_str: str, env: Dict[str, str], cwd: Optional[str], logfile: str) -> subprocess.Popen:
    with open(logfile, "a") as out:
        return subprocess.Popen(["/bin/sh", "-c", "exec " + exec_str], env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)


def start_instance(repo: Dict[str, Any], svc: str, inst_name: str, config: Mapping[str, str]) -> None:
    """Run the start method; the instance ends online or in maintenance."""
    fmri = inst_fmri(svc, inst_name)
    inst = repo["services"][svc]["instances"][inst_name]
    inst["logfile"] = log_path(config, fmri)
    pgs = effective_pgs(repo, svc, inst_name)
    exec_str, env, cwd, failure = _prepare(config, repo, svc, inst_name, "start", fmri)
    if exec_str is None:
        log(config, fmri, 'Method property group "start" is not present.')
        set_state(inst, "online")
        return
    log(config, fmri, 'Executing start method ("%s").' % prop_value(pgs, "start/exec"))
    if failure:
        log(config, fmri, failure)
        log(config, fmri, 'Method "start" exited with status 96.')
        set_state(inst, "maintenance", "Start method exited with $SMF_EXIT_ERR_CONFIG.")
        return
    if exec_str.strip() == ":true":
        set_state(inst, "online")
        return
    duration = prop_value(pgs, "startd/duration", "contract")
    proc = _spawn(exec_str, env, cwd, inst["logfile"])
    if duration in ("child", "wait"):
        deadline = now() + float(config.get("SMF_CHILD_GRACE", "0.5"))
        while now() < deadline and proc.poll() is None:
            time.sleep(0.02)
        code = proc.poll()
        if code is not None:
            log(config, fmri, "Stopping because process exited with status %d." % code)
            log(config, fmri, "Restarting too quickly, changing state to maintenance.")
            set_state(inst, "maintenance", "Restarting too quickly.")
            return
        inst["pid"] = proc.pid
        set_state(inst, "online")
        return
    try:
        code = proc.wait(timeout=_timeout(config, pgs, "start"))
    except subprocess.TimeoutExpired:
        kill_group(proc.pid, 1.0)
        proc.wait()
        log(config, fmri, "Method or service exit timed out.  Killing contract.")
        set_state(inst, "maintenance", "Start method timed out.")
        return
    log(config, fmri, 'Method "start" exited with status %d.' % code)
    if code != 0:
        kill_group(proc.pid, 1.0)
        set_state(inst, "maintenance", "Start method failed repeatedly, last exited with status %d." % code)
        return
    inst["pid"] = proc.pid if duration != "transient" else None
    set_state(inst, "online")


def stop_instance(repo: Dict[str, Any], svc: str, inst_name: str, config: Mapping[str, str], to: str) -> None:
    """Run the stop method and end in state `to` (disabled or offline)."""
    fmri = inst_fmri(svc, inst_name)
    inst = repo["services"][svc]["instances"][inst_name]
    if inst["state"] in RUNNING:
        pgs = effective_pgs(repo, svc, inst_name)
        exec_str, env, cwd, failure = _prepare(config, repo, svc, inst_name, "stop", fmri)
        grace = _timeout(config, pgs, "stop")
        if exec_str is None or failure:
            kill_group(inst.get("pid"), grace)
        elif exec_str.strip().startswith(":kill"):
            log(config, fmri, "Executing stop method (:kill).")
            kill_group(inst.get("pid"), grace)
        else:
            log(config, fmri, 'Executing stop method ("%s").' % prop_value(pgs, "stop/exec"))
            proc = _spawn(exec_str, env, cwd, log_path(config, fmri))
            try:
                code = proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                kill_group(proc.pid, 0.5)
                code = proc.wait()
            log(config, fmri, 'Method "stop" exited with status %d.' % code)
            kill_group(inst.get("pid"), grace)
    inst["pid"] = None
    set_state(inst, to)
    log(config, fmri, "Disabled." if to == "disabled" else "Stopping for dependency.")


def refresh_instance(repo: Dict[str, Any], svc: str, inst_name: str, config: Mapping[str, str]) -> None:
    """Run the refresh method of an online instance (failure -> maintenance)."""
    fmri = inst_fmri(svc, inst_name)
    inst = repo["services"][svc]["instances"][inst_name]
    log(config, fmri, "Rereading configuration.")
    if inst["state"] not in RUNNING:
        return
    pgs = effective_pgs(repo, svc, inst_name)
    exec_str, env, cwd, failure = _prepare(config, repo, svc, inst_name, "refresh", fmri)
    if exec_str is None:
        log(config, fmri, "No 'refresh' method defined.  Treating as :true.")
        return
    log(config, fmri, 'Executing refresh method ("%s").' % prop_value(pgs, "refresh/exec"))
    code = 96
    if not failure:
        proc = _spawn(exec_str, env, cwd, log_path(config, fmri))
        try:
            code = proc.wait(timeout=_timeout(config, pgs, "refresh"))
        except subprocess.TimeoutExpired:
            kill_group(proc.pid, 0.5)
            code = proc.wait()
    log(config, fmri, 'Method "refresh" exited with status %d.' % code)
    if code != 0:
        kill_group(inst.get("pid"), 1.0)
        inst["pid"] = None
        set_state(inst, "maintenance", "Refresh method exited with status %d." % code)


# ---------------------------------------------------------------- dependencies

def dependencies(repo: Dict[str, Any], svc: str, inst: str) -> List[Tuple[str, str, List[str]]]:
    pgs = effective_pgs(repo, svc, inst)
    deps = []
    for name, pg in sorted(pgs.items()):
        if pg["type"] == "dependency":
            grouping = prop_value(pgs, name + "/grouping", "require_all")
            deps.append((name, grouping, list(pg["props"].get("entities", ["fmri", []])[1])))
    return deps


def fmri_online(repo: Dict[str, Any], fmri: str) -> bool:
    matches = resolve(repo, fmri) if fmri.startswith("svc:/") else []
    stored = split_fmri(fmri)[0] in repo["services"]
    if not stored:
        return fmri.startswith(BUILTIN_PREFIXES)
    return any(repo["services"][s]["instances"][i]["state"] in RUNNING for s, i in matches)


def unsatisfied(repo: Dict[str, Any], svc: str, inst: str) -> List[str]:
    missing = []
    for name, grouping, fmris in dependencies(repo, svc, inst):
        states = [fmri_online(repo, f) for f in fmris]
        if grouping == "require_all" and not all(states):
            missing.append(name)
        elif grouping == "require_any" and fmris and not any(states):
            missing.append(name)
        elif grouping == "exclude_all" and any(states):
            missing.append(name)
    return missing


def settle(repo: Dict[str, Any], config: Mapping[str, str]) -> None:
    """Start what is enabled and ready, stop what is disabled or lost a dependency; repeat until stable."""
    for _unused in range(50):
        changed = False
        for svc in sorted(repo["services"]):
            for name, inst in sorted(repo["services"][svc]["instances"].items()):
                state = inst["state"]
                if state == "maintenance":
                    continue
                wanted = effective_enabled(inst)
                if not wanted and state != "disabled":
                    stop_instance(repo, svc, name, config, "disabled")
                    changed = True
                elif wanted and state in ("offline", "disabled", "uninitialized"):
                    if state == "disabled":
                        set_state(inst, "offline")
                        changed = True
                    if not unsatisfied(repo, svc, name):
                        start_instance(repo, svc, name, config)
                        changed = True
                elif wanted and state in RUNNING and unsatisfied(repo, svc, name):
                    stop_instance(repo, svc, name, config, "offline")
                    changed = True
        if not changed:
            return


def show(inst: Dict[str, Any], state: str, nstate: str, config: Mapping[str, str]) -> None:
    """Make the next svcs listings show a transition (state*, nstate)."""
    calls = int(config.get("SMF_TRANSITION_CALLS", "1"))
    inst["display"] = [[state + "*", nstate]] * calls


def kill_all(state_directory: str) -> None:
    """Test teardown: kill every process group the repository still records."""
    path = os.path.join(state_directory, "repository.json")
    try:
        with open(path) as handle:
            repo = json.load(handle)
    except (OSError, ValueError):
        return
    for entry in repo.get("services", {}).values():
        for inst in entry.get("instances", {}).values():
            kill_group(inst.get("pid"), 1.0)
