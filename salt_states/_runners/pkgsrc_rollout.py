"""Salt runner for rolling an application out across minions in batches (the orchestration
``salt-run state.orchestrate pkgsrc.rollout``, salt_states/pkgsrc/rollout.sls, calls it).

    plan    the batches: the targeted minions (sorted), cut into batches, and how many of each
            batch may fail before the rollout stops (max_fail_percentage, as Ansible counts it)
    batch   one batch: state.sls (default pkgsrc.app) on its minions, each minion's outcome recorded
            in the outcome file; fails (so the next batch's requisite stops the rollout) when more
            minions failed than the batch may lose
    finish  every targeted minion that no batch reached is "not reached"; the outcome file is complete

The outcome file (JSON, on the master), the same shape as the Ansible rollout playbook's:
``{"app": ..., "check_mode": false, "hosts": {minion: {"outcome": ..., "version": ..., "message": ...}},
"rollout": {...}}``. A minion's outcome is read from its state run:

    upgraded     every state succeeded and the run changed something (the health check passed)
    unchanged    every state succeeded and nothing changed (no check ran)
    rolled back  its pkgsrc_service.healthy state rolled the run's changes back (the message says
                 why, and whether the previous version is healthy again)
    failed       anything else failed, and nothing was rolled back
    unreachable  it did not answer within the batch's timeout: its state is unknown
    not reached  the rollout stopped before its batch: untouched

``version`` is the installed version of ``package`` (when given) after the batch, null when unknown.
A batch's failures are its minions rolled back, failed or unreachable.

On the master, sync this runner first: ``salt-run saltutil.sync_runners`` (or sync_all), or install
the saltext-pkgsrc wheel.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone

import salt.client

__virtualname__ = "pkgsrc_rollout"

# Injected by the Salt loader when it loads this module; named here for readers and linters.
__opts__ = {}
__context__ = {}

OUTCOMES = ("upgraded", "unchanged", "rolled back", "failed", "unreachable", "not reached")
FAILURES = ("rolled back", "failed", "unreachable")
HEALTH_SUFFIX = "_|-healthy"


def __virtual__():
    return __virtualname__


def _client():
    """The LocalClient that publishes to the minions (a seam for tests)."""
    return salt.client.get_local_client(__opts__["conf_file"])


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _batch_size(batch, total):
    """A batch size (a number, or a percentage of total as "25%") -> a whole number of minions, 1 or more."""
    text = str(batch).strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 < percent <= 100:
                raise ValueError(text)
            return max(1, int(percent / 100.0 * total))
        size = int(text)
    except ValueError:
        raise ValueError("batch must be a number of minions or a percentage such as 25%%, not %r" % (batch,)) from None
    if size < 1:
        raise ValueError("batch must be 1 or more, not %r" % (batch,))
    return size


def _allowed(size, max_fail_percentage):
    """How many of a batch of size may fail: the rollout stops when failed / size * 100 > max_fail_percentage."""
    return int(size * max_fail_percentage // 100)


def plan(target=None, tgt_type="glob", batch="25%", max_fail_percentage=0, out_file=None, **kwargs):
    """
    The rollout's batches, without touching any minion: the minions ``target`` matches (by their
    accepted keys, sorted), cut into batches of ``batch`` (a number, or a percentage of them), with
    how many of each batch may fail (``max_fail_percentage``: the rollout stops after a batch in
    which a greater share failed), and the outcome file (default: a new file under the master's
    cachedir, pkgsrc-rollout/). On a wrong option: ``{"error": "..."}``.

    CLI Example:

    .. code-block:: bash

        salt-run pkgsrc_rollout.plan target='web*' batch=25% max_fail_percentage=30
    """
    del kwargs  # the orchestration passes the whole rollout mapping; the other keys are batch's
    if not target:
        return {"error": "rollout needs a target (the minions to roll out to), e.g. pillar='{\"rollout\": "
                         "{\"target\": \"web*\"}}'"}
    try:
        percent = float(max_fail_percentage)
    except (TypeError, ValueError):
        percent = -1.0
    if not 0 <= percent <= 100:
        return {"error": "max_fail_percentage must be a number from 0 to 100, not %r" % (max_fail_percentage,)}
    minions = sorted(_client().gather_minions(target, tgt_type) or [])
    if not minions:
        return {"error": "target %r (%s) matches no accepted minion" % (target, tgt_type)}
    try:
        size = _batch_size(batch, len(minions))
    except ValueError as exc:
        return {"error": str(exc)}
    batches = [minions[i:i + size] for i in range(0, len(minions), size)]
    if not out_file:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        out_file = os.path.join(__opts__["cachedir"], "pkgsrc-rollout", "rollout-%s.json" % stamp)
    return {"error": None, "minions": minions, "batches": batches,
            "allow_fail": [_allowed(len(b), percent) for b in batches], "out_file": out_file}


def _one_line(text, limit=2000):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _classify(ret):
    """(outcome, message) of one minion's state.sls return."""
    if not isinstance(ret, dict) or not all(isinstance(v, dict) for v in ret.values()):
        errors = ret if isinstance(ret, list) else [ret]
        return "failed", _one_line("the states did not run: %s" % "; ".join(str(e) for e in errors))
    for tag, result in sorted(ret.items()):
        changes = result.get("changes") or {}
        if tag.endswith(HEALTH_SUFFIX) and result.get("result") is False and "rolled_back" in changes:
            return "rolled back", _one_line(result.get("comment", ""))
    failed = ["%s: %s" % (tag.split("_|-")[1], result.get("comment", "")) for tag, result in sorted(ret.items())
              if result.get("result") is False]
    if failed:
        return "failed", _one_line("; ".join(failed))
    changed = sorted(tag.split("_|-")[1] for tag, result in ret.items() if result.get("changes"))
    if not changed:
        return "unchanged", "nothing to change: already as the pillar says"
    healthy = [r.get("comment", "") for t, r in sorted(ret.items()) if t.endswith(HEALTH_SUFFIX)]
    return "upgraded", _one_line("; ".join(["changed: %s" % ", ".join(changed)] + healthy))


def _versions(minions, package, prefix, timeout):
    """{minion: the installed version of package (None when not installed, or no answer)}."""
    if not package or not minions:
        return {}
    kwarg = {"prefix": prefix} if prefix else None
    out = _client().cmd(list(minions), "pkgsrc.version", arg=[package], tgt_type="list", timeout=timeout,
                        kwarg=kwarg) or {}
    return {m: out[m] if isinstance(out.get(m), str) and out[m] else None for m in minions}


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {"app": None, "check_mode": False, "hosts": {}, "rollout": {"batches": []}}
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        raise ValueError("%s is not a rollout outcome file" % path)
    data.setdefault("rollout", {}).setdefault("batches", [])
    return data


def _write(path, data):
    """Write the outcome file atomically (a temporary file renamed over it), mode 0644."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".rollout-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fail(message):
    """A failed runner call: salt-run and the orchestration's salt.runner state see success false."""
    __context__["retcode"] = 1
    return {"result": False, "comment": message}


def batch(minions=None, number=1, allow_fail=0, out_file=None, sls="pkgsrc.app", pillar=None, package=None,
          prefix=None, timeout=600, saltenv=None, app=None, **kwargs):  # pylint: disable=too-many-locals
    """
    Apply ``sls`` (default pkgsrc.app) to one batch of minions and record each one's outcome in
    ``out_file`` (batch 1 starts the file afresh). Fails when more than ``allow_fail`` of them were
    rolled back, failed or did not answer, so that the next batch, which requires this one, does not run.

    pillar
        Pillar data passed to state.sls (merged over the minions' own), e.g. the version to roll out.
    package, prefix
        The package whose installed version each outcome records, and its prefix.
    app
        The application's name, for the file (default: package).
    timeout
        Seconds the minions may stay silent before they count as failed (a running job keeps them
        answering).

    CLI Example:

    .. code-block:: bash

        salt-run pkgsrc_rollout.batch minions='[web1, web2]' out_file=/srv/rollout.json package=svc-demo
    """
    del kwargs  # the salt.runner state adds __pub_user and the like
    if not minions or not out_file:
        return _fail("pkgsrc_rollout.batch needs minions (a list) and out_file")
    minions = [str(m) for m in minions]
    kwarg = {}
    if pillar:
        kwarg["pillar"] = pillar
    if saltenv:
        kwarg["saltenv"] = saltenv
    started = _now()
    returns = _client().cmd(minions, "state.sls", arg=[sls], tgt_type="list", timeout=int(timeout),
                            kwarg=kwarg or None, full_return=True) or {}
    versions = _versions(minions, package, prefix, min(int(timeout), 60))
    data = _read(out_file) if int(number) > 1 else {"hosts": {}, "rollout": {"batches": []}}
    data.update({"app": app or package, "check_mode": False})
    outcomes = {}
    for minion in minions:
        answer = returns.get(minion)
        if not isinstance(answer, dict) or "ret" not in answer:
            outcome, message = "unreachable", ("no answer from the minion within %s s (down, or not connected to "
                                               "the master): its state is unknown" % timeout)
        else:
            outcome, message = _classify(answer["ret"])
        outcomes[minion] = outcome
        data["hosts"][minion] = {"outcome": outcome, "version": versions.get(minion), "message": message,
                                 "batch": int(number)}
    failed = sorted(m for m, o in outcomes.items() if o in FAILURES)
    stopped = len(failed) > int(allow_fail)
    data["rollout"]["batches"].append({"number": int(number), "minions": minions, "failed": failed,
                                       "allow_fail": int(allow_fail), "stopped": stopped, "start": started,
                                       "end": _now()})
    _write(out_file, data)
    summary = "batch %s: %s" % (number, ", ".join("%s %s" % (m, outcomes[m]) for m in minions))
    if stopped:
        return _fail("%s; %d failed, more than the %d this batch may lose: the rollout stops here (%s)"
                     % (summary, len(failed), int(allow_fail), out_file))
    return {"result": True, "comment": summary, "out_file": out_file}


def finish(minions=None, out_file=None, target=None, package=None, prefix=None, app=None, **kwargs):
    """
    Complete the outcome file: every minion of the rollout that no batch reached is "not reached"
    (with its current version of ``package``). Returns the count of each outcome; fails when a minion
    was rolled back, failed or did not answer, or the rollout stopped (as ansible-playbook does).

    CLI Example:

    .. code-block:: bash

        salt-run pkgsrc_rollout.finish minions='[web1, web2, web3]' out_file=/srv/rollout.json
    """
    del kwargs
    if not out_file:
        return _fail("pkgsrc_rollout.finish needs out_file")
    try:
        data = _read(out_file)
    except (OSError, ValueError) as exc:
        return _fail("cannot read the outcome file: %s" % exc)
    unreached = [str(m) for m in minions or [] if str(m) not in data["hosts"]]
    versions = _versions(unreached, package, prefix, 30)
    for minion in unreached:
        data["hosts"][minion] = {"outcome": "not reached", "version": versions.get(minion),
                                 "message": "the rollout stopped before this minion's batch"}
    stopped = any(b.get("stopped") for b in data["rollout"]["batches"])
    data["rollout"].update({"target": target, "end": _now(), "stopped": stopped})
    data["app"] = data.get("app") or app or package
    data["check_mode"] = False
    _write(out_file, data)
    counts = {o: sum(1 for h in data["hosts"].values() if h["outcome"] == o) for o in OUTCOMES}
    clean = not any(counts[o] for o in FAILURES) and not stopped
    result = {"result": clean, "out_file": out_file, "counts": counts,
              "comment": "rollout %s: %s; outcomes in %s" % (
                  "complete" if clean else "stopped" if stopped else "done with failures",
                  ", ".join("%d %s" % (n, o) for o, n in counts.items() if n), out_file)}
    if not clean:
        __context__["retcode"] = 1
    return result
