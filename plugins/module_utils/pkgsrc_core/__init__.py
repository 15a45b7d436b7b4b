"""pkgsrc_core: the framework-free library behind the pkgsrc.deploy collection and the Salt extension.

Standard library only, relative imports only; no ansible and no salt imports (a test enforces it).

The base, used by every room: errors, runner, fsutil, lock, layout, platforms, prefixes, versions,
and facts (which reads every room's data for one host). The rooms, one per job, each with an
`__init__.py` that says what it does and which of its names the others may use:
bootstrap/ (put pkgsrc on a host), packages/ (a prefix's binary packages), services/ (register
a service with SMF, systemd, launchd or rc.d), report/ (the fleet report). Data flows one way:
host facts -> layout -> (desired, current) -> plan -> apply -> result. docs/architecture.md.
"""
from __future__ import annotations

__version__ = "0.1.0"
