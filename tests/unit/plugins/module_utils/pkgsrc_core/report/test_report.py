"""The fleet report: model (report.py), schema (report_schema.py), renderers (report_text.py,
report_html.py), input readers (report_input.py) and the command line (report_cli.py).

Package names, versions and vulnerabilities are the samples' real ones (the demo repository's
pkg_summary and the pkg-vulnerabilities list fetched in the sample scenario); the first tests
check the tables below against those files, so the tables cannot drift from them.
"""
from __future__ import annotations

import copy
import html.parser
import json
import re

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import cli as report_cli
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import html as report_html
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import inputs as report_input
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import model as report
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import schema as report_schema
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import text as report_text
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.audit import (
    match_vulnerabilities,
    parse_audit_output,
    parse_vulnerability_list,
)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError, ReportError

# (pattern, type, url) of the samples' pkg-vulnerabilities (pkgdb-final/pkg-vulnerabilities).
VULN_LIST = [
    ("hello<1.1", "denial-of-service", "https://example.org/advisories/HELLO-2025-0001"),
    ("libfoo<2.0nb1", "buffer-overflow", "https://example.org/advisories/LIBFOO-2025-0002"),
    ("svc-demo-1.0", "information-leak", "https://example.org/advisories/SVCDEMO-2025-0003"),
]
# PKGNAMEs of the samples' demo repository (pkg_summary-demo-repo).
REPO = ["bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "digest-20160304", "foo-tool-3.2",
        "hello-1.0", "hello-1.1", "libfetch-2.38", "libfoo-2.0nb1", "nawk-20121220nb1", "pkg_install-20170419",
        "pkgin-26.4.0", "svc-demo-1.0"]
BOOTSTRAP = ["bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
             "pkg_install-20170419", "pkgin-26.4.0"]
AUDIT_LINE = "Package hello-1.0 has a denial-of-service vulnerability, see https://example.org/advisories/HELLO-2025-0001"
LONG_URL = "https://example.org/advisories/" + "A-VERY-LONG-ADVISORY-IDENTIFIER-" * 4
PLATFORM = {"opsys": "Linux", "os_id": "debian", "os_family": "debian", "os_name": "Debian GNU/Linux 12 (bookworm)",
            "os_release": "12", "os_major": "12", "kernel_release": "6.1.0", "machine": "x86_64",
            "arch": "x86_64", "abi": 64, "init": "systemd", "zonename": None, "global_zone": None,
            "platform": "linux", "euid": 0}
SMARTOS = dict(PLATFORM, opsys="SunOS", os_id="smartos", os_name="SmartOS", os_release="20250101T000000Z",
               arch="x86_64", init="smf", zonename="web1-zone", global_zone=False, platform="illumos")


def test_tables_agree_with_the_samples(samples_dir):
    raw = (samples_dir / "pkgdb-final" / "pkg-vulnerabilities").read_bytes()
    assert parse_vulnerability_list(raw) == VULN_LIST
    summary = (samples_dir / "pkg_summary-demo-repo").read_text()
    assert sorted(re.findall(r"^PKGNAME=(.*)$", summary, re.M)) == REPO
    assert sorted(p.name for p in (samples_dir / "pkgdb-final").iterdir() if p.is_dir()) == BOOTSTRAP
    assert AUDIT_LINE in (samples_dir / "transcripts.md").read_text()


def pkg(pkgname, automatic=False):
    name, _sep, version = pkgname.rpartition("-")
    return {"name": name, "version": version, "pkgname": pkgname, "automatic": automatic, "comment": "demo"}


def audit_of(pkgnames):
    """What the audit finds for these packages against the samples' list (as facts carry it)."""
    return [v.as_dict() for v in match_vulnerabilities(VULN_LIST, pkgnames)]


def prefix(pkgnames, automatic=(), audited=True, path="/opt/pkg", branch="2025Q3", pkgin=True):
    names = list(BOOTSTRAP if pkgin else [n for n in BOOTSTRAP if not n.startswith("pkgin-")]) + list(pkgnames)
    packages = [pkg(n, n in automatic) for n in sorted(set(names))]
    return {
        "prefix": path, "pkg_dbdir": path + "/pkgdb", "sysconfdir": path + "/etc", "varbase": path + "/var",
        "layout_confirmed": True,
        "repositories": ["https://pkgsrc.example.org/packages/Linux/el9/x86_64/%s/All" % branch] if branch else [],
        "branch": branch, "pkg_install_version": "20170419", "pkgin_version": "26.4.0" if pkgin else None,
        "package_count": len(packages), "packages": packages,
        "vulnerabilities": audit_of([p["pkgname"] for p in packages]) if audited else None,
    }


def facts(*prefixes, host=None, errors=()):
    return {"facts_version": 1, "host": host or PLATFORM, "bootstrapped": bool(prefixes),
            "prefixes": list(prefixes), "errors": list(errors)}


DESIRED = report.parse_desired({"hello": ">=1.1", "foo-tool": None})

# name, facts, desired, status, reasons (prefixes of each, in order)
HOSTS = [
    ("unreachable", {"unreachable": True, "error": "ssh: connect to host web1 port 22: Connection refused"}, None,
     "red", ["unreachable: ssh: connect to host web1 port 22"]),
    ("failed", {"failed": True, "error": "MODULE FAILURE"}, None, "red", ["facts not gathered: MODULE FAILURE"]),
    ("no pkgsrc", facts(), None, "red", ["no pkgsrc prefix found"]),
    ("no pkgsrc, desired", facts(), DESIRED, "red", ["no pkgsrc prefix found", "missing: hello>=1.1, foo-tool"]),
    ("clean", facts(prefix(["hello-1.1"])), None, "green", []),
    ("audit not run", facts(prefix(["hello-1.1"], audited=False)), None, "amber",
     ["vulnerabilities unknown (audit not run): /opt/pkg"]),
    ("vulnerable, medium", facts(prefix(["hello-1.0"])), None, "red", ["1 vulnerable package: hello-1.0"]),
    ("vulnerable, high", facts(prefix(["foo-tool-3.2", "libfoo-2.0"], automatic=["libfoo-2.0"])), None, "red",
     ["1 vulnerable package: libfoo-2.0"]),
    ("only low-level", facts(prefix(["svc-demo-1.0"])), None, "amber", ["low-level vulnerability: svc-demo-1.0"]),
    ("matches desired", facts(prefix(["hello-1.1", "foo-tool-3.2", "libfoo-2.0nb1"], automatic=["libfoo-2.0nb1"])),
     DESIRED, "green", []),
    ("wrong version", facts(prefix(["hello-1.0", "foo-tool-3.2", "libfoo-2.0nb1"], automatic=["libfoo-2.0nb1"],
                                   audited=False)),
     DESIRED, "red", ["wrong version: hello-1.0 (wants hello>=1.1)", "vulnerabilities unknown"]),
    ("missing", facts(prefix(["hello-1.1"])), DESIRED, "red", ["missing: foo-tool"]),
    ("extra", facts(prefix(["hello-1.1", "foo-tool-3.2", "svc-demo-1.0", "libfoo-2.0nb1"],
                           automatic=["libfoo-2.0nb1"])),
     DESIRED, "amber", ["low-level vulnerability: svc-demo-1.0", "not in the desired set: svc-demo-1.0"]),
    ("desired prefix absent", facts(prefix(["hello-1.1", "foo-tool-3.2"])),
     report.parse_desired({"packages": ["hello", "foo-tool"], "prefix": "/opt/local"}), "red",
     ["prefix /opt/local not found", "missing: hello, foo-tool"]),
    ("facts errors", facts(prefix(["hello-1.1"]), errors=["/usr/pkg: cannot read +CONTENTS"]), None, "amber",
     ["facts errors: /usr/pkg: cannot read +CONTENTS"]),
]


@pytest.mark.parametrize("name, data, desired, status, reasons", HOSTS, ids=[h[0] for h in HOSTS])
def test_host_status_and_reasons(name, data, desired, status, reasons):
    del name
    host = report.host_report("web1", data, desired)
    assert host["status"] == status
    assert len(host["reasons"]) == len(reasons), host["reasons"]
    for got, want in zip(host["reasons"], reasons):
        assert got.startswith(want), (got, want)


def test_reasons_list_red_before_amber():
    data = facts(prefix(["hello-1.0", "vim-9.0"], audited=True), prefix(["hello-1.1"], path="/opt/tools",
                                                                        audited=False))
    host = report.host_report("gz", data, report.parse_desired(["hello>=1.1"]))
    assert host["reasons"] == ["1 vulnerable package: hello-1.0", "wrong version: hello-1.0 (wants hello>=1.1)",
                               "not in the desired set: vim-9.0",
                               "vulnerabilities unknown (audit not run): /opt/tools"]
    assert host["audit"] == "vulnerable"


# --- desired sets ---------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, name", [
    ("hello", "hello"), ("hello>=1.1", "hello"), ("hello>=1.1<2", "hello"), ("hello-1.1", "hello"),
    ("hello-1.*", "hello"), ("hello-[0-9]*", "hello"), ("foo-tool-3.2", "foo-tool"), ("foo-tool", "foo-tool"),
    ("py311-requests-2.31", "py311-requests"), ("gtk2+", "gtk2+"), ("{hello,foo-tool}-[0-9]*", None),
    ("hel*", None), ("*-1.0", None), ("pkg_install<20170419", "pkg_install"),
])
def test_pattern_name(pattern, name):
    assert report.pattern_name(pattern) == name


@pytest.mark.parametrize("data, patterns", [
    (["hello", "foo-tool>=3"], [("hello", "hello"), ("foo-tool>=3", "foo-tool")]),
    ({"hello": ">=1.1", "foo-tool": None, "libfoo": "2.0nb1", "bmake": "*", "nawk": "=20121220nb1",
      "cwrappers": "2017*", "pkgin": " >= 26 < 27 "},
     [("hello>=1.1", "hello"), ("foo-tool", "foo-tool"), ("libfoo-2.0nb1", "libfoo"), ("bmake", "bmake"),
      ("nawk-20121220nb1", "nawk"), ("cwrappers-2017*", "cwrappers"), ("pkgin>=26<27", "pkgin")]),
    ([{"hello": "1.1"}, "{hello,foo-tool}-[0-9]*"], [("hello-1.1", "hello"), ("{hello,foo-tool}-[0-9]*", None)]),
    ({"packages": {"hello": 1.1}}, [("hello-1.1", "hello")]),
])
def test_parse_desired(data, patterns):
    desired = report.parse_desired(data)
    assert [(d.pattern, d.name) for d in desired.packages] == patterns
    assert desired.prefix is None and desired.ignore_extra == report.BASE_PACKAGES


def test_parse_desired_with_prefix_and_ignore():
    desired = report.parse_desired({"packages": ["hello"], "prefix": "/opt/local", "ignore_extra": ["vim-[0-9]*"]})
    assert desired.prefix == "/opt/local" and desired.ignore_extra == ("vim-[0-9]*",)
    host = report.host_report("h", facts(prefix(["hello-1.1", "vim-9.0"], path="/opt/local")), desired)
    # ignore_extra replaces the base list: the bootstrap packages are extra now, vim is not.
    assert host["drift"]["extra"] == sorted(BOOTSTRAP)


@pytest.mark.parametrize("data, message", [
    ("hello", "not a list or a mapping"),
    ([42], "neither a pattern"),
    (["{hello"], "not a valid pattern"),
    ({"hel*": "1"}, "not a plain package name"),
    ({"packages": [], "prefixes": "/opt"}, "unknown keys"),
    ({"packages": [], "ignore_extra": "vim"}, "ignore_extra must be a list"),
])
def test_parse_desired_errors(data, message):
    with pytest.raises(ReportError) as caught:
        report.parse_desired(data)
    assert message in str(caught.value)
    assert isinstance(caught.value, PkgsrcError) and caught.value.hint


@pytest.mark.parametrize("installed, automatic, desired, missing, wrong, extra", [
    (["hello-1.1"], [], ["hello"], [], [], []),
    (["hello-1.0"], [], ["hello>=1.1"], [], [{"pattern": "hello>=1.1", "installed": ["hello-1.0"]}], []),
    (["hello-1.1"], [], ["hello-1.0"], [], [{"pattern": "hello-1.0", "installed": ["hello-1.1"]}], []),
    ([], [], ["hello"], ["hello"], [], []),
    (["foo-tool-3.2", "libfoo-2.0nb1"], ["libfoo-2.0nb1"], ["foo-tool>=3"], [], [], []),
    (["foo-tool-3.2", "libfoo-2.0nb1"], [], ["foo-tool>=3"], [], [], ["libfoo-2.0nb1"]),
    (["hello-1.1", "svc-demo-1.0"], [], ["{hello,svc-demo}-[0-9]*"], [], [], []),
    (["hello-1.1"], [], ["{foo-tool,libfoo}-[0-9]*"], ["{foo-tool,libfoo}-[0-9]*"], [], ["hello-1.1"]),
    (["digest-20160304", "libfetch-2.38"], [], [], [], [], []),  # part of every kit: never extra
])
def test_drift(installed, automatic, desired, missing, wrong, extra):
    host = report.host_report("h", facts(prefix(installed, automatic=automatic)), report.parse_desired(desired))
    drift = host["drift"]
    assert (drift["missing"], drift["wrong_version"], drift["extra"]) == (missing, wrong, extra)
    assert drift["prefix"] == "/opt/pkg" and drift["prefix_found"]


def test_drift_uses_the_first_prefix_unless_told():
    data = facts(prefix(["hello-1.1"], path="/opt/local"), prefix(["foo-tool-3.2"], path="/opt/tools"))
    assert report.host_report("gz", data, report.parse_desired(["foo-tool"]))["drift"]["missing"] == ["foo-tool"]
    told = report.parse_desired({"packages": ["foo-tool"], "prefix": "/opt/tools/"})
    assert report.host_report("gz", data, told)["drift"]["missing"] == []


# --- the fleet ------------------------------------------------------------------------------

def fleet():
    return {
        "web1": facts(prefix(["hello-1.0", "foo-tool-3.2", "libfoo-2.0nb1"], automatic=["libfoo-2.0nb1"])),
        "web2": facts(prefix(["hello-1.1", "foo-tool-3.2", "libfoo-2.0nb1"], automatic=["libfoo-2.0nb1"])),
        "zone1": facts(prefix(["hello-1.10"], path="/opt/local", branch="2024Q4", pkgin=False), host=SMARTOS),
        "bare": facts(),
        "audit-less": facts(prefix(["hello-1.9"], audited=False, branch=None)),
        "down": {"unreachable": True, "error": "Minion did not return. [No response]"},
        "broken": {"failed": True, "error": "pkgsrc.facts is not available"},
    }


def test_build_report_rollups():
    model = report.build_report(fleet(), DESIRED, "2026-11-21T21:03:40Z")
    assert report_schema.validate(model) == []
    assert [h["host"] for h in model["hosts"]] == ["audit-less", "bare", "broken", "down", "web1", "web2", "zone1"]
    assert {h["host"]: h["status"] for h in model["hosts"]} == {
        "audit-less": "red", "bare": "red", "broken": "red", "down": "red", "web1": "red", "web2": "green",
        "zone1": "red"}
    assert model["summary"] == {"hosts": 7, "red": 6, "amber": 0, "green": 1, "unreachable": 1, "failed": 1,
                                "without_pkgsrc": 1, "vulnerable": 1, "audit_unknown": 1, "drifted": 4,
                                "interrupted": 0}
    hello = next(p for p in model["packages"] if p["name"] == "hello")
    # dewey order, not string order: 1.9 < 1.10
    assert hello["versions"] == [{"version": "1.0", "hosts": ["web1"]}, {"version": "1.1", "hosts": ["web2"]},
                                 {"version": "1.9", "hosts": ["audit-less"]}, {"version": "1.10", "hosts": ["zone1"]}]
    tools = {t["tool"]: t["versions"] for t in model["tools"]}
    assert tools["pkgin"] == [{"version": "26.4.0", "hosts": ["audit-less", "web1", "web2"]},
                              {"version": None, "hosts": ["zone1"]}]
    assert model["branches"] == [{"branch": "2024Q4", "hosts": ["zone1"]},
                                 {"branch": "2025Q3", "hosts": ["web1", "web2"]},
                                 {"branch": "unknown", "hosts": ["audit-less"]}]
    assert model["vulnerable_hosts"] == [{"host": "web1", "vulnerabilities": [{
        "pkgname": "hello-1.0", "type": "denial-of-service", "level": "medium", "prefix": "/opt/pkg",
        "url": "https://example.org/advisories/HELLO-2025-0001"}]}]
    assert model["unreachable_hosts"] == [
        {"host": "broken", "state": "failed", "error": "pkgsrc.facts is not available"},
        {"host": "down", "state": "unreachable", "error": "Minion did not return. [No response]"}]
    zone = next(h for h in model["hosts"] if h["host"] == "zone1")
    assert zone["platform"] == {"platform": "illumos", "os_id": "smartos", "os_name": "SmartOS",
                                "os_release": "20250101T000000Z", "arch": "x86_64", "init": "smf",
                                "zonename": "web1-zone"}
    assert report.worst_status(model) == "red"


def test_build_report_is_pure_and_input_untouched():
    hosts = fleet()
    before = copy.deepcopy(hosts)
    first = report.render_json(report.build_report(hosts, DESIRED, "t"))
    assert hosts == before
    assert report.render_json(report.build_report(hosts, DESIRED, "t")) == first


def test_audit_output_lines_give_the_same_report():
    """Vulnerabilities parsed from real `pkg_admin audit` output equal the offline audit's."""
    parsed = [{"pkgname": v.pkgname, "type": v.type, "url": v.url} for v in parse_audit_output(AUDIT_LINE + "\n")]
    data = facts(prefix(["hello-1.0"]))
    data["prefixes"][0]["vulnerabilities"] = parsed
    assert report.host_report("h", data) == report.host_report("h", facts(prefix(["hello-1.0"])))


@pytest.mark.parametrize("statuses, worst", [
    ([], None), (["green"], "green"), (["green", "amber"], "amber"), (["amber", "red", "green"], "red")])
def test_worst_status(statuses, worst):
    assert report.worst_status({"hosts": [{"status": s} for s in statuses]}) == worst


@pytest.mark.parametrize("statuses, fail_on, rc", [
    (["green"], "red", 0), (["amber"], "red", 0), (["red"], "red", 1), (["amber"], "amber", 1),
    (["green"], "amber", 0), (["red"], "never", 0), ([], "red", 0)])
def test_exit_status(statuses, fail_on, rc):
    assert report_cli.exit_status({"hosts": [{"status": s} for s in statuses]}, fail_on) == rc


# --- schema ---------------------------------------------------------------------------------

def test_schema_validator_finds_problems():
    model = report.build_report(fleet(), None, None)
    assert report_schema.validate(model) == []
    broken = copy.deepcopy(model)
    broken["hosts"][0]["status"] = "purple"
    del broken["summary"]["red"]
    broken["hosts"][4]["prefixes"][0]["package_count"] = -1
    broken["hosts"][4]["prefixes"][0]["packages"][0]["automatic"] = "no"
    broken["surprise"] = 1
    broken["report_version"] = 2
    assert sorted(report_schema.validate(broken)) == sorted([
        "$.report_version: must be 1",
        "$.summary: red is missing",
        "$.hosts[0].status: 'purple' is not one of red, amber, green",
        "$.hosts[4].prefixes[0].package_count: -1 is below 0",
        "$.hosts[4].prefixes[0].packages[0].automatic: str is not boolean",
        "$: unexpected key surprise",
    ])
    broken = copy.deepcopy(model)
    broken["hosts"][4]["drift"] = {"prefix": "/opt/pkg"}
    assert report_schema.validate(broken) == ["$.hosts[4].drift: matches none of the allowed forms"]


def test_schema_is_plain_json():
    assert json.loads(json.dumps(report_schema.REPORT_SCHEMA)) == report_schema.REPORT_SCHEMA
    assert report_schema.REPORT_SCHEMA["properties"]["report_version"] == {"const": report.REPORT_VERSION}


def test_render_json_is_stable():
    model = report.build_report(fleet(), DESIRED, "2026-11-21T21:03:40Z")
    text = report.render_json(model)
    assert json.loads(text) == model
    assert text.endswith("}\n") and text == report.render_json(json.loads(text))
    assert list(json.loads(text)) == sorted(model)


# --- text -----------------------------------------------------------------------------------

def _long_fleet():
    hosts = fleet()
    hosts["a-very-long-host-name.in.a.deep.subdomain.of.the.grid.example.org"] = facts(
        prefix(["hello-1.0"] + ["tool%d-1.0" % i for i in range(40)]))
    hosts["a-very-long-host-name.in.a.deep.subdomain.of.the.grid.example.org"]["prefixes"][0][
        "vulnerabilities"].append({"pkgname": "tool1-1.0", "type": "remote-code-execution", "url": LONG_URL})
    hosts["down"]["error"] = "Failed to connect to the host via ssh: " + "x" * 200
    return hosts


def test_text_fits_80_columns_and_marks_every_host():
    model = report.build_report(_long_fleet(), DESIRED, "2026-11-21T21:03:40Z")
    text = report_text.render_text(model)
    lines = text.splitlines()
    assert text.endswith("\n")
    assert max(len(line) for line in lines) <= report_text.WIDTH
    table = lines[lines.index("HOSTS") + 3:lines.index("HOSTS NEEDING ATTENTION") - 1]
    rows = [line for line in table if line[:6].strip()]
    assert [(r.split()[0], r.split()[1]) for r in rows if r.split()[1] in model_hosts(model)] == [
        (h["status"].upper(), h["host"]) for h in model["hosts"] if len(h["host"]) <= 25]
    # A long host name gets a line of its own above its row; the long URL is kept whole, wrapped.
    long_name = "a-very-long-host-name.in.a.deep.subdomain.of.the.grid.example.org"
    assert " " * 7 + long_name in table
    assert LONG_URL in "".join(line.strip() for line in lines)
    # Details: every host that is not green, none of the green ones.
    details = lines[lines.index("HOSTS NEEDING ATTENTION"):]
    headers = [line.split("  ")[0] for line in details if line and not line.startswith(" ")]
    assert [h for h in headers if h in model_hosts(model)] == [
        h["host"] for h in model["hosts"] if h["status"] != "green"]


def model_hosts(model):
    return {h["host"] for h in model["hosts"]}


def test_text_sections():
    text = report_text.render_text(report.build_report(fleet(), DESIRED, "2026-11-21T21:03:40Z"))
    assert text.startswith("pkgsrc fleet report, 2026-11-21T21:03:40Z\n7 hosts: 6 red, 0 amber, 1 green\n")
    assert "\nRED    web1                      debian 12 x86_64   2025Q3       9    1     1\n" in text
    assert "\nGREEN  web2                      debian 12 x86_64   2025Q3       9    0     0\n" in text
    assert "\nRED    audit-less                debian 12 x86_64   ?            7    ?     1\n" in text
    assert "\nRED    zone1                     smartos 20250101T~ 2024Q4       6    0     1\n" in text
    assert "drift in (no prefix)" not in text  # a host without pkgsrc: the reasons say it all
    assert "\nRED    down                      unreachable        -            -    -     -\n" in text
    assert "    hello-1.0: denial-of-service vulnerability (medium)\n" \
           "      https://example.org/advisories/HELLO-2025-0001\n" in text
    assert "\nVULNERABLE HOSTS (1)\n  web1 /opt/pkg: hello-1.0 (denial-of-service, medium)\n" in text
    assert "\nUNREACHABLE OR FAILED (2)\n  broken: pkgsrc.facts is not available\n" \
           "  down: Minion did not return. [No response]\n" in text
    assert "\nPACKAGES AT MORE THAN ONE VERSION (1)\n" \
           "  hello: 1.0 (1 host), 1.1 (1 host), 1.9 (1 host), 1.10 (1 host)\n" in text


# --- HTML -----------------------------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """Tags, references, host rows and details of a report page; checks tags balance."""

    VOID = {"meta", "br", "input", "img", "link", "hr", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.refs = []
        self.rows = []
        self.details = []
        self.tables = []
        self.scripts = []
        self.styles = []
        self.meta = {}
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        for key in ("src", "href", "action", "srcset", "data", "poster", "formaction"):
            if key in attrs:
                self.refs.append((tag, key, attrs[key]))
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "host" in classes:
            self.rows.append((attrs.get("data-status"), classes))
        if tag == "details" and "host" in classes:
            self.details.append((attrs.get("id"), classes))
        if tag == "table":
            self.tables.append((attrs.get("id"), classes))
        if tag == "meta" and "http-equiv" in attrs:
            self.meta[attrs["http-equiv"]] = attrs.get("content")
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unbalanced </%s> (open: %s)" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)


def parse_page(text):
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_html_is_self_contained_and_marks_every_host():
    model = report.build_report(_long_fleet(), DESIRED, "2026-11-21T21:03:40Z")
    text = report_html.render_html(model)
    page = parse_page(text)
    assert text.startswith("<!DOCTYPE html>\n") and text.endswith("</html>\n")
    assert page.errors == [] and page.stack == []
    assert [r for r in page.refs if not (r[1] == "href" and r[2].startswith("#"))] == []
    assert "@import" not in text and "url(" not in "".join(page.styles)
    assert "default-src 'none'" in page.meta["Content-Security-Policy"]
    statuses = [h["status"] for h in model["hosts"]]
    assert [(s, ["host", "status-" + s]) for s in statuses] == page.rows
    assert page.details == [("host-%d" % i, ["host", "status-" + s]) for i, s in enumerate(statuses, 1)]
    assert {"status-red", "status-green"} <= {c for _s, classes in page.rows for c in classes}
    # Every host row links to its details; every data table sorts.
    for index in range(1, len(statuses) + 1):
        assert ('a', 'href', '#host-%d' % index) in page.refs
    assert {t for t, classes in page.tables if "sortable" in classes} >= {
        "host-table", "vulnerable-table", "unreachable-table", "tools-table", "packages-table"}
    script = "".join(page.scripts)
    assert "addEventListener(\"click\", sort)" in script and "localeCompare" in script
    # Advisory URLs are shown, as text.
    assert LONG_URL in text and 'href="%s"' % LONG_URL not in text


def test_html_amber_host_class():
    model = report.build_report({"h1": facts(prefix(["hello-1.1"], audited=False))}, None, None)
    page = parse_page(report_html.render_html(model))
    assert page.rows == [("amber", ["host", "status-amber"])]


@pytest.mark.parametrize("evil", ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
                                  "</style><link rel=stylesheet href=http://evil.example/x.css>"])
def test_html_escapes_everything_from_hosts(evil):
    data = facts(prefix(["hello-1.0"]))
    data["prefixes"][0]["vulnerabilities"][0]["url"] = evil
    data["prefixes"][0]["branch"] = evil
    data["errors"] = [evil]
    data["host"] = dict(PLATFORM, os_name=evil, os_id=evil)
    hosts = {evil: data, "down": {"unreachable": True, "error": evil}}
    text = report_html.render_html(report.build_report(hosts, report.parse_desired(["hello"]), evil))
    page = parse_page(text)
    assert page.errors == []
    assert [r for r in page.refs if not (r[1] == "href" and r[2].startswith("#"))] == []
    assert evil not in text
    assert len(page.scripts) == 1


def test_html_numeric_sort_keys():
    model = report.build_report(fleet(), DESIRED, None)
    text = report_html.render_html(model)
    web1 = re.search(r'<tr class="host status-red" data-status="red">(.*?web1.*?)</tr>', text).group(1)
    cells = re.findall(r"<td([^>]*)>", web1)
    assert cells[0] == ' data-sort="0"'
    assert cells[6:9] == [' class="num" data-sort="9"', ' class="num" data-sort="1"', ' class="num" data-sort="1"']


# --- input shapes ---------------------------------------------------------------------------

GOOD = facts(prefix(["hello-1.1"]))


@pytest.mark.parametrize("value, expected", [
    (GOOD, GOOD),
    ({"changed": False, "ansible_facts": {"pkgsrc": GOOD}}, GOOD),
    ({"pkgsrc": GOOD}, GOOD),
    ({"ret": GOOD, "retcode": 0, "jid": "20261121210340"}, GOOD),
    ({"facts": GOOD}, GOOD),
    ({"unreachable": True, "changed": False, "msg": "Failed to connect to the host via ssh"},
     {"unreachable": True, "error": "Failed to connect to the host via ssh"}),
    ({"failed": True, "msg": "MODULE FAILURE\nSee stdout/stderr"},
     {"failed": True, "error": "MODULE FAILURE\nSee stdout/stderr"}),
    ({"skipped": True, "skip_reason": "Conditional result was False"},
     {"failed": True, "error": "skipped: Conditional result was False"}),
    ("Minion did not return. [No response]", {"unreachable": True, "error": "Minion did not return. [No response]"}),
    ("Minion did not return. [Not connected]",
     {"unreachable": True, "error": "Minion did not return. [Not connected]"}),
    ("'pkgsrc.facts' is not available.", {"failed": True, "error": "'pkgsrc.facts' is not available."}),
    ({"ret": "ERROR: no prefix", "retcode": 1}, {"failed": True, "error": "ERROR: no prefix"}),
    (False, {"unreachable": True, "error": "no return"}),
    (None, {"unreachable": True, "error": "no return"}),
    (["x"], {"failed": True, "error": "unexpected list instead of facts"}),
    ({"stdout": "hi"}, {"failed": True, "error": "no pkgsrc facts in the result (keys: stdout)"}),
])
def test_host_input_shapes(value, expected):
    assert report_input.host_input(value) == expected


def test_hosts_from_data_and_streams():
    stream = json.dumps({"web1": GOOD}, indent=4) + "\n" + json.dumps({"down": "Minion did not return."}) + "\n"
    docs = report_input.load_json_documents(stream)
    assert len(docs) == 2
    merged = {}
    for doc in docs:
        merged.update(report_input.hosts_from_data(doc))
    assert merged == {"web1": GOOD, "down": {"unreachable": True, "error": "Minion did not return."}}
    records = [{"host": "web1", "facts": GOOD}, {"host": "down", "unreachable": True, "error": "refused"}]
    assert report_input.hosts_from_data(records) == {"web1": GOOD,
                                                     "down": {"unreachable": True, "error": "refused"}}


@pytest.mark.parametrize("data, message", [
    (GOOD, "without its name"), ([{"facts": GOOD}], "no host name"), (42, "not host facts")])
def test_hosts_from_data_errors(data, message):
    with pytest.raises(ReportError, match=message):
        report_input.hosts_from_data(data)


@pytest.mark.parametrize("text, message", [("", "is empty"), ("{", "is not JSON"), ('{"a": 1} x', "is not JSON")])
def test_load_json_documents_errors(text, message):
    with pytest.raises(ReportError, match=message):
        report_input.load_json_documents(text)


@pytest.mark.parametrize("text, value", [
    ("- hello\n- 'foo-tool>=3'  # the tool\n- \"libfoo-2.0nb1\"\n", ["hello", "foo-tool>=3", "libfoo-2.0nb1"]),
    ("---\nhello: '>=1.1'\nfoo-tool:\nlibfoo: 2.0nb1\nbmake: ~\n",
     {"hello": ">=1.1", "foo-tool": None, "libfoo": "2.0nb1", "bmake": None}),
    ("hello: 1.10\n", {"hello": "1.10"}),  # kept as text: YAML would make it the float 1.1
    ("{hello: 2.0, lock_version: 1, automatic: true}\n", {"hello": "2.0", "lock_version": 1, "automatic": True}),
    ('{"packages": ["hello"]}', {"packages": ["hello"]}),  # JSON is YAML
    ("prefix: /opt/local\npackages:\n  - hello\n  - foo-tool>=3\nignore_extra: [pkg_install, 'pkgin']\n",
     {"prefix": "/opt/local", "packages": ["hello", "foo-tool>=3"], "ignore_extra": ["pkg_install", "pkgin"]}),
    ("packages:\n- hello\n- hello: '>=1'\n", {"packages": ["hello", {"hello": ">=1"}]}),
    ("packages:\n  hello: '>=1.1'   # comment\n  'foo-tool': \"3.2\"\n",
     {"packages": {"hello": ">=1.1", "foo-tool": "3.2"}}),
    ("# nothing\n", None),
    ("[hello, foo-tool]\n", ["hello", "foo-tool"]),
    ("url: http://example.org/#frag\n", {"url": "http://example.org/#frag"}),
])
def test_load_yaml(text, value):
    assert report_input.load_yaml(text) == value


@pytest.mark.parametrize("text, where", [
    ("hello: '1.1\n", "desired.yml:2:1"),
    ("hello: [1.1\n", "desired.yml:2:1"),
    ("- hello\nfoo: bar\n", "desired.yml:2:1"),
    ("\thello: 1\n", "desired.yml:1:1"),
    ("a: b: c\n", "desired.yml:1:5"),
])
def test_load_yaml_errors_say_where(text, where):
    with pytest.raises(ReportError) as err:
        report_input.load_yaml(text, "desired.yml")
    assert err.value.message.startswith(where + " is not valid YAML or JSON: ")
    assert "docs/lockfiles.md" in err.value.hint


def test_load_desired_errors(tmp_path):
    path = tmp_path / "desired.yml"
    path.write_bytes(b"\xff\xfe not text")
    with pytest.raises(ReportError, match="cannot read"):
        report_input.load_desired(str(path))
    path.write_text("just words\nmore words\n")
    with pytest.raises(ReportError, match="not a list or a mapping"):
        report_input.load_desired(str(path))
    path.write_text("# nothing\n")
    with pytest.raises(ReportError, match="says nothing"):
        report_input.load_desired(str(path))
    with pytest.raises(ReportError, match="cannot read"):
        report_input.load_desired(str(tmp_path / "missing.yml"))


# --- command line ---------------------------------------------------------------------------

def test_cli_writes_three_files(tmp_path, capsys):
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps(fleet()))
    desired = tmp_path / "desired.yml"
    desired.write_text("hello: '>=1.1'\nfoo-tool:\n")
    out = tmp_path / "out"
    rc = report_cli.main(["--input", str(facts_file), "--desired", str(desired), "--out-dir", str(out),
                          "--fail-on", "red", "--generated", "2026-11-21T21:03:40Z"])
    assert rc == 1
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.txt"]
    model = json.loads((out / "report.json").read_text())
    assert model == report.build_report(fleet(), DESIRED, "2026-11-21T21:03:40Z")
    assert (out / "report.txt").read_text() == report_text.render_text(model)
    assert (out / "report.html").read_text() == report_html.render_html(model)
    assert oct((out / "report.html").stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("argv, rc, err", [
    (["--format", "all"], 2, "--format all needs --out-dir"),
    (["--desired", "/nonexistent/desired.yml"], 2, "cannot read /nonexistent/desired.yml"),
    (["--input", "/nonexistent/facts.json"], 2, "cannot read /nonexistent/facts.json"),
])
def test_cli_errors(tmp_path, capsys, argv, rc, err):
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps({"web1": GOOD}))
    if "--input" not in argv:
        argv = ["--input", str(facts_file)] + argv
    assert report_cli.main(argv) == rc
    captured = capsys.readouterr()
    assert captured.out == "" and err in captured.err and "Traceback" not in captured.err


def test_cli_prints_one_format(tmp_path, capsys):
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps({"web1": GOOD}))
    assert report_cli.main(["--input", str(facts_file), "--format", "html", "--fail-on", "amber"]) == 0
    assert parse_page(capsys.readouterr().out).rows == [("green", ["host", "status-green"])]
