{#- pkgsrc.bootstrap: pkgsrc in the host-wide prefix, with its repositories.

    Acts when the pillar has pkgsrc:bootstrap. An empty mapping takes every default: the
    published, signed kit for this platform and the publisher's repositories. See
    pillar.example for the keys (prefix, repositories, branch, verified_installation, and the
    options of pkgsrc.bootstrap under bootstrap). -#}
{%- from "pkgsrc/macros.jinja" import bootstrap with context %}
{%- set unit = salt['pillar.get']('pkgsrc', {}) %}
{%- if unit.get('bootstrap') is mapping %}
{{ bootstrap('pkgsrc-bootstrap', unit) }}
{%- endif %}
