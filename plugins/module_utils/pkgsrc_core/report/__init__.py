"""Room report: the fleet report, from saved host facts to text, HTML and JSON.

Per-host facts (as Ansible and Salt save them) and a desired package set or a lock file in
(inputs), one plain-data report out (model), rendered as text for mail (text), one self-contained
HTML page (html) or JSON checked against its schema (schema); cli is the command line (`python -m
pkgsrc_core.report.cli`).

Other rooms and the adapters use: `model` (build_report, render_json), `inputs.host_input` /
`load_desired`, and `cli`. This room uses the packages room's audit levels (`packages.audit`),
lock files (`packages.lockfile`) and the kit's package names (`packages.kit`). It runs on the
controller only, so it may read YAML with PyYAML (imported where it is needed).
"""

from __future__ import annotations
