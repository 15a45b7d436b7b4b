"""Who fetches the repository summaries, and how often: the scenario and the counting shared by
tests/integration/test_summary_fetches_testbed.py and benchmarks/summary_fetches.py.

The scenario is the demo's real-tools node (tests/demo/playbook.yml, second play) on one testbed
host: the real kit bootstrapped (checksum-verified, the real pkgin runs `pkgin -f -y update`), then
svc-demo installed with the package module (the plan reads the repository's list, the real pkgin
installs). Run 1 is the first deployment, run 2 the same play again (nothing to change). The HTTP
server's request log (tests/testbed/httpd.py) says, for every request: the path, the status, the
client's User-Agent (the real pkgin's libfetch says "libfetch/2.0", our core's urllib
"Python-urllib/..."), the conditional headers and the body bytes sent of those promised.
"""
from __future__ import annotations

import lzma
import random
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tests.integration.adapters import play, task_results

SUMMARY_PATH = re.compile(r"/pkg_summary\.[a-z0-9]+$")


def requester(agent: Any) -> str:
    """Who made a request, from its User-Agent: pkgin (its libfetch says "libfetch/2.0"), our core
    (Python's urllib), or the agent as given."""
    text = str(agent or "")
    if text.lower().startswith(("pkgin", "libfetch")):
        return "pkgin"
    if text.startswith("Python-urllib"):
        return "core"
    return text or "unknown"


def outcome(entry: Dict[str, Any]) -> str:
    """full (200 and the whole body went out), abandoned (200, but the client hung up before the body:
    pkgin's "is it newer?" check), not_modified (304), absent (404), or the status as text."""
    status = entry.get("status")
    if status in (200, 206) and entry.get("method") == "GET":
        length = entry.get("length")
        return "full" if length is None or entry.get("sent", 0) >= length else "abandoned"
    if status == 304:
        return "not_modified"
    if status == 404:
        return "absent"
    return str(status)


def summary_requests(requests: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The requests for a pkg_summary.*, each with who made it and its outcome."""
    out = []
    for entry in requests:
        path = str(entry.get("path", "")).split("?", 1)[0]
        if SUMMARY_PATH.search(path):
            out.append(dict(entry, path=path, by=requester(entry.get("agent")), outcome=outcome(entry)))
    return out


def counts(requests: List[Dict[str, Any]]) -> Dict[str, Dict[str, Dict[str, int]]]:
    """{client: {"<path> <outcome>": {requester: n}}}: the summary requests of one run, per host."""
    table: Dict[str, Dict[str, Dict[str, int]]] = {}
    for entry in summary_requests(requests):
        key = "%s %s" % (entry["path"], entry["outcome"])
        per = table.setdefault(str(entry.get("client")), {}).setdefault(key, {})
        per[entry["by"]] = per.get(entry["by"], 0) + 1
    return table


def full_fetches(requests: List[Dict[str, Any]]) -> Dict[Tuple[str, str], int]:
    """(client, summary path) -> how many times its whole body was sent."""
    out: Dict[Tuple[str, str], int] = {}
    for entry in summary_requests(requests):
        if entry["outcome"] == "full":
            key = (str(entry.get("client")), entry["path"])
            out[key] = out.get(key, 0) + 1
    return out


def enlarge_summary(all_dir: Path, target: int = 4 << 20, seed: int = 14) -> int:
    """Grow the repository's pkg_summary.xz to about `target` bytes, as big as a real repository's
    (about 20,000 records, a few MB compressed), with packages no one installs; returns its size.

    With the real demo repository's 944 bytes, any client gets the whole file in the first packet,
    so pkgin's up-to-date check (a GET it hangs up on once it has read Last-Modified) looks like a
    download; with a real-sized file the request log shows how much went out. The padding records
    are copies of a real record under other names, with incompressible descriptions. The .gz beside
    it is removed: a repository offers the formats it offers, and clients stop at the first they find.
    """
    text = lzma.decompress((all_dir / "pkg_summary.xz").read_bytes()).decode("utf-8")
    record = [line for line in text.split("\n\n", 1)[0].splitlines()
              if not line.startswith(("PKGNAME=", "PKGPATH=", "DEPENDS=", "DESCRIPTION=", "FILE_NAME="))]
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
    parts = [text.rstrip("\n") + "\n"]
    size = 0
    number = 0
    while size < target:
        number += 1
        lines = ["PKGNAME=padding%05d-1.0" % number, "PKGPATH=padding/padding%05d" % number,
                 "FILE_NAME=padding%05d-1.0.tgz" % number] + record
        lines += ["DESCRIPTION=" + "".join(rng.choice(alphabet) for _unused in range(72)) for _unused in range(48)]
        block = "\n".join(lines) + "\n"
        parts.append("\n" + block)
        size += int(len(block) * 0.78)  # what xz leaves of random base64 text
    data = lzma.compress("".join(parts).encode("utf-8"), preset=0)
    (all_dir / "pkg_summary.xz").write_bytes(data)
    (all_dir / "pkg_summary.gz").unlink(missing_ok=True)
    return len(data)


def deploy_tasks(bootstrap: Dict[str, Any], prefix: str) -> List[Dict[str, Any]]:
    """The demo's real-tools play, less the service: bootstrap the real kit, install svc-demo."""
    return [{"name": "Bootstrap the real kit", "pkgsrc.deploy.bootstrap": bootstrap},
            {"name": "Install svc-demo", "pkgsrc.deploy.package": {"name": ["svc-demo"], "prefix": prefix}}]


def run_deploy(tb: Any, host: Any, tasks: List[Dict[str, Any]], tmp: Path,
               env: Optional[Dict[str, str]] = None) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Run the play once on host; return (the task results, the HTTP requests made meanwhile)."""
    before = len(tb.http_requests())
    out = play(tmp, tasks, inventory=tb.files["inventory"]["ssh"], hosts=host.name, connection=None,
               env=dict(env or {}, ANSIBLE_CONFIG=tb.files["inventory"]["config"]))
    return task_results(out, host.name), tb.http_requests()[before:]
