"""The pkgsrc.deploy demo: one application delivered with pkgsrc to a small mixed fleet, half of it by
Ansible and half by Salt, from the same core.

    make demo                               # scripts/demo.sh: set-up, then this driver
    .venv/bin/python -m tests.demo [--json FILE]

Steps: boot four real systemd hosts (tests/testbed; the host root is built on first use, about 90 s),
serve signed bootstrap kits, repositories and a pkgsrc source tree over real HTTP (tests/demo/artifacts.py),
and, where the real kit is (tests/realtools), a fifth host, real1, with the real pkg_install and pkgin;
deploy svc-demo (tests/demo/fleet.py says where and how) with ansible-playbook (tests/demo/playbook.yml)
and with the Salt formulas through a real salt-master and the Salt hosts' own minions (salt_states/pkgsrc,
pillar from tests/demo/salt_side.py), converge a second
time (nothing changes), change the configuration of one Ansible and one Salt host (only their services
restart), prove every application answers HTTP from the controller with its current greeting, print a fleet
summary from the pkgsrc facts, and tear everything down, also on failure or Ctrl-C.

Exit status 0 when every application answered with its own greeting, every service is active, the second run
changed nothing, the configuration change restarted exactly the services it concerned, and nothing was left.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from tests.demo import ansible_side, salt_side
from tests.demo.artifacts import Artifacts, publish
from tests.demo.fleet import FLEET, REAL_NODE, Node
from tests.demo.summary import Row, http_get, main_pid, packages, platform, service_state, table
from tests.fixtures.gpg import Signer, make_signer
from tests.realtools import missing_reason, real_kit_dir, required
from tests.testbed.netns import CONTROLLER_IP
from tests.testbed.rootfs import build_root, root_path
from tests.testbed.testbed import Testbed


class Clock:
    """Prints lines stamped with the seconds since the demo started."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def say(self, text: str) -> None:
        """One stamped line (continuation lines indented under it)."""
        lines = text.splitlines() or [""]
        sys.stdout.write("[%6.1fs] %s\n" % (self.elapsed(), lines[0]))
        for line in lines[1:]:
            sys.stdout.write("          %s\n" % line)
        sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    del frame
    raise KeyboardInterrupt("signal %d" % signum)


# The hosts whose configuration the demo changes after the second run: one per tool.
RECONFIGURED = ("web1", "salt1")


def _ansible_lines(result: ansible_side.PlayResult) -> List[str]:
    """The tasks that changed something or failed (the others said ok), then the recap."""
    lines = []
    for name, statuses in result.tasks:
        shown = ", ".join("%s %s" % (h, s) for h, s in sorted(statuses.items()) if s in ("changed", "fatal"))
        if shown:
            lines.append("  %-52s %s" % (name.split(" - ")[0], shown))
    for host, numbers in sorted(result.recap.items()):
        lines.append("  recap %-8s ok=%d changed=%d failed=%d unreachable=%d" % (
            host, numbers["ok"], numbers["changed"], numbers["failed"], numbers["unreachable"]))
    return lines


def _salt_lines(result: salt_side.ApplyResult) -> List[str]:
    """The states that changed something or failed, with the last line of their comment."""
    lines = []
    for sid, ok, changed, comment in result.states:
        if changed or ok is False:
            last = comment.splitlines()[-1] if comment else ""
            lines.append("  %-36s %-7s %s" % (sid, "failed" if ok is False else "changed", last[:72]))
    return lines


class Demo:
    """One run: the testbed, the artifacts, the deployments and the results."""

    def __init__(self, clock: Clock, workdir: Path) -> None:
        self.clock = clock
        self.workdir = workdir
        self.real_kit = real_kit_dir()
        self.fleet: Tuple[Node, ...] = FLEET + ((REAL_NODE,) if self.real_kit else ())
        self.tb: Optional[Testbed] = None
        self.signer: Optional[Signer] = None
        self.artifacts: Optional[Artifacts] = None
        self.inventory = workdir / "inventory.yml"
        self.synced = False
        self.result: Dict[str, Any] = {"hosts": {}, "expected": {}, "answers": {}, "services": {},
                                       "second_run_changes": {}, "config_change": {}, "ok": False}

    @property
    def testbed(self) -> Testbed:
        """The running testbed (after boot())."""
        if self.tb is None or self.artifacts is None:
            raise RuntimeError("the demo's testbed is not up")
        return self.tb

    def _nodes(self, tool: str) -> List[Node]:
        return [node for node in self.fleet if node.tool == tool]

    # ----- steps ---------------------------------------------------------------------------------
    def boot(self) -> None:
        """Build (or find) the host root, boot the fleet, serve the artifacts."""
        cached = (root_path() / "etc" / "pkgsrc-deploy-testbed.json").is_file()
        if not cached:
            self.clock.say("building the test hosts' Debian root (first run only, about 90 s)")
        root, seconds = build_root()
        self.clock.say("host root %s (%s)" % (root, "cached" if cached else "built in %.0f s" % seconds))
        self.tb = Testbed(self.workdir / "testbed", root=root)
        self.tb.up(len(self.fleet), names=[node.name for node in self.fleet])
        hosts = ", ".join("%s %s" % (h.name, h.ip) for h in self.tb.hosts)
        self.clock.say("fleet up in %.1f s: %s (systemd as PID 1, one network namespace each)"
                       % (self.tb.timings.get("up_s", 0.0), hosts))
        self.signer = make_signer(self.workdir / "gpg")
        self.artifacts = publish(self.tb.www_dir, self.tb.http_url, self.signer, self.real_kit)
        self.clock.say("serving at %s:\n%s" % (self.tb.http_url, "\n".join(
            "  %-22s %s" % (k, v) for k, v in self.artifacts.describe().items())))
        for node in self.fleet:
            self.clock.say("  %-6s %-7s as %-4s: %s" % (node.name, node.tool, node.user, node.how))
        started = time.monotonic()
        salt_hosts = [self.tb.host(node.name) for node in self._nodes("salt")]
        salt_side.start(self.tb, salt_hosts)
        self.clock.say("salt-master up on the controller (%s:4505/4506), minions of %s (their own Salt, "
                       "/opt/saltstack) accepted and answering: %.1f s"
                       % (CONTROLLER_IP, ", ".join(h.name for h in salt_hosts),
                          time.monotonic() - started))

    def _write_inputs(self) -> None:
        """The Ansible inventory and the Salt pillars for the fleet as it is now."""
        tb, artifacts = self.testbed, self.artifacts
        assert artifacts is not None
        ansible_side.write_inventory(tb, self._nodes("ansible"), artifacts, self.inventory)
        for node in self._nodes("salt"):
            salt_side.prepare(tb, tb.host(node.name), salt_side.pillar(node, artifacts), sync=not self.synced)
        self.synced = True

    def deploy(self, label: str) -> Dict[str, int]:
        """Run Ansible (one playbook for its nodes) and Salt (each node) at the same time; changes per host."""
        tb = self.testbed
        self._write_inputs()
        jobs: Dict[str, Callable[[], Any]] = {"ansible": lambda: ansible_side.deploy(tb, self.inventory)}
        for node in self._nodes("salt"):
            jobs[node.name] = (lambda n=node: salt_side.apply(tb, tb.host(n.name)))
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            done = {name: future.result() for name, future in futures.items()}
        changes: Dict[str, int] = {}
        failures: List[str] = []
        play = done.pop("ansible")
        names = ", ".join(n.name for n in self._nodes("ansible"))
        self.clock.say("%s: ansible-playbook tests/demo/playbook.yml (role pkgsrc.deploy.app; the modules on real1) "
                       "on %s: rc %d\n%s"
                       % (label, names, play.rc, "\n".join(_ansible_lines(play))))
        for host, numbers in play.recap.items():
            changes[host] = numbers["changed"]
        if play.rc != 0 or not play.recap:
            failures.append("ansible-playbook failed:\n" + play.output[-4000:])
        for host, applied in done.items():
            self.clock.say("%s: salt %s state.apply pkgsrc (through the master): %d states, %d changed\n%s"
                           % (label, host, len(applied.states), len(applied.changed),
                              "\n".join(_salt_lines(applied))))
            changes[host] = len(applied.changed)
            if applied.rc != 0 or applied.failed:
                failures.append("state.apply on %s failed:\n%s" % (host, applied.output[-4000:]))
        self.clock.say("%s took %.1f s" % (label, time.monotonic() - started))
        if failures:
            raise RuntimeError("\n".join(failures))
        return changes

    def _pids(self) -> Dict[str, str]:
        tb = self.testbed
        return {"%s %s" % (node.name, app.unit): main_pid(tb.host(node.name), node, app)
                for node in self.fleet for app in node.apps}

    def change_config(self) -> bool:
        """A new greeting for the first application of RECONFIGURED; True when exactly their services restarted."""
        before = self._pids()
        fleet = []
        for node in self.fleet:
            if node.name in RECONFIGURED:
                first = dataclasses.replace(node.apps[0], greeting=node.apps[0].greeting + ", reconfigured")
                node = dataclasses.replace(node, apps=(first,) + node.apps[1:])
            fleet.append(node)
        self.fleet = tuple(fleet)
        changes = self.deploy("config change on %s" % ", ".join(RECONFIGURED))
        after = self._pids()
        restarted = sorted(unit for unit in before if before[unit] != after[unit])
        wanted = sorted("%s %s" % (node.name, node.apps[0].unit) for node in self.fleet if node.name in RECONFIGURED)
        self.clock.say("restarted: %s (pid %s)" % (", ".join(restarted) or "nothing", ", ".join(
            "%s -> %s" % (before[u], after[u]) for u in restarted)))
        self.result["config_change"] = {"changes": changes, "restarted": restarted}
        return restarted == wanted and sorted(h for h, n in changes.items() if n) == sorted(RECONFIGURED)

    def prove(self) -> List[Row]:
        """GET / of every application from the controller; facts and service state of every host."""
        tb = self.testbed
        with ThreadPoolExecutor(max_workers=len(self.fleet)) as pool:
            from_ansible = pool.submit(ansible_side.facts, tb, self.inventory, self.workdir)
            from_salt = {node.name: pool.submit(salt_side.facts, tb, tb.host(node.name), node)
                         for node in self._nodes("salt")}
            facts: Dict[str, Dict[str, Any]] = dict(from_ansible.result())
            facts.update({name: future.result() for name, future in from_salt.items()})
        rows = []
        lines = []
        for node in self.fleet:
            host = tb.host(node.name)
            self.result["hosts"][node.name] = {"tool": node.tool, "user": node.user, "facts": facts.get(node.name)}
            for app in node.apps:
                answer = http_get(tb, host.ip, app.port)
                key = "%s:%d" % (node.name, app.port)
                self.result["expected"][key] = app.greeting
                self.result["answers"][key] = answer
                lines.append("  GET http://%s:%d/ (%s) -> %s" % (host.ip, app.port, key,
                                                                 " / ".join((answer or "NO ANSWER").splitlines())))
                state = service_state(host, node, app)
                self.result["services"][key] = state
                rows.append(Row(node.name, node.tool, node.user, platform(facts.get(node.name, {})), app.prefix,
                                packages(facts.get(node.name, {}), app.prefix, node.real),
                                app.unit + (" (user)" if app.scope == "user" else ""), state, answer))
        self.clock.say("every application, over HTTP from the controller:\n" + "\n".join(lines))
        return rows

    def answered(self, rows: Sequence[Row]) -> bool:
        """Every application answered with its current greeting (real1: its fixed answer) and every service is
        active."""
        greeted = all(app.answers(self.result["answers"].get("%s:%d" % (node.name, app.port)) or "")
                      for node in self.fleet for app in node.apps)
        return greeted and all(row.state == "active" for row in rows)

    def teardown(self) -> List[str]:
        """Stop and remove everything; returns what was left behind (nothing, normally)."""
        left: List[str] = []
        if self.signer is not None:
            self.signer.close()
        if self.tb is not None:
            left = self.tb.down()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return left


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; 0 when every check passed (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--json", type=Path, help="also write the results (answers, facts, timings) here")
    args = parser.parse_args(argv)
    clock = Clock()
    demo = Demo(clock, Path(tempfile.mkdtemp(prefix="pkgsrc-deploy-demo-")))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    fleet = demo.fleet
    apps = sum(len(node.apps) for node in fleet)
    clock.say("pkgsrc.deploy demo: svc-demo on %d hosts (%d applications): %s with Ansible, %s with Salt"
              % (len(fleet), apps, ", ".join(n.name for n in fleet if n.tool == "ansible"),
                 ", ".join(n.name for n in fleet if n.tool == "salt")))
    if demo.real_kit is None:
        clock.say("%s (the real pkg_install and pkgin) skipped: %s"
                  % (REAL_NODE.name, missing_reason().split(": ", 1)[1]))
        if required():
            clock.say("demo FAILED: PKGSRC_REQUIRE_REAL_KIT=1 (CI) and the real kit is missing")
            return 1
    problems: List[str] = []
    timings: Dict[str, float] = {}
    try:
        demo.boot()
        timings["boot_s"] = clock.elapsed()
        demo.deploy("first run")
        timings["first_run_s"] = clock.elapsed() - sum(timings.values())
        again = demo.deploy("second run")
        timings["second_run_s"] = clock.elapsed() - sum(timings.values())
        demo.result["second_run_changes"] = again
        if any(again.values()):
            problems.append("the second run changed something: %s" % again)
        if not demo.change_config():
            problems.append("the config change did not restart exactly the services of %s" % ", ".join(RECONFIGURED))
        timings["config_change_s"] = clock.elapsed() - sum(timings.values())
        rows = demo.prove()
        clock.say("fleet summary:\n" + table(rows))
        if not demo.answered(rows):
            problems.append("not every application answered with its greeting, or a service is not active")
    except KeyboardInterrupt as exc:
        problems.append("interrupted (%s)" % (exc or "Ctrl-C"))
    except Exception:  # pylint: disable=broad-except
        problems.append("an error:\n" + traceback.format_exc())
    finally:
        left = demo.teardown()
        signal.signal(signal.SIGTERM, previous)
        demo.result["leftovers"] = left
        clock.say("torn down: %s" % ("nothing left behind" if not left else "LEFT BEHIND: %s" % left))
    if demo.result["leftovers"]:
        problems.append("the teardown left things behind")
    timings["total_s"] = clock.elapsed()
    demo.result["timings"] = {k: round(v, 1) for k, v in timings.items()}
    demo.result["problems"] = problems
    demo.result["ok"] = not problems
    if args.json:
        args.json.write_text(json.dumps(demo.result, indent=1, sort_keys=True) + "\n")
    for problem in problems:
        clock.say("FAILED: " + problem)
    clock.say("demo %s in %.0f s" % ("PASSED" if not problems else "FAILED", timings["total_s"]))
    return 0 if not problems else 1
