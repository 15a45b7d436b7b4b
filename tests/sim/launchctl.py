"""Stand-in for macOS launchctl (the bootstrap/bootout generation of subcommands). Test code only.

State lives in `<config["LAUNCHD_STATE"]>/launchd.json` (flock'd): per domain ("system",
"gui/<uid>", "user/<uid>") the loaded jobs and the enable/disable overrides.

    bootstrap DOMAIN PLIST...   load jobs; a RunAtLoad job is started at once
    bootout DOMAIN/LABEL | bootout DOMAIN PLIST   stop and unload
    enable|disable DOMAIN/LABEL persistent override (a disabled job cannot be bootstrapped)
    kickstart [-k] [-p] DOMAIN/LABEL   start (-k: kill a running instance first; -p: print pid)
    kill SIGNAL DOMAIN/LABEL    signal the running process (SIGHUP, HUP or a number)
    print DOMAIN/LABEL          `key = value` lines inside `DOMAIN/LABEL = { ... }`, loosely
                                modelled on the real output: path, type, state (running / not
                                running), program, arguments { }, working directory,
                                stdout path, stderr path, environment { }, runs, pid,
                                last exit code; nested blocks are indented one more tab
    print-disabled DOMAIN       `disabled services = {` then `"LABEL" => disabled|enabled`

Jobs really run (ProgramArguments, EnvironmentVariables over a minimal PATH,
WorkingDirectory, StandardOutPath/StandardErrorPath, else /dev/null), each in its own
session; a job that exits within LAUNCHD_GRACE seconds (default 0.3) has its exit code
recorded. UserName/GroupName are checked (unknown -> exit code 78, EX_CONFIG) but not
switched, and KeepAlive is not simulated (nothing is restarted). Errors use launchctl's
wording and codes: bootstrap failures print "Bootstrap failed: 5: Input/output error"
(already loaded, disabled, unreadable plist), unknown services exit 113 ("Could not find
service ..."), usage errors exit 64.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import plistlib
import pwd
import signal
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple
from xml.parsers.expat import ExpatError

from . import _smf

KEYS = ("Label", "Program", "ProgramArguments", "RunAtLoad", "KeepAlive", "UserName", "GroupName",
        "EnvironmentVariables", "WorkingDirectory", "StandardOutPath", "StandardErrorPath", "ExitTimeOut")


class Fail(Exception):
    """A launchctl error: message and exit code."""

    def __init__(self, message: str, rc: int) -> None:
        super().__init__(message)
        self.message = message
        self.rc = rc


@contextlib.contextmanager
def _state(config: Mapping[str, str]) -> Iterator[Dict[str, Any]]:
    directory = config.get("LAUNCHD_STATE", "")
    if not directory:
        raise Fail("stand-in misconfigured: LAUNCHD_STATE is not set", 1)
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, "launchd.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = os.path.join(directory, "launchd.json")
        try:
            with open(path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            data = {"domains": {}}
        yield data
        with open(path + ".tmp", "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)
    finally:
        os.close(fd)


def _domain_ok(domain: str) -> bool:
    if domain == "system":
        return True
    kind, _unused, uid = domain.partition("/")
    return kind in ("gui", "user") and uid.isdigit()


def _domain(data: Dict[str, Any], domain: str) -> Dict[str, Any]:
    return data["domains"].setdefault(domain, {"services": {}, "overrides": {}})


def _target(text: str) -> Tuple[str, str]:
    domain, sep, label = text.rpartition("/")
    if not sep or not label or not _domain_ok(domain):
        raise Fail("Unrecognized target specifier.", 64)
    return domain, label


def _not_found(domain: str, label: str) -> Fail:
    where = "system" if domain == "system" else domain.replace("/", " ")
    return Fail('Could not find service "%s" in domain for %s' % (label, where), 113)


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as handle:
            data = handle.read()
        return data[data.rfind(")") + 2:].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _load_plist(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = plistlib.load(handle)
    except FileNotFoundError:
        raise Fail("Bootstrap failed: 2: No such file or directory", 2) from None
    except (OSError, ValueError, ExpatError):
        raise Fail("Bootstrap failed: 5: Input/output error", 5) from None
    if not isinstance(data, dict) or not isinstance(data.get("Label"), str):
        raise Fail("Bootstrap failed: 5: Input/output error", 5)
    if "Program" not in data and "ProgramArguments" not in data:
        raise Fail("Bootstrap failed: 5: Input/output error", 5)
    return {k: _json_safe(data[k]) for k in KEYS if k in data}


def _spawn(job: Dict[str, Any], config: Mapping[str, str]) -> None:
    plist = job["plist"]
    argv = list(plist.get("ProgramArguments") or [plist.get("Program")])
    if plist.get("Program"):
        argv[0] = plist["Program"]
    job["runs"] = job.get("runs", 0) + 1
    if plist.get("UserName"):
        try:
            pwd.getpwnam(plist["UserName"])
        except KeyError:
            job["pid"], job["last_exit"] = None, 78
            return
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    env.update({str(k): str(v) for k, v in (plist.get("EnvironmentVariables") or {}).items()})
    out_path = plist.get("StandardOutPath") or os.devnull
    err_path = plist.get("StandardErrorPath") or os.devnull
    try:
        with open(out_path, "a") as out, open(err_path, "a") as err:
            proc = subprocess.Popen(argv, env=env, cwd=plist.get("WorkingDirectory"), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
    except OSError:
        job["pid"], job["last_exit"] = None, 78
        return
    deadline = time.time() + float(config.get("LAUNCHD_GRACE", "0.3"))
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    if proc.poll() is None:
        job["pid"] = proc.pid
    else:
        job["pid"], job["last_exit"] = None, proc.returncode


def _kill(job: Dict[str, Any]) -> None:
    pid = job.get("pid")
    if _alive(pid):
        grace = float(job["plist"].get("ExitTimeOut") or 20)
        _smf.kill_group(pid, min(grace, 5.0))
        job["last_exit"] = -signal.SIGTERM
    job["pid"] = None


def _refresh(job: Dict[str, Any]) -> None:
    if job.get("pid") and not _alive(job["pid"]):
        job["pid"] = None
        job.setdefault("last_exit", 0)


def bootstrap(data: Dict[str, Any], args: List[str], config: Mapping[str, str]) -> int:
    if len(args) < 2 or not _domain_ok(args[0]):
        raise Fail("Usage: launchctl bootstrap <domain-target> [service-path, service-path2, ...]", 64)
    dom = _domain(data, args[0])
    for path in args[1:]:
        plist = _load_plist(path)
        label = plist["Label"]
        if label in dom["services"] or dom["overrides"].get(label):
            raise Fail("Bootstrap failed: 5: Input/output error", 5)
        job = {"path": os.path.abspath(path), "plist": plist, "pid": None, "runs": 0, "last_exit": None}
        dom["services"][label] = job
        if plist.get("RunAtLoad"):
            _spawn(job, config)
    return 0


def bootout(data: Dict[str, Any], args: List[str]) -> int:
    if len(args) == 2 and _domain_ok(args[0]):
        domain, label = args[0], _load_plist(args[1])["Label"]
    elif len(args) == 1:
        domain, label = _target(args[0])
    else:
        raise Fail("Usage: launchctl bootout <domain-target> [service-path1, service-path2, ...] | <service-target>",
                   64)
    dom = _domain(data, domain)
    job = dom["services"].get(label)
    if job is None:
        raise Fail("Boot-out failed: 113: Could not find specified service", 113)
    _kill(job)
    del dom["services"][label]
    return 0


def print_job(data: Dict[str, Any], args: List[str]) -> int:
    if len(args) != 1:
        raise Fail("Usage: launchctl print <service-target|domain-target>", 64)
    domain, label = _target(args[0])
    job = _domain(data, domain)["services"].get(label)
    if job is None:
        raise _not_found(domain, label)
    _refresh(job)
    plist = job["plist"]
    argv = list(plist.get("ProgramArguments") or [plist.get("Program")])
    running = bool(job.get("pid"))
    lines = ["%s/%s = {" % (domain, label),
             "\tactive count = %d" % (1 if running else 0),
             "\tpath = %s" % job["path"],
             "\ttype = %s" % ("LaunchDaemon" if domain == "system" else "LaunchAgent"),
             "\tstate = %s" % ("running" if running else "not running"),
             "",
             "\tprogram = %s" % (plist.get("Program") or argv[0]),
             "\targuments = {"]
    lines += ["\t\t%s" % a for a in argv]
    lines.append("\t}")
    lines.append("")
    if plist.get("WorkingDirectory"):
        lines.append("\tworking directory = %s" % plist["WorkingDirectory"])
    if plist.get("StandardOutPath"):
        lines.append("\tstdout path = %s" % plist["StandardOutPath"])
    if plist.get("StandardErrorPath"):
        lines.append("\tstderr path = %s" % plist["StandardErrorPath"])
    if plist.get("EnvironmentVariables"):
        lines.append("\tenvironment = {")
        lines += ["\t\t%s => %s" % (k, v) for k, v in sorted(plist["EnvironmentVariables"].items())]
        lines.append("\t}")
    lines.append("")
    lines.append("\tdomain = %s" % domain)
    if plist.get("UserName"):
        lines.append("\tusername = %s" % plist["UserName"])
    lines.append("\truns = %d" % job.get("runs", 0))
    if running:
        lines.append("\tpid = %d" % job["pid"])
    last = job.get("last_exit")
    lines.append("\tlast exit code = %s" % ("(never exited)" if last is None else last))
    lines.append("}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def print_disabled(data: Dict[str, Any], args: List[str]) -> int:
    if len(args) != 1 or not _domain_ok(args[0]):
        raise Fail("Usage: launchctl print-disabled <domain-target>", 64)
    overrides = _domain(data, args[0])["overrides"]
    lines = ["disabled services = {"]
    lines += ['\t"%s" => %s' % (label, "disabled" if off else "enabled") for label, off in sorted(overrides.items())]
    lines.append("}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def set_override(data: Dict[str, Any], args: List[str], disabled: bool) -> int:
    if len(args) != 1:
        raise Fail("Usage: launchctl %s <service-target>" % ("disable" if disabled else "enable"), 64)
    domain, label = _target(args[0])
    _domain(data, domain)["overrides"][label] = disabled
    return 0


def kickstart(data: Dict[str, Any], args: List[str], config: Mapping[str, str]) -> int:
    kill = show_pid = False
    rest = []
    for arg in args:
        if arg == "-k":
            kill = True
        elif arg == "-p":
            show_pid = True
        elif arg.startswith("-"):
            raise Fail("Usage: launchctl kickstart [-kp] <service-target>", 64)
        else:
            rest.append(arg)
    if len(rest) != 1:
        raise Fail("Usage: launchctl kickstart [-kp] <service-target>", 64)
    domain, label = _target(rest[0])
    job = _domain(data, domain)["services"].get(label)
    if job is None:
        raise _not_found(domain, label)
    _refresh(job)
    if job.get("pid") and kill:
        _kill(job)
    if not job.get("pid"):
        _spawn(job, config)
    if show_pid and job.get("pid"):
        sys.stdout.write("service spawned with pid: %d\n" % job["pid"])
    return 0


def kill_job(data: Dict[str, Any], args: List[str]) -> int:
    if len(args) != 2:
        raise Fail("Usage: launchctl kill <signal-name|signal-number> <service-target>", 64)
    name = args[0].upper()
    try:
        signum = int(name) if name.isdigit() else int(getattr(signal, name if name.startswith("SIG") else "SIG" + name))
    except (AttributeError, ValueError):
        raise Fail("Unrecognized signal: %s" % args[0], 64) from None
    domain, label = _target(args[1])
    job = _domain(data, domain)["services"].get(label)
    if job is None:
        raise _not_found(domain, label)
    _refresh(job)
    if not job.get("pid"):
        raise Fail("Could not kill service: 3: No such process", 3)
    os.kill(job["pid"], signum)
    return 0


def kill_all(state_directory: str) -> None:
    """Test teardown: stop every job the state file still records as running."""
    try:
        with open(os.path.join(state_directory, "launchd.json")) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return
    for dom in data.get("domains", {}).values():
        for job in dom.get("services", {}).values():
            if _alive(job.get("pid")):
                _smf.kill_group(job["pid"], 1.0)


def main(argv: Sequence[str], config: Mapping[str, str]) -> int:
    """launchctl bootstrap|bootout|enable|disable|kickstart|kill|print|print-disabled ..."""
    args = list(argv)
    if not args:
        sys.stderr.write("Usage: launchctl <subcommand> ... | help [subcommand]\n")
        return 64
    command, rest = args[0], args[1:]
    handlers = {
        "bootstrap": lambda data: bootstrap(data, rest, config),
        "bootout": lambda data: bootout(data, rest),
        "enable": lambda data: set_override(data, rest, False),
        "disable": lambda data: set_override(data, rest, True),
        "kickstart": lambda data: kickstart(data, rest, config),
        "kill": lambda data: kill_job(data, rest),
        "print": lambda data: print_job(data, rest),
        "print-disabled": lambda data: print_disabled(data, rest),
    }
    if command not in handlers:
        sys.stderr.write("Unrecognized subcommand: %s\n" % command)
        return 64
    try:
        with _state(config) as data:
            try:
                return handlers[command](data)
            except Fail as exc:
                # keep what happened before the failure (e.g. jobs already started), as launchd does
                sys.stderr.write(exc.message + "\n")
                return exc.rc
    except Fail as exc:
        sys.stderr.write(exc.message + "\n")
        return exc.rc
