"""Room packages: a prefix's binary packages, from what is installed to a converged set.

What is installed (pkgdb, read straight from the package database), what the repositories offer
(catalogue, summary), the plan (plan: pure (desired, installed, available) -> actions), applying
it through pkgin or pkg_install (tools, converge), the repository configuration (repository,
pkgconf), the vulnerability audit (audit), lock files (lockfile: one prefix's exact package set,
parsed, built, compared), the kit's own packages that an exact set keeps (kit), and every
change as a transaction of the prefix's history (journal) that can be rolled back (rollback).

Other rooms and the adapters use: `converge.manage_packages`, `converge.read_installed`,
`plan.PackageRequest`, `repository.RepositoryRequest` / `manage_repository`, `audit.audit` /
`offline_audit` / `level_of` / `LEVELS`, `catalogue.load_catalogue` / `repository_urls`,
`pkgdb.read_pkgdb`, `tools.summary_cache_dir` / `record_pkgin_loaded`, the renderers of
`pkgconf`, `lockfile` (parse_lock, build_lock, with_lock, compare, Lock, LockFileError) and `kit`
(kit_packages, kit_names, recorded_kit_packages, KIT_PACKAGE_NAMES), `journal` (HistoryOptions,
history_options, HISTORY_PARAMS, Journal, installed_packages: a run's transaction, for the
bootstrap too) and `rollback.manage_history`. This room uses the base (errors, runner, fsutil,
lock, layout, prefixes, versions) and the history room (records, saved).
"""

from __future__ import annotations
