"""Room packages: a prefix's binary packages, from what is installed to a converged set.

What is installed (pkgdb, read straight from the package database), what the repositories offer
(catalogue, summary), the plan (plan: pure (desired, installed, available) -> actions), applying
it through pkgin or pkg_install (tools, converge), the repository configuration (repository,
pkgconf) and the vulnerability audit (audit).

Other rooms and the adapters use: `converge.manage_packages`, `converge.read_installed`,
`plan.PackageRequest`, `repository.RepositoryRequest` / `manage_repository`, `audit.audit` /
`offline_audit` / `level_of` / `LEVELS`, `catalogue.load_catalogue` / `repository_urls`,
`pkgdb.read_pkgdb`, `tools.summary_cache_dir` / `record_pkgin_loaded`, and the renderers of
`pkgconf`. This room uses only the base (errors, runner, fsutil, lock, layout, prefixes, versions).
"""

from __future__ import annotations
