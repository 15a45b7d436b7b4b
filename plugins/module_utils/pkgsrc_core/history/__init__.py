"""Room history: the installed packages saved before a change, so that it can be undone.

saved: an installed package re-packed the pkg_tarup way (the real pkg_create options) before it is
upgraded, downgraded or removed, in <VARBASE>/db/pkgsrc-deploy/saved/, within a retention limit.

Work in progress (issue 13): the saved packages exist and are tested against the real tools; the
transaction records, the writers (converge, bootstrap, repository) and rollback do not use them yet.

Other rooms and the adapters will use: `saved.save_installed`, `saved.find_saved`,
`saved.retention`. This room uses the base only (and runs pkg_create through a Runner).
"""

from __future__ import annotations
