"""Salt runner for the pkgsrc fleet report: ask the minions for ``pkgsrc.facts``, write the report.

Minions that were targeted but did not answer are reported as unreachable, not dropped. The
report is the same as the Ansible playbook's (the shared pkgsrc_core library renders both):
report.txt, report.json and report.html in ``out_dir``.

On the master, sync this runner and the core first: ``salt-run saltutil.sync_all`` (it copies
``_runners`` and ``_utils``), or install the saltext-pkgsrc wheel.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

import salt.client
from salt.exceptions import SaltInvocationError

try:
    from pkgsrc_core.report import model as core_report
    from pkgsrc_core.report import cli as report_cli
    from pkgsrc_core.errors import PkgsrcError
    from pkgsrc_core.report.inputs import host_input, load_desired

    HAS_CORE = True
except ImportError:  # pragma: no cover - reported by __virtual__
    HAS_CORE = False

__virtualname__ = "pkgsrc_report"

# Injected by the Salt loader when it loads this module; named here for readers and linters.
__opts__ = {}
__context__ = {}


def __virtual__():
    if not HAS_CORE:
        return (False, "pkgsrc_core is missing on the master: run salt-run saltutil.sync_all, "
                       "or install the saltext-pkgsrc wheel")
    return __virtualname__


def _client(opts):
    """The LocalClient that publishes to the minions (a seam for tests)."""
    return salt.client.get_local_client(opts["conf_file"])


def _formats(formats):
    names = sorted(report_cli.FILES) if formats == "all" else [f.strip() for f in str(formats).split(",")]
    unknown = [f for f in names if f not in report_cli.FILES]
    if unknown:
        raise SaltInvocationError("unknown format(s) %s: use text, json, html or all" % ", ".join(unknown))
    return names


def render(out_dir, tgt="*", tgt_type="glob", desired=None, timeout=60, formats="all", prefixes=None,
           fail_on="never"):
    """
    Gather ``pkgsrc.facts`` from the targeted minions and write the fleet report to ``out_dir``.

    out_dir
        Directory for report.txt, report.json and report.html (made if missing).
    tgt, tgt_type
        Which minions, as for ``salt``: default every minion.
    desired
        Path (on the master) of a desired package set: a JSON or YAML list of patterns, or a
        mapping name: version-constraint.
    timeout
        Seconds to wait for the minions; those that have not answered are reported unreachable.
    formats
        ``all`` or a comma-separated list of text, json, html.
    prefixes
        Further prefixes for pkgsrc.facts to look at on every minion.
    fail_on
        ``red``, ``amber`` or ``never``: salt-run exits 1 when a host is that bad or worse.

    Returns the files written, the host counts, the worst status and the exit status (retcode).

    CLI Example:

    .. code-block:: bash

        salt-run pkgsrc_report.render out_dir=/var/www/pkgsrc-report
        salt-run pkgsrc_report.render out_dir=/srv/report tgt='G@os:SmartOS' tgt_type=compound \\
            desired=/srv/pkgsrc/desired.yml fail_on=red
    """
    if fail_on not in ("red", "amber", "never"):
        raise SaltInvocationError("fail_on must be red, amber or never")
    names = _formats(formats)
    try:
        wanted = load_desired(desired) if desired else None
    except PkgsrcError as exc:
        raise SaltInvocationError(str(exc)) from None
    client = _client(__opts__)
    kwarg = {"prefixes": list(prefixes)} if prefixes else None
    returns = client.cmd(tgt, "pkgsrc.facts", arg=[], timeout=timeout, tgt_type=tgt_type, kwarg=kwarg) or {}
    expected = client.gather_minions(tgt, tgt_type) or []
    silent = "Minion did not return within %s s (down, or not connected to the master)" % timeout
    hosts = {}
    for minion in set(expected) | set(returns):
        value = returns.get(minion)
        hosts[minion] = host_input(silent if value is None or value is False else value)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = core_report.build_report(hosts, wanted, generated)
    os.makedirs(out_dir, exist_ok=True)
    files = []
    for name, text in report_cli.render(report, names).items():
        path = os.path.join(out_dir, report_cli.FILES[name])
        report_cli.write_atomic(path, text)
        files.append(path)
    retcode = report_cli.exit_status(report, fail_on)
    if retcode:
        __context__["retcode"] = retcode
    # salt-run exits with a returned "retcode" (as the orchestrate runner does).
    return {"files": sorted(files), "summary": report["summary"], "worst": core_report.worst_status(report),
            "retcode": retcode}
