"""ServiceSpec: one description of a long-running program, rendered for every init system.

Every value is checked here, once, before any renderer sees it: names and user names against
strict patterns, paths must be absolute, and no value may hold control characters (newlines
included), so nothing can break out of the line, attribute or word it is written into. The
renderers then escape what is left for their format (XML entities, systemd specifiers and
quotes, shell quoting), and each renderer refuses a setting its init system cannot express
rather than dropping it silently. Ordering hints (`network`, `filesystems`, `depends_on`) are
the exception: where an init system has no ordering (launchd) they are documented as not
rendered, because the service still runs correctly without them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ..errors import ServiceSpecError

RESTART_POLICIES = ("no", "on-failure", "always")
SCOPES = ("system", "user")
MAX_TIMEOUT = 7 * 24 * 3600

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ACCOUNT_RE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}|[0-9]{1,10})$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SMF_FMRI_RE = re.compile(r"^svc:/[A-Za-z][A-Za-z0-9_.,-]*(?:/[A-Za-z][A-Za-z0-9_.,-]*)*$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_text(value: Any, what: str, allow_empty: bool = True, max_len: int = 4096) -> str:
    """value as a one-line string with no control, surrogate, separator or non-character code points."""
    if not isinstance(value, str):
        raise ServiceSpecError("%s must be a string, not %s" % (what, type(value).__name__))
    if not value and not allow_empty:
        raise ServiceSpecError("%s is empty" % what, "give a non-empty value")
    if len(value) > max_len:
        raise ServiceSpecError("%s is longer than %d characters" % (what, max_len), "shorten it")
    for char in value:
        cat = unicodedata.category(char)
        if cat in ("Cc", "Cs", "Zl", "Zp") or char in ("\ufffe", "\uffff"):
            raise ServiceSpecError(
                "%s contains the control character U+%04X" % (what, ord(char)),
                "values are written into manifests, units, plists and shell scripts; newlines, tabs "
                "and other control characters are refused there")
    return value


def check_name(value: Any, what: str = "name") -> str:
    """A service name: letters, digits, '.', '_', '-', at most 64, starting with a letter or digit."""
    text = check_text(value, what, allow_empty=False)
    if not _NAME_RE.match(text):
        raise ServiceSpecError("%s %r is not a valid service name" % (what, text),
                               "use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit")
    return text


def check_account(value: Any, what: str) -> str:
    """A POSIX user or group name, or a numeric id."""
    text = check_text(value, what, allow_empty=False)
    if not _ACCOUNT_RE.match(text):
        raise ServiceSpecError("%s %r is not a valid user or group name" % (what, text),
                               "use a POSIX name (letters, digits, '_', '.', '-', at most 32) or a numeric id")
    return text


def check_path(value: Any, what: str) -> str:
    """An absolute path without control characters or backslashes."""
    text = check_text(value, what, allow_empty=False, max_len=1024)
    if not text.startswith("/"):
        raise ServiceSpecError("%s %r is not an absolute path" % (what, text), "give a path that starts with /")
    if "\\" in text:
        raise ServiceSpecError("%s %r contains a backslash" % (what, text),
                               "a trailing backslash continues a line in unit files; use a path without one")
    return text


def check_command(value: Any, what: str) -> Tuple[str, ...]:
    """An argv list: a non-empty sequence of strings whose first element is an absolute path."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ServiceSpecError("%s must be a list of arguments, not %s" % (what, type(value).__name__),
                               "write the command as a list, e.g. ['/opt/pkg/bin/app', '--foreground']; "
                               "it is never run through a shell")
    if not value:
        raise ServiceSpecError("%s is empty" % what, "give at least the program's absolute path")
    argv = tuple(check_text(arg, "%s argument %d" % (what, i)) for i, arg in enumerate(value))
    check_path(argv[0], "%s program" % what)
    return argv


def _check_timeout(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceSpecError("%s must be a whole number of seconds, not %r" % (what, value))
    if value < 0 or value > MAX_TIMEOUT:
        raise ServiceSpecError("%s %d is out of range" % (what, value),
                               "give 0 (no limit) up to %d seconds" % MAX_TIMEOUT)
    return value


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ServiceSpecError("%s must be true or false, not %r" % (what, value))
    return value


@dataclass(frozen=True)
class ServiceSpec:
    """What to run and how; pass the fields as keywords.

    name          service name (file names, unit name, rc.d script); letters, digits, . _ -
    command       argv list, first element an absolute path; never run through a shell
    description   one line of text (default: the name)
    user, group   credentials to run as (system scope only)
    working_dir   absolute directory to start in
    env           mapping of environment variables for the program
    stop_command  argv to stop it (default: the init system sends SIGTERM)
    reload_command argv to make it re-read its configuration
    network       wait for the network (SMF milestone/network, network-online.target, rc.d NETWORKING)
    filesystems   wait for local file systems (default True)
    depends_on    names of other services managed the same way that must run first
    restart       'on-failure' (default), 'always' or 'no'
    start_timeout, stop_timeout  seconds; 0 means no limit
    forks         True when the program puts itself in the background (classic daemon)
    pid_file      where a forking daemon writes its pid (systemd PIDFile=, rc.d pidfile)
    log_file      absolute path collecting stdout and stderr
    scope         'system' (default) or 'user' (systemd --user, launchd LaunchAgents)
    smf_fmri      SMF service FMRI without instance (default svc:/pkgsrc/<name>)
    launchd_label launchd Label (default org.pkgsrc.<name>)
    """

    name: str
    command: Tuple[str, ...]
    description: str = ""
    user: Optional[str] = None
    group: Optional[str] = None
    working_dir: Optional[str] = None
    env: Mapping[str, str] = field(default_factory=dict)
    stop_command: Optional[Tuple[str, ...]] = None
    reload_command: Optional[Tuple[str, ...]] = None
    network: bool = False
    filesystems: bool = True
    depends_on: Tuple[str, ...] = ()
    restart: str = "on-failure"
    start_timeout: int = 60
    stop_timeout: int = 60
    forks: bool = False
    pid_file: Optional[str] = None
    log_file: Optional[str] = None
    scope: str = "system"
    smf_fmri: Optional[str] = None
    launchd_label: Optional[str] = None

    def __post_init__(self) -> None:
        setter = object.__setattr__
        check_name(self.name)
        setter(self, "command", check_command(self.command, "command"))
        check_text(self.description, "description", max_len=256)
        if self.description.endswith("\\") or self.description != self.description.strip():
            raise ServiceSpecError("description %r ends with a backslash or has surrounding spaces"
                                   % self.description, "give one plain line of text")
        for attr in ("user", "group"):
            value = getattr(self, attr)
            if value is not None:
                check_account(value, attr)
        for attr in ("working_dir", "pid_file", "log_file"):
            value = getattr(self, attr)
            if value is not None:
                check_path(value, attr)
        if not isinstance(self.env, Mapping):
            raise ServiceSpecError("env must be a mapping of names to values, not %s" % type(self.env).__name__)
        env: Dict[str, str] = {}
        for key, value in self.env.items():
            if not isinstance(key, str) or not _ENV_NAME_RE.match(key):
                raise ServiceSpecError("environment variable name %r is not valid" % (key,),
                                       "use letters, digits and '_', not starting with a digit")
            env[key] = check_text(value, "environment variable %s" % key)
        setter(self, "env", env)
        for attr in ("stop_command", "reload_command"):
            value = getattr(self, attr)
            if value is not None:
                setter(self, attr, check_command(value, attr))
        if isinstance(self.depends_on, (str, bytes)) or not isinstance(self.depends_on, Sequence):
            raise ServiceSpecError("depends_on must be a list of service names")
        deps = tuple(check_name(dep, "depends_on entry") for dep in self.depends_on)
        if self.name in deps:
            raise ServiceSpecError("service %s depends on itself" % self.name, "remove it from depends_on")
        setter(self, "depends_on", deps)
        for attr in ("network", "filesystems", "forks"):
            _check_bool(getattr(self, attr), attr)
        if self.restart not in RESTART_POLICIES:
            raise ServiceSpecError("restart %r is not a restart policy" % (self.restart,),
                                   "use one of: %s" % ", ".join(RESTART_POLICIES))
        if self.scope not in SCOPES:
            raise ServiceSpecError("scope %r is not valid" % (self.scope,), "use 'system' or 'user'")
        _check_timeout(self.start_timeout, "start_timeout")
        _check_timeout(self.stop_timeout, "stop_timeout")
        if self.smf_fmri is not None:
            check_text(self.smf_fmri, "smf_fmri", allow_empty=False)
            if not _SMF_FMRI_RE.match(self.smf_fmri):
                raise ServiceSpecError("smf_fmri %r is not a service FMRI" % self.smf_fmri,
                                       "write it as svc:/category/name, without an instance")
        if self.launchd_label is not None:
            check_text(self.launchd_label, "launchd_label", allow_empty=False)
            if not _LABEL_RE.match(self.launchd_label):
                raise ServiceSpecError("launchd_label %r is not a valid label" % self.launchd_label,
                                       "use reverse-DNS style: letters, digits, '.', '_' and '-'")

    @property
    def title(self) -> str:
        """The description, or the name when there is none."""
        return self.description or self.name


SPEC_FIELDS = tuple(f.name for f in fields(ServiceSpec))


def spec_from_dict(data: Mapping[str, Any]) -> ServiceSpec:
    """Build a ServiceSpec from adapter options; unknown keys are refused, None means the default."""
    if not isinstance(data, Mapping):
        raise ServiceSpecError("a service spec must be a mapping, not %s" % type(data).__name__)
    unknown = sorted(str(k) for k in data if k not in SPEC_FIELDS)
    if unknown:
        raise ServiceSpecError("unknown service option(s): %s" % ", ".join(unknown),
                               "valid options: %s" % ", ".join(SPEC_FIELDS))
    kwargs = {k: v for k, v in data.items() if v is not None}
    for key in ("name", "command"):
        if key not in kwargs:
            raise ServiceSpecError("the service option %r is required" % key)
    for key in ("command", "stop_command", "reload_command", "depends_on"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    return ServiceSpec(**kwargs)
