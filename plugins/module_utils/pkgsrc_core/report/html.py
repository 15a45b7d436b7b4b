"""The fleet report as one self-contained HTML page: inline CSS and JS, no external assets.

A Content-Security-Policy meta tag forbids every load from elsewhere, so the page shows the same
from a mail attachment, a file:// URL or a web server. Every host gets a red, amber or green
status (class `status-red` etc., and the word, not colour alone); tables sort when a column
heading is clicked (or focused and Enter pressed). Advisory URLs are shown as text, not links.
Input is the dict from report.build_report; every value from the hosts is escaped.
"""
from __future__ import annotations

from html import escape
from typing import Any, List, Mapping, Optional, Sequence

from .text import drift_count

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
_ORDER = {"red": 0, "amber": 1, "green": 2}
_LEVELS = {"low": 0, "medium": 1, "high": 2, "critical": 3}

_STYLE = """
:root { --red: #b71c1c; --amber: #e65100; --green: #1b5e20; --line: #d0d4d9; --muted: #5f6b76; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1400px; color: #1d232a; background: #fff; }
h1 { font-size: 1.5rem; margin: .2rem 0; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: .2rem 0; display: inline; }
.muted, .generated { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; margin: .8rem 0; }
.cards { gap: .4rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .25rem .6rem; min-width: 5.5rem; }
.card b { display: block; font-size: 1.25rem; }
.card.red { border-color: var(--red); color: var(--red); }
.card.amber { border-color: var(--amber); color: var(--amber); }
.card.green { border-color: var(--green); color: var(--green); }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f3f5f7; position: sticky; top: 0; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: "\\00a0\\2195"; color: #9aa4ad; }
table.sortable th[aria-sort="ascending"]::after { content: "\\00a0\\2191"; color: #1d232a; }
table.sortable th[aria-sort="descending"]::after { content: "\\00a0\\2193"; color: #1d232a; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { display: inline-block; min-width: 4.2rem; text-align: center; border-radius: 3px;
          padding: 0 .4rem; color: #fff; font-weight: 600; text-transform: uppercase; font-size: .8rem; }
.status.red { background: var(--red); }
.status.amber { background: var(--amber); }
.status.green { background: var(--green); }
tr.status-red td:first-child { box-shadow: inset 4px 0 var(--red); }
tr.status-amber td:first-child { box-shadow: inset 4px 0 var(--amber); }
tr.status-green td:first-child { box-shadow: inset 4px 0 var(--green); }
details.host { border: 1px solid var(--line); border-left-width: 6px; border-radius: 4px;
               margin: .5rem 0; padding: .3rem .7rem; }
details.host.status-red { border-left-color: var(--red); }
details.host.status-amber { border-left-color: var(--amber); }
details.host.status-green { border-left-color: var(--green); }
summary { cursor: pointer; }
ul.reasons { margin: .3rem 0; padding-left: 1.3rem; }
code, .pkglist { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
.pkglist span { display: inline-block; margin-right: .9rem; }
.pkglist span.auto { color: var(--muted); }
input[type=search] { padding: .3rem .5rem; width: 18rem; max-width: 100%; }
.url, .path { word-break: break-all; }
.scroll { overflow-x: auto; }
td.reasons { min-width: 12rem; }
.level { font-weight: 600; }
.level.critical, .level.high { color: var(--red); }
.level.medium { color: var(--amber); }
.outcome.amber { color: var(--amber); font-weight: bold; }
.outcome.red { color: var(--red); font-weight: bold; }
@media print { th { position: static; } details { display: block; } }
"""

_SCRIPT = """
(function () {
  function key(cell) {
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var numeric = th.getAttribute("data-type") === "number";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          var c = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0)
                          : x.localeCompare(y, undefined, {numeric: true, sensitivity: "base"});
          return asc ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
  var filter = document.getElementById("host-filter");
  if (filter) {
    filter.addEventListener("input", function () {
      var text = filter.value.toLowerCase();
      Array.prototype.forEach.call(document.querySelectorAll("#host-table tbody tr"), function (row) {
        row.hidden = text !== "" && row.textContent.toLowerCase().indexOf(text) < 0;
      });
    });
  }
})();
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _status(status: str) -> str:
    return '<span class="status %s">%s</span>' % (status, status)


def _cell(text: Any, sort: Optional[Any] = None, cls: str = "") -> str:
    attrs = ' class="%s"' % cls if cls else ""
    if sort is not None:
        attrs += ' data-sort="%s"' % _e(sort)
    return "<td%s>%s</td>" % (attrs, text)


def _level(level: str) -> str:
    return _cell('<span class="level %s">%s</span>' % (_e(level), _e(level)), _LEVELS.get(level, 1))


def _table(table_id: str, heads: Sequence[Any], rows: Sequence[str], sortable: bool = True) -> str:
    cells = []
    for head in heads:
        title, numeric = (head, False) if isinstance(head, str) else head
        cells.append('<th%s>%s</th>' % (' class="num" data-type="number"' if numeric else "", _e(title)))
    return '<table%s%s>\n<thead><tr>%s</tr></thead>\n<tbody>\n%s\n</tbody>\n</table>' % (
        ' id="%s"' % table_id if table_id else "", ' class="sortable"' if sortable else "", "".join(cells),
        "\n".join(rows))


def _platform(host: Mapping[str, Any], full: bool = False) -> str:
    plat = host["platform"]
    if not plat:
        return ""
    first = (plat["os_name"] if full else plat["os_id"]) or plat["os_name"] or plat["platform"]
    words = [first, None if full else plat["os_release"], plat["arch"]]
    text = " ".join(w for w in words if w)
    if plat["zonename"]:
        text += " (zone %s)" % plat["zonename"]
    return text


def _joined(prefixes: Sequence[Mapping[str, Any]], key: str) -> str:
    values = [p[key] for p in prefixes if p[key]]
    return ", ".join(dict.fromkeys(values))


def _tools(prefixes: Sequence[Mapping[str, Any]]) -> str:
    install = _joined(prefixes, "pkg_install_version")
    pkgin = _joined(prefixes, "pkgin_version")
    if not (install or pkgin):
        return ""
    return "%s / %s" % (_e(install or "-"), _e(pkgin or "-"))


def _host_row(index: int, host: Mapping[str, Any]) -> str:
    prefixes = host["prefixes"]
    packages = sum(p["package_count"] for p in prefixes)
    vulns = len(host["vulnerable_packages"])
    drift = host["drift"]
    drifted = -1 if drift is None else drift_count(drift)
    audit_unknown = host["audit"] == "unknown" and not vulns
    cells = [
        _cell(_status(host["status"]), _ORDER[host["status"]]),
        _cell('<a href="#host-%d">%s</a>' % (index, _e(host["host"])), host["host"]),
        _cell('<span title="%s">%s</span>' % (_e(_platform(host, full=True)), _e(_platform(host) or host["state"]))),
        _cell('<span class="path">%s</span>' % _e(", ".join(p["prefix"] for p in prefixes)
                                                  or ("none" if host["state"] == "ok" else ""))),
        _cell(_e(_joined(prefixes, "branch"))),
        _cell(_tools(prefixes)),
        _cell(str(packages) if prefixes else "", packages if prefixes else -1, "num"),
        _cell("?" if audit_unknown else (str(vulns) if prefixes else ""), -0.5 if audit_unknown else
              (vulns if prefixes else -1), "num"),
        _cell("" if drifted < 0 else str(drifted), drifted, "num"),
        _last_cell(prefixes),
        _cell("<br>".join(_e(r) for r in host["reasons"]), cls="reasons"),
    ]
    return '<tr class="host status-%s" data-status="%s">%s</tr>' % (host["status"], host["status"], "".join(cells))


def _outcome(last: Mapping[str, Any]) -> str:
    """The outcome as a word, amber when interrupted or unfinished, red when failed."""
    cls = {"interrupted": "amber", "running": "amber", "failed": "red"}.get(last["outcome"], "")
    return '<span class="outcome %s">%s</span>' % (cls, _e(last["outcome"])) if cls else _e(last["outcome"])


def _last_cell(prefixes: Sequence[Mapping[str, Any]]) -> str:
    lasts = [p["last_transaction"] for p in prefixes if p["last_transaction"]]
    if not lasts:
        return _cell("", "")
    parts = ['<span title="transaction %d (%s)">%s</span> %s' % (
        last["id"], _e(last["kind"]), _e(last["end"] or last["start"] or "?"), _outcome(last)) for last in lasts]
    return _cell("<br>".join(parts), max(last["end"] or last["start"] or "" for last in lasts))


def _prefix_block(prefix: Mapping[str, Any]) -> List[str]:
    out = ['<h4>%s <span class="muted">(%s, audit %s)</span></h4>' % (
        _e(prefix["prefix"]), _e("branch " + (prefix["branch"] or "unknown")), _e(prefix["audit"]))]
    facts = [("PKG_DBDIR", prefix["pkg_dbdir"]), ("pkg_install", prefix["pkg_install_version"]),
             ("pkgin", prefix["pkgin_version"]), ("repositories", ", ".join(prefix["repositories"]))]
    out.append("<p>%s</p>" % "; ".join("%s: <code>%s</code>" % (k, _e(v or "-")) for k, v in facts))
    last = prefix["last_transaction"]
    if last is not None:
        out.append("<p>Last transaction: %d (%s), started %s, ended %s: %s</p>" % (
            last["id"], _e(last["kind"]), _e(last["start"] or "-"), _e(last["end"] or "-"), _outcome(last)))
    if prefix["vulnerabilities"]:
        rows = ["<tr>%s%s%s%s</tr>" % (_cell(_e(v["pkgname"])), _cell(_e(v["type"])), _level(v["level"]),
                                       _cell('<code class="url">%s</code>' % _e(v["url"])))
                for v in prefix["vulnerabilities"]]
        out.append(_table("", ("Package", "Vulnerability", "Level", "Advisory"), rows))
    names = "".join('<span%s>%s</span>' % (' class="auto" title="automatic"' if p["automatic"] else "",
                                           _e(p["pkgname"])) for p in prefix["packages"])
    out.append('<details><summary>%d packages (grey: installed as dependencies)</summary>'
               '<p class="pkglist">%s</p></details>' % (prefix["package_count"], names))
    return out


def _drift_block(drift: Mapping[str, Any]) -> List[str]:
    items = []
    if not drift["prefix_found"]:
        items.append("prefix %s not found" % _e(drift["prefix"] or "(any)"))
    if drift["missing"]:
        items.append("missing: <code>%s</code>" % _e(", ".join(drift["missing"])))
    for wrong in drift["wrong_version"]:
        items.append("wrong version: <code>%s</code> installed, wants <code>%s</code>" % (
            _e(", ".join(wrong["installed"])), _e(wrong["pattern"])))
    if drift["extra"]:
        items.append("not in the desired set: <code>%s</code>" % _e(", ".join(drift["extra"])))
    for flag in drift["automatic"]:
        items.append("<code>%s</code> should be %s" % (_e(flag["pkgname"]),
                                                       "automatic" if flag["automatic"] else "user-installed"))
    if not items:
        return ["<p>Matches the desired set in <code>%s</code>.</p>" % _e(drift["prefix"])]
    return ["<p>Drift in <code>%s</code>:</p><ul>%s</ul>" % (
        _e(drift["prefix"] or "-"), "".join("<li>%s</li>" % i for i in items))]


def _host_details(index: int, host: Mapping[str, Any]) -> str:
    opened = "" if host["status"] == "green" else " open"
    out = ['<details class="host status-%s" id="host-%d"%s>' % (host["status"], index, opened),
           "<summary>%s <h3>%s</h3> <span class=\"muted\">%s</span></summary>" % (
               _status(host["status"]), _e(host["host"]), _e(_platform(host, full=True)))]
    if host["reasons"]:
        out.append('<ul class="reasons">%s</ul>' % "".join("<li>%s</li>" % _e(r) for r in host["reasons"]))
    for err in host["facts_errors"]:
        out.append("<p>facts error: %s</p>" % _e(err))
    for prefix in host["prefixes"]:
        out.extend(_prefix_block(prefix))
    if host["drift"] is not None and host["prefixes"]:
        out.extend(_drift_block(host["drift"]))
    out.append("</details>")
    return "\n".join(out)


def _hosts_list(hosts: Sequence[str]) -> str:
    if len(hosts) <= 5:
        return _e(", ".join(hosts))
    return "<details><summary>%d hosts</summary>%s</details>" % (len(hosts), _e(", ".join(hosts)))


def _version_rows(groups: Sequence[Mapping[str, Any]], key: str) -> List[str]:
    rows = []
    for group in groups:
        for version in group["versions"]:
            rows.append("<tr>%s%s%s%s</tr>" % (
                _cell(_e(group[key])), _cell(_e(version["version"] or "none"), version["version"] or ""),
                _cell(str(len(version["hosts"])), len(version["hosts"]), "num"), _cell(_hosts_list(version["hosts"]))))
    return rows


def render_html(report: Mapping[str, Any]) -> str:
    """The report as a complete HTML document (a str, ending with a newline)."""
    summary = report["summary"]
    hosts = report["hosts"]
    cards = [(summary["hosts"], "hosts", ""), (summary["red"], "red", "red"), (summary["amber"], "amber", "amber"),
             (summary["green"], "green", "green"), (summary["unreachable"], "unreachable", ""),
             (summary["failed"], "failed", ""), (summary["without_pkgsrc"], "without pkgsrc", ""),
             (summary["vulnerable"], "vulnerable", ""), (summary["audit_unknown"], "audit unknown", ""),
             (summary["drifted"], "drifted", ""),
             (summary["interrupted"], "interrupted", "amber" if summary["interrupted"] else "")]
    body = ["<header>", "<h1>pkgsrc fleet report</h1>"]
    if report["generated"]:
        body.append('<p class="generated">Generated %s</p>' % _e(report["generated"]))
    body.append('<div class="cards">%s</div>' % "".join(
        '<div class="card %s"><b>%d</b>%s</div>' % (cls, count, _e(label)) for count, label, cls in cards))
    desired = report["desired"]
    if desired is not None and desired.get("lock") is not None:
        body.append("<p>Desired set (in %s): the lock taken from <code>%s</code> at %s, %d packages</p>" % (
            "<code>%s</code>" % _e(desired["prefix"]) if desired["prefix"] else "each host's first prefix",
            _e(desired["lock"]["taken_from"] or "an unnamed host"),
            _e(desired["lock"]["taken_at"] or "an unknown time"),
            len(desired["packages"])))
    elif desired is not None:
        body.append("<p>Desired set (in %s): <code>%s</code></p>" % (
            "<code>%s</code>" % _e(desired["prefix"]) if desired["prefix"] else "each host's first prefix",
            _e(", ".join(p["pattern"] for p in desired["packages"]) or "(nothing)")))
    body.append("</header>")
    body.append('<section id="hosts"><h2>Hosts</h2>')
    body.append('<p><input type="search" id="host-filter" placeholder="Filter hosts" aria-label="Filter hosts"> '
                '<span class="muted">Click a column heading to sort.</span></p>')
    body.append('<div class="scroll">')
    body.append(_table("host-table", ("Status", "Host", "Platform", "Prefixes", "Branch", "pkg_install / pkgin",
                                      ("Packages", True), ("Vulnerable", True), ("Drift", True), "Last change",
                                      "Reasons"),
                       [_host_row(i, h) for i, h in enumerate(hosts, 1)]))
    body.append("</div>")
    body.append("</section>")
    anchors = {h["host"]: i for i, h in enumerate(hosts, 1)}
    vuln_rows = ["<tr>%s%s%s%s%s%s</tr>" % (
        _cell('<a href="#host-%d">%s</a>' % (anchors[e["host"]], _e(e["host"])), e["host"]),
        _cell(_e(v["prefix"])), _cell(_e(v["pkgname"])), _cell(_e(v["type"])), _level(v["level"]),
        _cell('<code class="url">%s</code>' % _e(v["url"])))
        for e in report["vulnerable_hosts"] for v in e["vulnerabilities"]]
    body.append('<section id="vulnerable"><h2>Vulnerable hosts (%d)</h2>' % len(report["vulnerable_hosts"]))
    body.append(_table("vulnerable-table", ("Host", "Prefix", "Package", "Vulnerability", "Level", "Advisory"),
                       vuln_rows)
                if vuln_rows else "<p>None found (hosts whose audit was not run are not counted).</p>")
    body.append("</section>")
    unreached = ["<tr>%s%s%s</tr>" % (_cell(_e(u["host"])), _cell(_e(u["state"])), _cell(_e(u["error"] or "")))
                 for u in report["unreachable_hosts"]]
    body.append('<section id="unreachable"><h2>Unreachable or failed hosts (%d)</h2>' % len(unreached))
    body.append(_table("unreachable-table", ("Host", "State", "Error"), unreached) if unreached else "<p>None.</p>")
    body.append("</section>")
    body.append('<section id="tools"><h2>Tools and branches</h2>')
    body.append(_table("tools-table", ("Tool", "Version", ("Hosts", True), "Host names"),
                       _version_rows(report["tools"], "tool")))
    body.append(_table("branches-table", ("Branch", ("Hosts", True), "Host names"), [
        "<tr>%s%s%s</tr>" % (_cell(_e(b["branch"])), _cell(str(len(b["hosts"])), len(b["hosts"]), "num"),
                             _cell(_hosts_list(b["hosts"]))) for b in report["branches"]]))
    body.append("</section>")
    body.append('<section id="packages"><h2>Packages (%d)</h2>' % len(report["packages"]))
    body.append(_table("packages-table", ("Package", "Version", ("Hosts", True), "Host names"),
                       _version_rows(report["packages"], "name")))
    body.append("</section>")
    body.append('<section id="details"><h2>Host details</h2>')
    body.extend(_host_details(i, h) for i, h in enumerate(hosts, 1))
    body.append("</section>")
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta http-equiv="Content-Security-Policy" content="%s">' % _CSP,
            "<title>pkgsrc fleet report: %d red, %d amber, %d green</title>" % (
                summary["red"], summary["amber"], summary["green"]),
            "<style>%s</style>" % _STYLE, "</head>", "<body>"]
    return "\n".join(head + body + ["<script>%s</script>" % _SCRIPT, "</body>", "</html>"]) + "\n"
