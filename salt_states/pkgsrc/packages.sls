{#- pkgsrc.packages: the host-wide packages (pillar pkgsrc:packages, pkgsrc:packages_state,
    pkgsrc:packages_absent, pkgsrc:update_cache), after the bootstrap when there is one. -#}
{%- from "pkgsrc/macros.jinja" import packages with context %}
{%- set unit = salt['pillar.get']('pkgsrc', {}) %}
{%- set require = ['pkgsrc-bootstrap'] if unit.get('bootstrap') is mapping else [] %}
{%- if require %}
include:
  - pkgsrc.bootstrap
{%- endif %}
{{ packages('pkgsrc-packages', unit, require) }}
