{#- pkgsrc.app: applications, each deployed into its own prefix (pillar pkgsrc:apps):
    bootstrap (kit or source) with its repositories, packages, config files templated into
    the prefix, and its service, which a change to the config files or packages restarts.
    The same steps, in the same order, as the Ansible role pkgsrc.deploy.app. -#}
{%- from "pkgsrc/macros.jinja" import bootstrap, packages, config_files, config_ids, service with context %}
{%- for app, settings in (salt['pillar.get']('pkgsrc:apps', {}) or {}) | dictsort %}
{#-   An application's prefix stays off the login PATH unless manage_path says so (as in the role). #}
{%-   set unit = {'manage_path': False} %}
{%-   do unit.update(settings) %}
{%-   set id = 'pkgsrc-app-' ~ app %}
{%-   set after = [] %}
{%-   if unit.get('bootstrap', {}) is mapping %}
{{ bootstrap(id ~ '-bootstrap', unit) }}
{%-     do after.append(id ~ '-bootstrap') %}
{%-   endif %}
{{ packages(id ~ '-packages', unit, after) }}
{%-   if unit.get('packages') %}
{%-     set after = [id ~ '-packages'] %}
{%-   endif %}
{{ config_files(id ~ '-config', unit, app, after) }}
{%-   if unit.get('service') %}
{%-     set svc = unit['service'] %}
{%-     set watch = (config_ids(id ~ '-config', unit) | load_json) + after %}
{{ service(id ~ '-service', svc.get('name', app), svc, unit, after, watch) }}
{%-   endif %}
{%- endfor %}
