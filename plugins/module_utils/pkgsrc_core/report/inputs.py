"""Reading the fleet report's inputs: host facts as Ansible and Salt write them, and desired sets.

Facts come as JSON in any of these shapes, all turned into {host: facts or marker}:
- {host: facts} (pkgsrc_core.facts output; what `salt --out=json --static '*' pkgsrc.facts` prints),
  or several such objects one after another (`salt --out=json` without --static);
- {host: Ansible registered result} (`ansible_facts.pkgsrc` inside; `unreachable`/`failed` + `msg`),
  or a directory with one such JSON file per host (the `tree` callback, `ansible -t DIR`);
- Salt returns that are not facts: a string ("Minion did not return. [No response]", an error),
  False, or {"ret": ..., "retcode": N};
- a list of records {"host": name, "facts": {...}} or {"host": name, "unreachable": true, "error": "..."}.

A desired set is YAML or JSON, read with PyYAML (the report runs on the controller, where Ansible
and Salt bring it): see model.parse_desired for what it may say; a lock file is one too.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping

from ..errors import ReportError
from .model import DesiredSet, parse_desired

_NO_RETURN = ("did not return", "no response", "minion did not respond", "not connected")


def load_json_documents(text: str, source: str = "<input>") -> List[Any]:
    """Every JSON value in text, in order (one document, or several written one after another)."""
    decoder = json.JSONDecoder()
    docs = []
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length:
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise ReportError("%s is not JSON: %s" % (source, exc),
                              "give the JSON that ansible or `salt --out=json` wrote") from None
        docs.append(value)
    if not docs:
        raise ReportError("%s is empty" % source, "give a JSON mapping of host names to pkgsrc facts")
    return docs


def _error_text(value: Mapping[str, Any]) -> str:
    for key in ("error", "msg", "stderr", "skip_reason"):
        if value.get(key):
            return str(value[key]).strip()
    return ""


def host_input(value: Any) -> Dict[str, Any]:
    """One host's entry, in any accepted shape, as facts or an {unreachable|failed, error} marker."""
    if value is None or value is False:
        return {"unreachable": True, "error": "no return"}
    if isinstance(value, str):
        if any(s in value.lower() for s in _NO_RETURN):
            # Salt's "Minion did not return. [No response]" goes on about looking the job up later.
            return {"unreachable": True, "error": value.strip().splitlines()[0]}
        return {"failed": True, "error": value.strip()}
    if not isinstance(value, Mapping):
        return {"failed": True, "error": "unexpected %s instead of facts" % type(value).__name__}
    if value.get("unreachable"):
        return {"unreachable": True, "error": _error_text(value)}
    if value.get("failed"):
        return {"failed": True, "error": _error_text(value) or "failed"}
    if value.get("skipped"):
        return {"failed": True, "error": "skipped: %s" % (_error_text(value) or "no reason given")}
    if "ret" in value and ("retcode" in value or "jid" in value):
        if value.get("retcode") and not isinstance(value["ret"], Mapping):
            return {"failed": True, "error": str(value["ret"])}
        return host_input(value["ret"])
    if "facts" in value and isinstance(value["facts"], Mapping):
        return host_input(value["facts"])
    facts = value.get("ansible_facts")
    if isinstance(facts, Mapping):
        value = facts
    if isinstance(value.get("pkgsrc"), Mapping):
        return host_input(value["pkgsrc"])
    if "prefixes" in value or "facts_version" in value:
        return dict(value)
    return {"failed": True, "error": "no pkgsrc facts in the result (keys: %s)" % ", ".join(sorted(map(str, value)))}


def hosts_from_data(data: Any, source: str = "<input>") -> Dict[str, Dict[str, Any]]:
    """{host: facts or marker} from one decoded JSON document."""
    if isinstance(data, list):
        out = {}
        for record in data:
            if not isinstance(record, Mapping) or not isinstance(record.get("host"), str):
                raise ReportError("%s: a list entry has no host name" % source,
                                  'give records like {"host": "web1", "facts": {...}}')
            rest = {k: v for k, v in record.items() if k != "host"}
            out[record["host"]] = host_input(rest)
        return out
    if isinstance(data, Mapping):
        if "prefixes" in data or "facts_version" in data:
            raise ReportError("%s holds the facts of one host without its name" % source,
                              'wrap them as {"HOSTNAME": facts}')
        return {str(name): host_input(value) for name, value in data.items()}
    raise ReportError("%s holds a %s, not host facts" % (source, type(data).__name__),
                      "give a JSON mapping of host names to pkgsrc facts")


def load_hosts(path: str) -> Dict[str, Dict[str, Any]]:
    """Hosts from a JSON file (one or more documents) or a directory of per-host JSON files."""
    out: Dict[str, Dict[str, Any]] = {}
    try:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if name.startswith(".") or not os.path.isfile(full):
                    continue
                with open(full, encoding="utf-8") as handle:
                    docs = load_json_documents(handle.read(), full)
                out[name] = host_input(docs[-1])
            return out
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ReportError("cannot read %s: %s" % (path, exc.strerror or exc), "check the --input path") from None
    for doc in load_json_documents(text, path):
        out.update(hosts_from_data(doc, path))
    return out


# --- desired sets: YAML or JSON, read with PyYAML on the controller ------------------------------

def _yaml_error(exc: Exception, source: str) -> ReportError:
    mark = getattr(exc, "problem_mark", None)
    where = "%s:%d:%d" % (source, mark.line + 1, mark.column + 1) if mark is not None else source
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return ReportError("%s is not valid YAML or JSON: %s%s" % (where, problem, " (%s)" % context if context else ""),
                       "fix the file there; a desired set is a list of patterns, a mapping name: version, "
                       "or a lock file (docs/report.md, docs/lockfiles.md)")


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """The value of a YAML (or JSON) document, read with PyYAML's safe loader (controller only).

    Numbers with a fraction stay text, so that `hello: 1.10` asks for version 1.10.
    """
    try:
        import yaml  # type: ignore[import-untyped]  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ReportError("reading %s needs PyYAML, which this Python lacks" % source,
                          "run the report with the Python Ansible or Salt runs on (it has PyYAML), "
                          "or pip install PyYAML") from None

    class VersionsLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """The safe loader, with numbers like 1.10 left as text: they are versions, and 1.10 is not 1.1."""

    VersionsLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    try:
        return yaml.load(text, Loader=VersionsLoader)  # noqa: S506 - a subclass of SafeLoader
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None


def load_desired(path: str) -> DesiredSet:
    """A DesiredSet from a YAML or JSON file: a desired set, or a lock file (packages.lockfile)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ReportError("cannot read %s: %s" % (path, reason), "check the --desired path") from None
    data = load_yaml(text, path)
    if data is None:
        raise ReportError("%s says nothing" % path, "list the packages every host should have")
    return parse_desired(data, path)
