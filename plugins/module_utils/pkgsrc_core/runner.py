"""Running programs: argv lists only, never a shell.

The core talks to the host through a Runner so that the Ansible adapter can use
module.run_command and everything else the subprocess implementation below.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from .errors import CommandError, PkgsrcError


@dataclass(frozen=True)
class Result:
    """What a finished program left: exit code and decoded output."""

    argv: tuple
    rc: int
    stdout: str
    stderr: str

    def check(self, hint: Optional[str] = None) -> "Result":
        """Return self when rc is 0, otherwise raise CommandError."""
        if self.rc != 0:
            raise CommandError(self.argv, self.rc, self.stdout, self.stderr, hint)
        return self


def validate_argv(argv: Sequence[str]) -> tuple:
    """Refuse anything but a non-empty sequence of strings without NUL bytes."""
    if isinstance(argv, (str, bytes)) or not argv:
        raise PkgsrcError("a command must be a non-empty list of arguments, not a string",
                          "pass argv as a list; the core never runs a shell")
    for arg in argv:
        if not isinstance(arg, str):
            raise PkgsrcError("command argument %r is not a string" % (arg,))
        if "\0" in arg:
            raise PkgsrcError("command argument %r contains a NUL byte" % (arg,))
    return tuple(argv)


class Runner:
    """Interface: run argv with extra environment and a working directory."""

    def run(self, argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
            cwd: Optional[str] = None, stdin: Optional[str] = None) -> Result:
        raise NotImplementedError


class SubprocessRunner(Runner):
    """Runs programs with subprocess, shell=False, in the C locale unless told otherwise."""

    def __init__(self, timeout: Optional[float] = None) -> None:
        self.timeout = timeout

    def run(self, argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
            cwd: Optional[str] = None, stdin: Optional[str] = None) -> Result:
        args = validate_argv(argv)
        full_env = dict(os.environ)
        full_env.setdefault("LC_ALL", "C")
        if env:
            full_env.update(env)
        try:
            proc = subprocess.run(  # noqa: S603 - argv list, shell=False
                list(args), env=full_env, cwd=cwd, input=stdin, capture_output=True,
                text=True, errors="replace", timeout=self.timeout, shell=False, check=False)
        except FileNotFoundError:
            raise PkgsrcError("program %s not found" % args[0],
                              "install it or check the prefix you gave") from None
        except PermissionError:
            raise PkgsrcError("program %s is not executable by this user" % args[0]) from None
        except subprocess.TimeoutExpired:
            raise PkgsrcError("command %s did not finish within %s seconds" % (" ".join(args), self.timeout)) from None
        return Result(args, proc.returncode, proc.stdout, proc.stderr)
