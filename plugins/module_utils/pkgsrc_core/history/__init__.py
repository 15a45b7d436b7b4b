"""Room history: what each run did to a prefix, and the installed packages saved before a change.

records: one JSON record per transaction (a run that changed a prefix, failed part-way or was
killed) in <VARBASE>/db/pkgsrc-deploy/history/, written atomically; recover() closes what a killed
run left "running"; bounded by prune().
saved: an installed package re-packed the pkg_tarup way (the real pkg_create options) before it is
upgraded, downgraded or removed, in <VARBASE>/db/pkgsrc-deploy/saved/, within a retention limit.

Other rooms and the adapters use: `records` (begin, recover, list_records, get, Actor,
PackageState) and `saved` (save_installed, find_saved, retention). This room uses the base only
(and runs pkg_create through a Runner); the packages room writes its transactions and rolls back.
"""

from __future__ import annotations
