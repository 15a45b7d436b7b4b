"""The fleet report end to end on this machine: real facts of real-format prefixes, the CLI as a
subprocess, the three outputs (and, where Chromium is installed, a screenshot of the HTML page),
the Salt runner over a stand-in LocalClient, and playbooks/report.yml run by ansible-playbook
against localhost and an unreachable ssh host.

Hosts: one without pkgsrc, one with a vulnerable package (hello-1.0, per the samples' real
pkg-vulnerabilities list), one matching the desired set, and one unreachable.
"""
from __future__ import annotations

import html.parser
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pkgsrc_core.facts import gather_facts
from pkgsrc_core.report.schema import REPORT_SCHEMA, validate
from pkgsrc_core.runner import SubprocessRunner
from tests.fixtures.demo import foo_tool_spec, hello_spec, libfoo_spec
from tests.fixtures.local import make_local_prefix
from tests.fixtures.packages import write_pkgdb_entry

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
COLLECTIONS_PATH = REPO_ROOT / "build" / "collections"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO_URL = "http://127.0.0.1:9/packages/Linux/el9/x86_64/2025Q3/All"
DESIRED_YAML = """\
# what every host should hold in its first prefix
packages:
  hello: ">=1.1"
  foo-tool: ">=3"
"""
UNREACHABLE_ERROR = "Failed to connect to the host via ssh: ssh: connect to host 192.0.2.7 port 22: Connection refused"
EXPECTED = {
    "bare.example.org": "red",
    "vulnerable.example.org": "red",
    "current.example.org": "green",
    "down.example.org": "red",
}


def _prefix_facts(root: Path, packages, samples_dir: Path):
    """Real facts of a real-format prefix under root holding the bootstrap kit and packages."""
    local = make_local_prefix(root, [REPO_URL])
    for spec, automatic in packages:
        write_pkgdb_entry(local.pkgdb, spec, automatic=automatic)
    shutil.copy(samples_dir / "pkgdb-final" / "pkg-vulnerabilities", local.pkgdb / "pkg-vulnerabilities")
    return _facts(str(local.prefix))


def _facts(prefix=None):
    facts = gather_facts(SubprocessRunner(timeout=60), [prefix] if prefix else [])
    facts["prefixes"] = [p for p in facts["prefixes"] if p["prefix"] == prefix]
    facts["bootstrapped"] = bool(facts["prefixes"])
    return facts


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, samples_dir):
    """{host: facts} of the three reachable hosts, and the desired-set file."""
    root = tmp_path_factory.mktemp("fleet")
    hosts = {
        "bare.example.org": _facts(None),
        "vulnerable.example.org": _prefix_facts(root / "vulnerable", [
            (hello_spec("1.0"), False), (libfoo_spec(), True), (foo_tool_spec(), False)], samples_dir),
        "current.example.org": _prefix_facts(root / "current", [
            (hello_spec("1.1"), False), (libfoo_spec(), True), (foo_tool_spec(), False)], samples_dir),
    }
    desired = root / "desired.yml"
    desired.write_text(DESIRED_YAML)
    return hosts, desired


def _shapes(hosts):
    """The same fleet in each input shape the CLI reads: name -> file text."""
    salt_static = dict(hosts, **{"down.example.org": "Minion did not return. [No response]"})
    ansible = {name: {"changed": False, "ansible_facts": {"pkgsrc": facts}} for name, facts in hosts.items()}
    ansible["down.example.org"] = {"unreachable": True, "changed": False, "msg": UNREACHABLE_ERROR}
    records = [{"host": name, "facts": facts} for name, facts in hosts.items()]
    records.append({"host": "down.example.org", "unreachable": True, "error": UNREACHABLE_ERROR})
    return {
        "salt-static": json.dumps(salt_static),
        "salt-stream": "\n".join(json.dumps({name: value}, indent=4) for name, value in salt_static.items()),
        "ansible": json.dumps(ansible),
        "records": json.dumps(records),
    }


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "plugins" / "module_utils"))
    return subprocess.run([sys.executable, "-m", "pkgsrc_core.report.cli"] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False)


class PageParser(html.parser.HTMLParser):
    """What the report page holds: host rows and detail blocks with their status, external refs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = {}
        self.details = {}
        self.refs = []
        self.tags = []
        self.scripts = 0
        self.csp = None
        self._row = None
        self._cell = 0
        self._text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href", "action", "srcset", "data", "poster"):
            if key in attrs:
                self.refs.append((tag, key, attrs[key]))
        if tag == "script":
            self.scripts += 1
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.csp = attrs.get("content")
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "host" in classes:
            self._row = [c for c in classes if c.startswith("status-")]
            self._cell = 0
        if tag == "td" and self._row is not None:
            self._cell += 1
            self._text = []
        if tag == "details" and "host" in classes:
            self.details[attrs["id"]] = [c for c in classes if c.startswith("status-")]

    def handle_data(self, data):
        if self._row is not None and self._cell == 2:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell == 2:
            self.rows["".join(self._text).strip()] = self._row
        if tag == "tr":
            self._row = None


def check_outputs(out: Path):
    """The three files mark every host as EXPECTED says; returns the parsed page."""
    report = json.loads((out / "report.json").read_text())
    assert validate(report) == []
    assert {h["host"]: h["status"] for h in report["hosts"]} == EXPECTED
    by_name = {h["host"]: h for h in report["hosts"]}
    assert by_name["bare.example.org"]["reasons"][0] == "no pkgsrc prefix found"
    assert by_name["bare.example.org"]["bootstrapped"] is False
    vulnerable = by_name["vulnerable.example.org"]
    assert vulnerable["vulnerable_packages"] == ["hello-1.0"]
    assert vulnerable["prefixes"][0]["vulnerabilities"] == [{
        "pkgname": "hello-1.0", "type": "denial-of-service", "level": "medium",
        "url": "https://example.org/advisories/HELLO-2025-0001"}]
    assert vulnerable["drift"]["wrong_version"] == [{"pattern": "hello>=1.1", "installed": ["hello-1.0"]}]
    current = by_name["current.example.org"]
    assert current["reasons"] == [] and current["audit"] == "clean"
    assert current["prefixes"][0]["branch"] == "2025Q3"
    assert current["prefixes"][0]["pkgin_version"] == "26.4.0"
    assert current["drift"] == {"prefix": current["prefixes"][0]["prefix"], "prefix_found": True,
                                "missing": [], "wrong_version": [], "extra": [], "automatic": []}
    assert by_name["down.example.org"]["state"] == "unreachable"
    assert report["summary"] == {"hosts": 4, "red": 3, "amber": 0, "green": 1, "unreachable": 1, "failed": 0,
                                 "without_pkgsrc": 1, "vulnerable": 1, "audit_unknown": 0, "drifted": 2,
                                 "interrupted": 0}
    hello = next(p for p in report["packages"] if p["name"] == "hello")
    assert hello["versions"] == [{"version": "1.0", "hosts": ["vulnerable.example.org"]},
                                 {"version": "1.1", "hosts": ["current.example.org"]}]

    text = (out / "report.txt").read_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = {line.split()[1]: line.split()[0] for line in lines if line.split()[1:2] and line.split()[1] in EXPECTED}
    assert rows == {name: status.upper() for name, status in EXPECTED.items()}
    assert "  - no pkgsrc prefix found" in lines
    assert "    hello-1.0: denial-of-service vulnerability (medium)" in lines
    assert "current.example.org  GREEN" not in text  # green hosts get no details section
    assert any(line.startswith("  down.example.org: ") for line in lines)

    page = (out / "report.html").read_text()
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert dict(parser.rows) == {
        host: ["status-" + status] for host, status in EXPECTED.items()}
    assert sorted(cls for classes in parser.details.values() for cls in classes) == sorted(
        "status-" + s for s in EXPECTED.values())
    assert all(value.startswith("#") for _tag, key, value in parser.refs if key == "href"), parser.refs
    assert not [r for r in parser.refs if r[1] != "href"], parser.refs
    assert "@import" not in page and "url(" not in page
    assert "link" not in parser.tags and "iframe" not in parser.tags
    assert parser.csp and "default-src 'none'" in parser.csp
    assert parser.scripts == 1
    return report


@pytest.mark.parametrize("shape", ["salt-static", "salt-stream", "ansible", "records"])
def test_cli_marks_every_host_in_all_formats(fleet, tmp_path, shape):
    hosts, desired = fleet
    facts = tmp_path / "facts.json"
    facts.write_text(_shapes(hosts)[shape])
    out = tmp_path / "out"
    done = run_cli("--input", facts, "--desired", desired, "--out-dir", out, "--generated", "2026-11-21T21:00:00Z")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert sorted(os.listdir(out)) == ["report.html", "report.json", "report.txt"]
    check_outputs(out)


@pytest.mark.parametrize("fail_on, status", [("never", 0), ("red", 1), ("amber", 1)])
def test_cli_exit_status_for_cron(fleet, tmp_path, fail_on, status):
    hosts, _desired = fleet
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(hosts))
    done = run_cli("--input", facts, "--fail-on", fail_on)
    assert done.returncode == status, done.stderr
    assert done.stdout.startswith("pkgsrc fleet report, ")  # text on stdout: cron mails it


def test_cli_fail_on_red_passes_a_green_fleet(fleet, tmp_path):
    hosts, desired = fleet
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"current.example.org": hosts["current.example.org"]}))
    done = run_cli("--input", facts, "--desired", desired, "--fail-on", "amber", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["green"] == 1


@pytest.mark.parametrize("content, message", [
    ("not json", "is not JSON"),
    ('{"facts_version": 1, "prefixes": []}', "without its name"),
    ("[1, 2]", "has no host name"),
])
def test_cli_bad_input_exits_2_with_a_hint(tmp_path, content, message):
    facts = tmp_path / "facts.json"
    facts.write_text(content)
    done = run_cli("--input", facts)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_cli_reads_a_tree_directory(fleet, tmp_path):
    hosts, _desired = fleet
    tree = tmp_path / "tree"
    tree.mkdir()
    for name, facts in hosts.items():
        (tree / name).write_text(json.dumps({"changed": False, "ansible_facts": {"pkgsrc": facts}}))
    (tree / "down.example.org").write_text(json.dumps({"unreachable": True, "msg": UNREACHABLE_ERROR}))
    done = run_cli("--input", tree, "--format", "json")
    report = json.loads(done.stdout)
    assert [h["state"] for h in report["hosts"]] == ["ok", "ok", "unreachable", "ok"]


def test_published_schema_matches_the_code(repo_root):
    published = json.loads((repo_root / "docs" / "report.schema.json").read_text())
    assert published == json.loads(json.dumps(REPORT_SCHEMA))


def test_report_validates_with_jsonschema(fleet, tmp_path, repo_root):
    jsonschema = pytest.importorskip("jsonschema")
    hosts, desired = fleet
    facts = tmp_path / "facts.json"
    facts.write_text(_shapes(hosts)["ansible"])
    done = run_cli("--input", facts, "--desired", desired, "--format", "json")
    schema = json.loads((repo_root / "docs" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(done.stdout), schema, cls=jsonschema.Draft202012Validator)


def test_launcher_script_runs_the_cli(fleet, tmp_path):
    hosts, _desired = fleet
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(hosts))
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "pkgsrc-report"), "--input", str(facts),
                           "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["hosts"] == 3


def _png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")
def test_html_renders_in_headless_chromium(fleet, tmp_path):
    hosts, desired = fleet
    facts = tmp_path / "facts.json"
    facts.write_text(_shapes(hosts)["ansible"])
    out = tmp_path / "out"
    assert run_cli("--input", facts, "--desired", desired, "--out-dir", out).returncode == 0
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             "--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=1200,900"]
    subprocess.run([CHROMIUM] + flags + ["--screenshot=%s" % shot, (out / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert _png_size(shot) == (1200, 900)
    assert shot.stat().st_size > 20000  # a blank page compresses to a few kB
    # The DOM after the scripts ran: the page built no external request and the sort code loaded.
    dom = subprocess.run([CHROMIUM] + flags + ["--dump-dom", (out / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    assert 'aria-sort="none"' in dom and 'tabindex="0"' in dom
    # Click the Host heading twice (test code appended to a copy): rows sort by name, descending.
    clicked = out / "clicked.html"
    clicked.write_text((out / "report.html").read_text().replace(
        "</body>", "<script>var th = document.querySelectorAll('#host-table th')[1]; th.click(); th.click();"
                   "</script></body>"))
    dom = subprocess.run([CHROMIUM] + flags + ["--dump-dom", clicked.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    table = dom[dom.index('id="host-table"'):dom.index("</table>", dom.index('id="host-table"'))]
    order = re.findall(r'<a href="#host-\d+">([^<]+)</a>', table)
    assert order == sorted(EXPECTED, reverse=True)
    assert 'aria-sort="descending"' in table
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["REPORT_SCREENSHOT"])


# --- Salt runner over a stand-in LocalClient -----------------------------------------------------

def _load_runner():
    path = REPO_ROOT / "salt_states" / "_runners" / "pkgsrc_report.py"
    spec = importlib.util.spec_from_file_location("pkgsrc_report_runner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeClient:
    """LocalClient's cmd and gather_minions as salt-master would answer for the fleet."""

    def __init__(self, returns, expected):
        self.returns = returns
        self.expected = expected
        self.calls = []

    def cmd(self, tgt, fun, arg=(), timeout=None, tgt_type="glob", **kwargs):
        self.calls.append((tgt, fun, list(arg), timeout, tgt_type))
        del kwargs
        return dict(self.returns)

    def gather_minions(self, tgt, tgt_type):
        del tgt, tgt_type
        return list(self.expected)


def test_salt_runner_writes_the_report_and_marks_silent_minions(fleet, tmp_path):
    pytest.importorskip("salt")
    hosts, desired = fleet
    runner = _load_runner()
    client = FakeClient(hosts, list(hosts) + ["down.example.org"])
    runner.__opts__ = {"conf_file": "/nonexistent/master"}
    runner._client = lambda opts: client
    result = runner.render(out_dir=str(tmp_path / "out"), tgt="*", desired=str(desired), timeout=30)
    assert client.calls == [("*", "pkgsrc.facts", [], 30, "glob")]
    assert result["summary"]["unreachable"] == 1 and result["worst"] == "red"
    names = ("report.html", "report.json", "report.txt")
    assert sorted(result["files"]) == sorted(str(tmp_path / "out" / f) for f in names)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    down = next(h for h in report["hosts"] if h["host"] == "down.example.org")
    assert down["state"] == "unreachable" and "did not return" in down["error"]


# --- the Salt runner with a real salt-master and salt-minion on 127.0.0.1 ------------------------

def _free_ports(count):
    socks = [socket.socket() for _unused in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _salt(tmp, *argv, timeout=120):
    return subprocess.run([str(VENV_BIN / argv[0]), "-c", str(tmp / "conf-master")] + list(argv[1:]),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def salt_master(tmp_path_factory):
    """A master (auto_accept) with one running minion, m1.example.org, and one accepted key
    whose minion never runs, ghost.example.org; file_roots is the repository's salt_states."""
    if not (VENV_BIN / "salt-master").exists():
        pytest.skip("no salt-master in .venv")
    tmp = tmp_path_factory.mktemp("salt")
    root = tmp / "root"
    publish, ret = _free_ports(2)
    common = "root_dir: {root}\nuser: root\nsock_dir: {root}/sock/{role}\npidfile: {root}/{role}.pid\n" \
             "log_file: {root}/{role}.log\ncachedir: {root}/cache/{role}\npki_dir: {root}/pki/{role}\n"
    (tmp / "conf-master").mkdir()
    (tmp / "conf-master" / "master").write_text(common.format(root=root, role="master") + (
        "interface: 127.0.0.1\npublish_port: %d\nret_port: %d\nauto_accept: True\ngather_job_timeout: 3\n"
        "fileserver_list_cache_time: 0\nextension_modules: %s/extmods\nfile_roots:\n  base:\n    - %s\n"
        % (publish, ret, root, REPO_ROOT / "salt_states")))
    (tmp / "conf-minion").mkdir()
    (tmp / "conf-minion" / "minion").write_text(common.format(root=root, role="minion") + (
        "id: m1.example.org\nmaster: 127.0.0.1\nmaster_port: %d\npublish_port: %d\n" % (ret, publish)))
    procs = []
    try:
        for daemon, conf in (("salt-master", "conf-master"), ("salt-minion", "conf-minion")):
            procs.append(subprocess.Popen([str(VENV_BIN / daemon), "-c", str(tmp / conf), "-l", "quiet"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            time.sleep(1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if '"m1.example.org": true' in _salt(tmp, "salt", "m1.example.org", "test.ping", "--out=json",
                                                 "--timeout=5").stdout:
                break
            time.sleep(1)
        else:
            pytest.fail("the test minion did not answer test.ping")
        # An accepted key with no minion behind it: targeted, never answers.
        keys = tmp / "ghost-keys"
        _salt(tmp, "salt-key", "--gen-keys=ghost", "--gen-keys-dir=%s" % keys)
        shutil.copy(keys / "ghost.pub", root / "pki" / "master" / "minions" / "ghost.example.org")
        for argv in (("salt-run", "saltutil.sync_all"), ("salt", "m1.example.org", "saltutil.sync_all")):
            assert _salt(tmp, *argv).returncode == 0
        yield tmp
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def minion_prefix(tmp_path_factory, samples_dir):
    """A prefix with the vulnerable hello-1.0, for the real minion to find (prefixes=...)."""
    root = tmp_path_factory.mktemp("minion")
    local = make_local_prefix(root, [REPO_URL])
    write_pkgdb_entry(local.pkgdb, hello_spec("1.0"))
    shutil.copy(samples_dir / "pkgdb-final" / "pkg-vulnerabilities", local.pkgdb / "pkg-vulnerabilities")
    return str(local.prefix)


@pytest.mark.slow
def test_salt_run_renders_the_report(salt_master, minion_prefix, tmp_path):
    out = tmp_path / "out"
    done = _salt(salt_master, "salt-run", "--out=json", "pkgsrc_report.render", "out_dir=%s" % out, "timeout=5",
                 "fail_on=red", 'prefixes=["%s"]' % minion_prefix)
    assert done.returncode == 1, done.stdout + done.stderr  # fail_on=red, and both hosts are red
    result = json.loads(done.stdout)
    assert result["worst"] == "red" and result["retcode"] == 1
    report = json.loads((out / "report.json").read_text())
    assert validate(report) == []
    hosts = {h["host"]: h for h in report["hosts"]}
    assert sorted(hosts) == ["ghost.example.org", "m1.example.org"]
    assert hosts["ghost.example.org"]["state"] == "unreachable"
    assert hosts["ghost.example.org"]["error"] == "Minion did not return. [No response]"
    m1 = hosts["m1.example.org"]
    assert [p["prefix"] for p in m1["prefixes"]] == [minion_prefix]
    assert m1["vulnerable_packages"] == ["hello-1.0"] and m1["status"] == "red"
    assert "RED    ghost.example.org" in (out / "report.txt").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("static", [True, False])
def test_cli_reads_real_salt_json_output(salt_master, minion_prefix, tmp_path, static):
    argv = ["salt", "--out=json", "--timeout=5", "*", "pkgsrc.facts", 'prefixes=["%s"]' % minion_prefix]
    done = _salt(salt_master, *(argv + (["--static"] if static else [])))
    facts = tmp_path / "facts.json"
    facts.write_text(done.stdout)
    cli = run_cli("--input", facts, "--format", "json")
    assert cli.returncode == 0, cli.stderr
    states = {h["host"]: (h["state"], h["status"]) for h in json.loads(cli.stdout)["hosts"]}
    expected = {"ghost.example.org": ("unreachable", "red"), "m1.example.org": ("ok", "red")}
    if static:
        # `salt --static` leaves silent minions out of its JSON: only the runner (or the output
        # without --static) can report them. docs/report.md says so.
        del expected["ghost.example.org"]
    assert states == expected


# --- playbooks/report.yml with ansible-playbook -------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not (VENV_BIN / "ansible-playbook").exists(), reason="no ansible-playbook in .venv")
def test_playbook_reports_reachable_and_unreachable_hosts(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n"
        "  hosts:\n"
        "    localhost:\n"
        "      ansible_connection: local\n"
        "      ansible_python_interpreter: %s\n"
        "    gone.invalid:\n"
        "      ansible_host: 127.0.0.1\n"
        "      ansible_port: 1\n"
        "      ansible_connection: ssh\n"
        "      ansible_ssh_common_args: -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o BatchMode=yes\n"
        % sys.executable)
    report_dir = tmp_path / "report"
    desired = tmp_path / "desired.json"
    desired.write_text(json.dumps(["hello"]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "--forks", "10",
                           str(REPO_ROOT / "playbooks" / "report.yml"),
                           "-e", "report_dir=%s" % report_dir, "-e", "report_desired_file=%s" % desired],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((report_dir / "report.json").read_text())
    states = {h["host"]: h["state"] for h in report["hosts"]}
    assert states == {"localhost": "ok", "gone.invalid": "unreachable"}
    gone = next(h for h in report["hosts"] if h["host"] == "gone.invalid")
    assert "port 1" in gone["error"] or "refused" in gone["error"].lower()
    assert (report_dir / "report.txt").read_text().startswith("pkgsrc fleet report")
    assert "<html" in (report_dir / "report.html").read_text()
    assert (report_dir / "facts.json").exists()
