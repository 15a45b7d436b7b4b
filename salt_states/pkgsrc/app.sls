{#- pkgsrc.app: applications, each deployed into its own prefix (pillar pkgsrc:apps):
    bootstrap (kit or source) with its repositories, packages, config files templated into
    the prefix, and its service, which a change to the config files or packages restarts.
    With a health_check, a checkpoint comes first and the check last: when it fails, what this
    run changed is rolled back on the host (rollback_on_failure, default true).
    The same steps, in the same order, as the Ansible role pkgsrc.deploy.app. -#}
{%- from "pkgsrc/macros.jinja" import bootstrap, packages, config_files, config_ids, service, service_options,
    checkpoint, healthy with context %}
{%- for app, settings in (salt['pillar.get']('pkgsrc:apps', {}) or {}) | dictsort %}
{#-   An application's prefix stays off the login PATH unless manage_path says so (as in the role). #}
{%-   set unit = {'manage_path': False} %}
{%-   do unit.update(settings) %}
{%-   set id = 'pkgsrc-app-' ~ app %}
{%-   set after = [] %}
{%-   if unit.get('health_check') %}
{{ checkpoint(id ~ '-checkpoint', app, unit) }}
{%-   endif %}
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
{%-   if unit.get('health_check') %}
{#-     The states whose changes call for a check, and whose failure for a rollback: all but the bootstrap. #}
{%-     set steps = [] %}
{%-     if unit.get('packages') %}{% do steps.append(id ~ '-packages') %}{% endif %}
{%-     if unit.get('packages_absent') %}{% do steps.append(id ~ '-packages-absent') %}{% endif %}
{%-     do steps.extend(config_ids(id ~ '-config', unit) | load_json) %}
{%-     if unit.get('service') %}{% do steps.append(id ~ '-service') %}{% endif %}
{%-     set svc = unit.get('service') or {} %}
{%-     set running = svc and svc.get('state', 'running') == 'running' %}
{{ healthy(id ~ '-health', app, unit, (service_options(svc.get('name', app), svc, unit) | load_json) if running else none, steps) }}
{%-   endif %}
{%- endfor %}
