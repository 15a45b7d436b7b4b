"""Health checks: does the application answer? An HTTP request or a command, with retries.

    check = health_check_from_params({"url": "http://127.0.0.1:8080/", "status": 200, "body": "ok",
                                      "retries": 10, "delay": 2, "timeout": 5})
    result = run_health_check(check)      # HealthResult: healthy, attempts, detail

One check, the same for the Ansible module pkgsrc.deploy.health and the Salt function
pkgsrc_service.health (and so for the app role's and the formula's rollouts). An HTTP check
passes when the answer has the expected status (redirects are not followed: a 302 is a 302) and,
when `body` is given, the body holds that text. A command check passes when the command exits
with the expected code. Attempts: 1 + retries, `delay` seconds apart, each bounded by `timeout`.
Reading only: nothing on the host changes, so check mode runs it too.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ..errors import PkgsrcError
from ..runner import Runner, SubprocessRunner, validate_argv

MAX_BODY = 1 << 20  # what is read of an answer to look for `body`


class HealthCheckError(PkgsrcError):
    """A health check is asked for wrongly."""


@dataclass(frozen=True)
class HealthCheck:
    """An HTTP check (url, status, body) or a command check (argv, rc); timeout, retries, delay."""

    url: Optional[str] = None
    status: int = 200
    body: Optional[str] = None
    argv: Tuple[str, ...] = ()
    rc: int = 0
    timeout: float = 5.0
    retries: int = 10
    delay: float = 2.0

    def describe(self) -> str:
        if self.url:
            return "GET %s answers %d%s" % (self.url, self.status, " with %r" % self.body if self.body else "")
        return "%s exits %d" % (" ".join(self.argv), self.rc)


@dataclass(frozen=True)
class HealthResult:
    """The outcome: healthy or not, after how many attempts, and what the last attempt saw."""

    healthy: bool
    attempts: int
    detail: str
    check: str

    def as_dict(self) -> Dict[str, Any]:
        return {"healthy": self.healthy, "attempts": self.attempts, "detail": self.detail, "check": self.check}


def _number(params: Mapping[str, Any], key: str, default: float, minimum: float) -> float:
    value = params.get(key)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise HealthCheckError("health check %s must be a number, not %r" % (key, value)) from None
    if number < minimum:
        raise HealthCheckError("health check %s must be %s or more, not %r" % (key, minimum, value))
    return number


def health_check_from_params(params: Mapping[str, Any]) -> HealthCheck:
    """A HealthCheck from the adapters' options: url (+ status, body) or command (+ rc); timeout,
    retries, delay."""
    url = params.get("url")
    command = params.get("command")
    if bool(url) == bool(command):
        raise HealthCheckError("a health check needs either url or command, not %s" % ("both" if url else "neither"),
                               "give url (an HTTP check) or command (an argv list)")
    argv: Tuple[str, ...] = ()
    if url:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise HealthCheckError("health check url %r is not an http:// or https:// URL" % (url,))
    else:
        if isinstance(command, str) or not isinstance(command, (list, tuple)) or not command:
            raise HealthCheckError("health check command must be a list of arguments, not %r" % (command,),
                                   "give an argv list, e.g. [/opt/local/bin/app, --check]; no shell is used")
        argv = validate_argv([str(a) for a in command])
    return HealthCheck(url=url or None, status=int(_number(params, "status", 200, 100)),
                       body=params.get("body") or None, argv=argv, rc=int(_number(params, "rc", 0, 0)),
                       timeout=_number(params, "timeout", 5.0, 0.1), retries=int(_number(params, "retries", 10, 0)),
                       delay=_number(params, "delay", 2.0, 0))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,  # pylint: disable=too-many-arguments
                         newurl: str) -> None:
        return None


def _http_once(check: HealthCheck) -> Tuple[bool, str]:
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(check.url or "", method="GET"), timeout=check.timeout) as resp:
            status, data = resp.status, resp.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read(MAX_BODY) if exc.fp else b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, "no answer (%s)" % (getattr(exc, "reason", None) or exc)
    text = data.decode("utf-8", "replace")
    if status != check.status:
        return False, "status %d, expected %d" % (status, check.status)
    if check.body and check.body not in text:
        return False, "status %d but the body does not hold %r" % (status, check.body)
    return True, "status %d%s" % (status, ", body holds %r" % check.body if check.body else "")


def _command_once(check: HealthCheck, runner: Runner) -> Tuple[bool, str]:
    try:
        result = runner.run(check.argv)
    except PkgsrcError as exc:
        return False, exc.message
    tail = ((result.stderr or result.stdout or "").strip().splitlines() or [""])[-1]
    if result.rc != check.rc:
        return False, "exit %d, expected %d%s" % (result.rc, check.rc, " (%s)" % tail if tail else "")
    return True, "exit %d" % result.rc


def run_health_check(check: HealthCheck, runner: Optional[Runner] = None,
                     sleep: Callable[[float], None] = time.sleep) -> HealthResult:
    """Try up to 1 + retries times; healthy at the first attempt that passes."""
    runner = runner or SubprocessRunner(timeout=check.timeout)
    detail = ""
    for attempt in range(1, check.retries + 2):
        ok, detail = _http_once(check) if check.url else _command_once(check, runner)
        if ok:
            return HealthResult(True, attempt, detail, check.describe())
        if attempt <= check.retries:
            sleep(check.delay)
    return HealthResult(False, check.retries + 1, detail, check.describe())


def health(params: Mapping[str, Any], runner: Optional[Runner] = None) -> Dict[str, Any]:
    """The adapters' one call: the check's result as plain data (healthy false is not an error here;
    the adapters fail the task or state on it)."""
    result = run_health_check(health_check_from_params(params), runner)
    out = result.as_dict()
    verdict = "healthy" if result.healthy else "UNHEALTHY"
    plural = "" if result.attempts == 1 else "s"
    out["msg"] = "%s: %s after %d attempt%s (%s)" % (result.check, verdict, result.attempts, plural, result.detail)
    return out
