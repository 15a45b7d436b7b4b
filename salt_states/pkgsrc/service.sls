{#- pkgsrc.service: config files and services of the host-wide prefix (pillar
    pkgsrc:config_files, pkgsrc:services). Each running service watches the config files and
    the packages: a change to either restarts it. -#}
{%- from "pkgsrc/macros.jinja" import config_files, config_ids, service with context %}
{%- set unit = salt['pillar.get']('pkgsrc', {}) %}
{%- set after = [] %}
{%- if unit.get('packages') %}
{%-   do after.append('pkgsrc-packages') %}
include:
  - pkgsrc.packages
{%- elif unit.get('bootstrap') is mapping %}
{%-   do after.append('pkgsrc-bootstrap') %}
include:
  - pkgsrc.bootstrap
{%- endif %}
{{ config_files('pkgsrc-config', unit, None, after) }}
{%- set watch = (config_ids('pkgsrc-config', unit) | load_json) + after %}
{%- for name, svc in (unit.get('services') or {}) | dictsort %}
{{ service('pkgsrc-service-' ~ name, name, svc, unit, after, watch) }}
{%- endfor %}
