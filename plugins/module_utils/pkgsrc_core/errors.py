"""Errors raised by the core. Every message says what is wrong and what to do about it.

Adapters translate PkgsrcError in one place (Ansible fail_json, Salt CommandExecutionError or a
state result of False), so users never see a traceback.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence


class PkgsrcError(Exception):
    """Root of every error the core raises on purpose."""

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else "%s: %s" % (message, hint))

    def details(self) -> Dict[str, Any]:
        """Structured fields an adapter adds to its failure result (Ansible fail_json, Salt's info)."""
        return {}

    def add_hint(self, text: str) -> None:
        """Add to the hint after the error was raised (e.g. the history record a failed run wrote)."""
        self.hint = "%s; %s" % (self.hint, text) if self.hint else text
        self.args = ("%s: %s" % (self.message, self.hint),)


class PatternError(PkgsrcError):
    """A package pattern or version string cannot be parsed."""


class SummaryError(PkgsrcError):
    """A pkg_summary(5) file is malformed or cannot be read."""

    def __init__(self, message: str, source: str = "", line: int = 0, hint: Optional[str] = None) -> None:
        self.source = source
        self.line = line
        where = ""
        if line:
            where = "%s:%d: " % (source or "<stream>", line)
        elif source:
            where = "%s: " % source
        super().__init__(where + message, hint)


class PkgdbError(PkgsrcError):
    """The package database (PKG_DBDIR) cannot be read."""


class CommandError(PkgsrcError):
    """A program run through the Runner failed."""

    def __init__(self, argv: Sequence[str], rc: int, stdout: str = "", stderr: str = "",
                 hint: Optional[str] = None) -> None:
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout).strip().splitlines()
        tail = detail[-1] if detail else "no output"
        super().__init__("command %s exited %d (%s)" % (" ".join(self.argv), rc, tail), hint)

    def details(self) -> Dict[str, Any]:
        return {"cmd": self.argv, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr}


class LockError(PkgsrcError):
    """Another process holds the lock on a package database."""


class VerificationError(PkgsrcError):
    """A download did not match its checksum or signature."""


class UnsafeArchiveError(PkgsrcError):
    """An archive holds a member that would write outside the paths it may write."""


class ServiceError(PkgsrcError):
    """An init system (SMF, systemd, launchd, rc.d) could not register, start or stop a service."""


class ServiceSpecError(ServiceError):
    """A service definition holds a value that cannot be rendered safely for an init system."""


class BootstrapFailed(PkgsrcError):
    """A bootstrap step failed after earlier steps changed the host; `done` lists those steps."""

    def __init__(self, message: str, hint: Optional[str] = None, done: Sequence[str] = ()) -> None:
        self.done = list(done)
        if self.done:
            message = "%s (done before the failure: %s)" % (message, "; ".join(self.done))
        super().__init__(message, hint)


class ReportError(PkgsrcError):
    """Fleet report input (host facts or a desired package set) cannot be read."""
