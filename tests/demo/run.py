"""The pkgsrc.deploy demo: one application delivered with pkgsrc to a small mixed fleet, half of it by
Ansible and half by Salt, from the same core.

    make demo                               # scripts/demo.sh: set-up, then this driver
    .venv/bin/python -m tests.demo [--json FILE]

Steps: boot four real systemd hosts (tests/testbed; the host root is built on first use, about 90 s),
serve signed bootstrap kits, repositories and a pkgsrc source tree over real HTTP (tests/demo/artifacts.py),
deploy svc-demo (tests/demo/fleet.py says where and how) with ansible-playbook (tests/demo/playbook.yml)
and with the Salt formulas (salt_states/pkgsrc, pillar from tests/demo/salt_side.py), converge a second
time (nothing changes), prove every application answers HTTP from the controller, print a fleet summary
from the pkgsrc facts, and tear everything down, also on failure or Ctrl-C.

Exit status 0 when every application answered with its own greeting and the second run changed nothing.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from tests.demo import ansible_side, salt_side
from tests.demo.artifacts import Artifacts, publish
from tests.demo.fleet import FLEET, Node
from tests.demo.summary import Row, http_get, packages, platform, service_state, table
from tests.fixtures.gpg import Signer, make_signer
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


def _ansible_lines(result: ansible_side.PlayResult) -> List[str]:
    lines = []
    for name, statuses in result.tasks:
        if statuses:
            lines.append("  %-50s %s" % (name, ", ".join("%s %s" % (h, s) for h, s in sorted(statuses.items()))))
    for host, numbers in sorted(result.recap.items()):
        lines.append("  recap %-8s ok=%d changed=%d failed=%d unreachable=%d" % (
            host, numbers["ok"], numbers["changed"], numbers["failed"], numbers["unreachable"]))
    return lines


def _salt_lines(host: str, result: salt_side.ApplyResult) -> List[str]:
    lines = []
    for sid, ok, changed, comment in result.states:
        status = "failed" if ok is False else ("changed" if changed else "ok")
        first = comment.splitlines()[-1] if comment and (changed or ok is False) else ""
        lines.append("  %-8s %-36s %-8s %s" % (host, sid, status, first[:70]))
    return lines


class Demo:
    """One run: the testbed, the artifacts, the deployments and the results."""

    def __init__(self, clock: Clock, workdir: Path) -> None:
        self.clock = clock
        self.workdir = workdir
        self.tb: Optional[Testbed] = None
        self.signer: Optional[Signer] = None
        self.artifacts: Optional[Artifacts] = None
        self.inventory: Optional[Path] = None
        self.result: Dict[str, Any] = {"hosts": {}, "answers": {}, "services": {}, "second_run_changes": {},
                                       "ok": False}

    # ----- steps ---------------------------------------------------------------------------------
    def boot(self) -> None:
        """Build (or find) the host root, boot the fleet, serve the artifacts."""
        cached = (root_path() / "etc" / "pkgsrc-deploy-testbed.json").is_file()
        if not cached:
            self.clock.say("building the test hosts' Debian root (first run only, about 90 s)")
        root, seconds = build_root()
        self.clock.say("host root %s (%s)" % (root, "cached" if cached else "built in %.0f s" % seconds))
        self.tb = Testbed(self.workdir / "testbed", root=root)
        self.tb.up(len(FLEET), names=[node.name for node in FLEET])
        hosts = ", ".join("%s %s" % (h.name, h.ip) for h in self.tb.hosts)
        self.clock.say("fleet up in %.1f s: %s (systemd as PID 1, one network namespace each)"
                       % (self.tb.timings.get("up_s", 0.0), hosts))
        self.signer = make_signer(self.workdir / "gpg")
        self.artifacts = publish(self.tb.www_dir, self.tb.http_url, self.signer, self.workdir)
        self.clock.say("serving at %s:\n%s" % (self.tb.http_url, "\n".join(
            "  %-22s %s" % (k, v) for k, v in self.artifacts.describe().items())))
        for node in FLEET:
            self.clock.say("  %-6s %-7s as %-4s: %s" % (node.name, node.tool, node.user, node.how))

    def _nodes(self, tool: str) -> List[Node]:
        return [node for node in FLEET if node.tool == tool]

    def deploy(self, label: str) -> Dict[str, int]:
        """Run Ansible (one playbook for its nodes) and Salt (each node) at the same time; changes per host."""
        tb, artifacts = self.tb, self.artifacts
        assert tb is not None and artifacts is not None
        if self.inventory is None:
            self.inventory = ansible_side.write_inventory(tb, self._nodes("ansible"), artifacts,
                                                          self.workdir / "inventory.yml")
            for node in self._nodes("salt"):
                salt_side.prepare(tb, tb.host(node.name), salt_side.pillar(node, artifacts))
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
        self.clock.say("%s: ansible-playbook tests/demo/playbook.yml on %s: rc %d\n%s"
                       % (label, names, play.rc, "\n".join(_ansible_lines(play))))
        for host, numbers in play.recap.items():
            changes[host] = numbers["changed"]
        if play.rc != 0 or not play.recap:
            failures.append("ansible-playbook failed:\n" + play.output[-4000:])
        for host, applied in done.items():
            self.clock.say("%s: salt-call --local state.apply pkgsrc on %s: %d states, %d changed\n%s"
                           % (label, host, len(applied.states), len(applied.changed),
                              "\n".join(_salt_lines(host, applied))))
            changes[host] = len(applied.changed)
            if applied.rc != 0 or applied.failed:
                failures.append("state.apply on %s failed:\n%s" % (host, applied.output[-4000:]))
        self.clock.say("%s took %.1f s" % (label, time.monotonic() - started))
        if failures:
            raise RuntimeError("\n".join(failures))
        return changes

    def prove(self) -> List[Row]:
        """GET / of every application from the controller; facts and service state of every host."""
        tb = self.tb
        assert tb is not None and self.inventory is not None
        inventory = self.inventory
        with ThreadPoolExecutor(max_workers=len(FLEET)) as pool:
            from_ansible = pool.submit(ansible_side.facts, tb, inventory, self.workdir)
            from_salt = {node.name: pool.submit(salt_side.facts, tb, tb.host(node.name), node)
                         for node in self._nodes("salt")}
            facts: Dict[str, Dict[str, Any]] = dict(from_ansible.result())
            facts.update({name: future.result() for name, future in from_salt.items()})
        rows = []
        lines = []
        for node in FLEET:
            host = tb.host(node.name)
            self.result["hosts"][node.name] = {"tool": node.tool, "user": node.user, "facts": facts.get(node.name)}
            for app in node.apps:
                answer = http_get(tb, host.ip, app.port)
                key = "%s:%d" % (node.name, app.port)
                self.result["answers"][key] = answer
                lines.append("  GET http://%s:%d/ (%s) -> %s" % (host.ip, app.port, key,
                                                                 " / ".join((answer or "NO ANSWER").splitlines())))
                state = service_state(host, node, app)
                self.result["services"][key] = state
                rows.append(Row(node.name, node.tool, node.user, platform(facts.get(node.name, {})), app.prefix,
                                packages(facts.get(node.name, {}), app.prefix),
                                app.unit + (" (user)" if app.scope == "user" else ""), state, answer))
        self.clock.say("every application, over HTTP from the controller:\n" + "\n".join(lines))
        return rows

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
    """Run the demo; 0 when every application answered with its greeting and the second run changed nothing."""
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results (answers, facts, timings) here")
    args = parser.parse_args(argv)
    clock = Clock()
    demo = Demo(clock, Path(tempfile.mkdtemp(prefix="pkgsrc-deploy-demo-")))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    apps = sum(len(node.apps) for node in FLEET)
    clock.say("pkgsrc.deploy demo: svc-demo on %d hosts (%d applications): %s with Ansible, %s with Salt"
              % (len(FLEET), apps, ", ".join(n.name for n in FLEET if n.tool == "ansible"),
                 ", ".join(n.name for n in FLEET if n.tool == "salt")))
    ok = False
    timings: Dict[str, float] = {}
    try:
        demo.boot()
        timings["boot_s"] = clock.elapsed()
        demo.deploy("first run")
        timings["first_run_s"] = clock.elapsed() - timings["boot_s"]
        again = demo.deploy("second run")
        timings["second_run_s"] = clock.elapsed() - timings["boot_s"] - timings["first_run_s"]
        demo.result["second_run_changes"] = again
        rows = demo.prove()
        clock.say("fleet summary:\n" + table(rows))
        greeted = all(row.answer and "greeting: " in row.answer for row in rows)
        expected = {"%s:%d" % (n.name, a.port): a.greeting for n in FLEET for a in n.apps}
        greeted = greeted and all(expected[k] in (demo.result["answers"].get(k) or "") for k in expected)
        ok = greeted and not any(again.values()) and all(row.state == "active" for row in rows)
        if not ok:
            clock.say("FAILED: not every application answered with its greeting, or the second run changed "
                      "something (%s)" % again)
    except KeyboardInterrupt as exc:
        clock.say("interrupted (%s)" % (exc or "Ctrl-C"))
    except Exception:  # pylint: disable=broad-except
        clock.say("FAILED:\n" + traceback.format_exc())
    finally:
        left = demo.teardown()
        signal.signal(signal.SIGTERM, previous)
        demo.result["leftovers"] = left
        clock.say("torn down: %s" % ("nothing left behind" if not left else "LEFT BEHIND: %s" % left))
    timings["total_s"] = clock.elapsed()
    demo.result["timings"] = {k: round(v, 1) for k, v in timings.items()}
    demo.result["ok"] = ok and not demo.result["leftovers"]
    if args.json:
        args.json.write_text(json.dumps(demo.result, indent=1, sort_keys=True) + "\n")
    clock.say("demo %s in %.0f s" % ("PASSED" if demo.result["ok"] else "FAILED", timings["total_s"]))
    return 0 if demo.result["ok"] else 1
