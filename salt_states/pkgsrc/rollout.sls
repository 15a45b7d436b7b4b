{#- pkgsrc.rollout: roll an application out across minions, batch after batch, through the master.

    salt-run state.orchestrate pkgsrc.rollout pillar='{"rollout": {"target": "web*", "batch": "25%",
        "max_fail_percentage": 30, "package": "svc-demo", "prefix": "/usr/pkg"}}'

The `rollout` pillar (given on the command line): target, tgt_type (glob), batch (a number, or a
percentage of the minions; 25%), max_fail_percentage (0: any failure stops), sls (the states each
batch applies; pkgsrc.app), pillar (merged over the minions' own pillar, e.g. the version to roll
out), package and prefix (whose version the outcome file records), app (its name in the file;
default: package), out_file (default: a new file under the master's cachedir, pkgsrc-rollout/),
timeout (600 s).

Each batch applies the app formula, in which a failed health check rolls that minion back. A
batch in which more minions failed than max_fail_percentage allows fails, and the batches after it
(each requires the one before) do not run. The last step always runs: it writes each minion's
outcome (upgraded, unchanged, rolled back, failed, unreachable, not reached) to the outcome file. With test=True every
batch runs its states with test=True (each minion shows its plan; nothing is written anywhere). -#}
{%- if opts.get('__role') != 'master' %}
{{ raise('pkgsrc.rollout is an orchestration for the master: salt-run state.orchestrate pkgsrc.rollout pillar=...') }}
{%- endif %}
{%- set rollout = salt['pillar.get']('rollout', {}) or {} %}
{%- set plan = salt['saltutil.runner']('pkgsrc_rollout.plan', kwarg=rollout) %}
{%- if plan is not mapping %}
{{ raise('pkgsrc.rollout: the pkgsrc_rollout runner is missing on the master (salt-run saltutil.sync_runners): %s' % plan) }}
{%- elif plan.error %}
{{ raise('pkgsrc.rollout: ' ~ plan.error) }}
{%- endif %}
{%- set common = {'sls': rollout.get('sls', 'pkgsrc.app')} %}
{%- for key in ('pillar', 'package', 'prefix', 'timeout', 'saltenv', 'app') %}
{%-   if rollout.get(key) is not none %}
{%-     do common.update({key: rollout[key]}) %}
{%-   endif %}
{%- endfor %}
{%- for minions in plan.batches %}
{%-   set id = 'pkgsrc-rollout-batch-%d' % loop.index %}
{%-   if opts.get('test') %}
{{ id }}:
  salt.state:
    - tgt: {{ minions | tojson }}
    - tgt_type: list
    - sls: {{ common.sls | tojson }}
{%-     if common.get('pillar') %}
    - pillar: {{ common.pillar | tojson }}
{%-     endif %}
    - allow_fail: {{ plan.allow_fail[loop.index0] }}
{%-   else %}
{{ id }}:
  salt.runner:
    - name: pkgsrc_rollout.batch
    - number: {{ loop.index }}
    - minions: {{ minions | tojson }}
    - allow_fail: {{ plan.allow_fail[loop.index0] }}
    - out_file: {{ plan.out_file | tojson }}
{%-     for key, value in common | dictsort %}
    - {{ key }}: {{ value | tojson }}
{%-     endfor %}
{%-     if not loop.first %}
    - require:
      - pkgsrc-rollout-batch-{{ loop.index - 1 }}
{%-     endif %}
{%-   endif %}
{%- endfor %}

{%- if opts.get('test') %}
pkgsrc-rollout-outcome:
  test.show_notification:
    - text: {{ ('would roll out to %d minion(s) in %d batch(es) (%s), stop after a batch that loses more than '
                'allowed (%s per batch), and write each outcome to %s')
               | format(plan.minions | length, plan.batches | length,
                        plan.batches | map('join', ', ') | join(' | '), plan.allow_fail | join(', '), plan.out_file)
               | tojson }}
{%- else %}
pkgsrc-rollout-outcome:
  salt.runner:
    - name: pkgsrc_rollout.finish
    - minions: {{ plan.minions | tojson }}
    - out_file: {{ plan.out_file | tojson }}
    - target: {{ rollout.get('target') | tojson }}
{%-   for key in ('package', 'prefix', 'app') if common.get(key) %}
    - {{ key }}: {{ common[key] | tojson }}
{%-   endfor %}
{%- endif %}
