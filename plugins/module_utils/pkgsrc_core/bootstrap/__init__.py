"""Room bootstrap: put pkgsrc on a host (a verified binary kit, or from source), or remove or upgrade it.

A published binary kit is downloaded, verified by checksum and GPG signature, every member
checked, staged and moved into place; or pkgsrc's own bootstrap script runs from a source tree.
Then the configuration, PATH and MANPATH.

Files: plan (requests, host and filesystem probes, the plan as data; pure), apply (carries a plan
out; `bootstrap()` detects, plans, locks and applies), options (the adapters' options and the
one call they make), kits, download, gpg, archive, staging, source, shellenv, marker.

Other rooms and the adapters use: `options.run_bootstrap`, `apply.bootstrap`, and the plan's
types (`plan.BootstrapRequest`, `plan.BootstrapResult`). Data flows one way: plan <- apply
<- options; this room uses the packages room for pkgin's configuration files (`packages.pkgconf`)
and to record what pkgin's database was loaded from (`packages.tools.record_pkgin_loaded`).
"""

from __future__ import annotations
