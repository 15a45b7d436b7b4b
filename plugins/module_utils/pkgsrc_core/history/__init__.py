"""Room history: every change to a prefix as a recorded transaction, and the installed packages saved.

records: one readable JSON record per run that changed a prefix (or failed part-way), written
atomically in <VARBASE>/db/pkgsrc-deploy/history/, bounded, with runs killed mid-way found by the
next one. saved: installed packages re-packed the pkg_tarup way before they are upgraded,
downgraded or removed, in <VARBASE>/db/pkgsrc-deploy/saved/, within a retention limit.

Work in progress (issue 13): the records and the saved packages exist and are tested; the
writers (converge, bootstrap, repository) and rollback do not use them yet.

Other rooms and the adapters will use: `records.begin` / `Transaction`, `records.list_records`,
`saved.save_installed` / `saved.find_saved`. This room uses the base only (and runs pkg_create
through a Runner).
"""

from __future__ import annotations
