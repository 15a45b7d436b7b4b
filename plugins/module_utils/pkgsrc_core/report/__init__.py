"""Room report: the fleet report, from saved host facts to text, HTML and JSON.

Per-host facts (as Ansible and Salt save them) and a desired package set in (inputs), one
plain-data report out (model), rendered as text for mail (text), one self-contained HTML page
(html) or JSON checked against its schema (schema); cli is the command line (`python -m
pkgsrc_core.report.cli`).

Other rooms and the adapters use: `model` (build_report, render_json), `inputs.host_input` /
`load_desired`, and `cli`. This room uses the packages room's audit levels (`packages.audit`).
"""

from __future__ import annotations
