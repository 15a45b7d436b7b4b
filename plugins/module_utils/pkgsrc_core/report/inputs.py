"""Reading the fleet report's inputs: host facts as Ansible and Salt write them, and desired sets.

Facts come as JSON in any of these shapes, all turned into {host: facts or marker}:
- {host: facts} (pkgsrc_core.facts output; what `salt --out=json --static '*' pkgsrc.facts` prints),
  or several such objects one after another (`salt --out=json` without --static);
- {host: Ansible registered result} (`ansible_facts.pkgsrc` inside; `unreachable`/`failed` + `msg`),
  or a directory with one such JSON file per host (the `tree` callback, `ansible -t DIR`);
- Salt returns that are not facts: a string ("Minion did not return. [No response]", an error),
  False, or {"ret": ..., "retcode": N};
- a list of records {"host": name, "facts": {...}} or {"host": name, "unreachable": true, "error": "..."}.

A desired set is JSON or a small YAML subset (block lists and mappings, quoted or plain scalars,
flow lists, comments): see report.parse_desired for what it may say.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

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


# --- a small YAML subset for desired sets -----------------------------------------------------

Line = Tuple[int, int, str]  # (line number, indent, content)


def _strip_comment(text: str) -> str:
    quote = ""
    for pos, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and (pos == 0 or text[pos - 1] in " \t[,:-"):
            quote = char
        elif char == "#" and (pos == 0 or text[pos - 1] in " \t"):
            return text[:pos].rstrip()
    return text.rstrip()


def _scalar(text: str, where: str) -> Any:
    text = text.strip()
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            raise ReportError("%s: bad double-quoted string %s" % (where, text), "close the quotes") from None
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise ReportError("%s: bad single-quoted string %s" % (where, text), "close the quotes")
        return text[1:-1].replace("''", "'")
    if text.startswith("["):
        if not text.endswith("]"):
            raise ReportError("%s: a flow list must end on the same line" % where, "write [a, b] on one line")
        inner = text[1:-1].strip()
        return [_scalar(item, where) for item in inner.split(",")] if inner else []
    if text == "{}":
        return {}
    if text.startswith(("{", "&", "*", "!", "|", ">")):
        raise ReportError("%s: %r is YAML this reader does not handle" % (where, text),
                          "write the desired set as JSON, or as plain block lists and mappings")
    return text


def _split_key(content: str) -> Optional[Tuple[str, str]]:
    for pos, char in enumerate(content):
        if char == ":" and (pos + 1 == len(content) or content[pos + 1] in " \t"):
            key = content[:pos].strip()
            if key[:1] in "'\"":
                key = str(_scalar(key, "key"))
            return key, content[pos + 1:].strip()
    return None


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _block(lines: List[Line], pos: int, indent: int, source: str) -> Tuple[Any, int]:
    if _is_item(lines[pos][2]):
        items: List[Any] = []
        while pos < len(lines) and lines[pos][1] == indent and _is_item(lines[pos][2]):
            number, _indent, content = lines[pos]
            rest = content[1:].strip()
            pos += 1
            where = "%s:%d" % (source, number)
            if not rest:
                if pos < len(lines) and lines[pos][1] > indent:
                    value, pos = _block(lines, pos, lines[pos][1], source)
                    items.append(value)
                else:
                    items.append(None)
                continue
            pair = None if rest[:1] in "'\"[" else _split_key(rest)
            items.append({pair[0]: _scalar(pair[1], where)} if pair else _scalar(rest, where))
        return items, pos
    mapping: Dict[str, Any] = {}
    while pos < len(lines) and lines[pos][1] == indent and not _is_item(lines[pos][2]):
        number, _indent, content = lines[pos]
        where = "%s:%d" % (source, number)
        pair = _split_key(content)
        if pair is None:
            raise ReportError("%s: expected `key: value` or `- item`, found %r" % (where, content),
                              "write the desired set as a list of patterns or a mapping name: version")
        pos += 1
        key, rest = pair
        if rest:
            mapping[key] = _scalar(rest, where)
        elif pos < len(lines) and (lines[pos][1] > indent or (lines[pos][1] == indent and _is_item(lines[pos][2]))):
            mapping[key], pos = _block(lines, pos, lines[pos][1], source)
        else:
            mapping[key] = None
    return mapping, pos


def parse_simple_yaml(text: str, source: str = "<yaml>") -> Any:
    """The value of a small YAML document: block lists and mappings of scalars (strings or null)."""
    lines: List[Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        content = _strip_comment(raw)
        if not content.strip() or content.strip() in ("---", "..."):
            continue
        stripped = content.lstrip(" ")
        if stripped.startswith("\t"):
            raise ReportError("%s:%d: tab in indentation" % (source, number), "indent with spaces")
        lines.append((number, len(content) - len(stripped), stripped))
    if not lines:
        return None
    if len(lines) == 1 and not _is_item(lines[0][2]) and _split_key(lines[0][2]) is None:
        return _scalar(lines[0][2], "%s:%d" % (source, lines[0][0]))
    value, pos = _block(lines, 0, lines[0][1], source)
    if pos < len(lines):
        raise ReportError("%s:%d: unexpected indentation" % (source, lines[pos][0]),
                          "align items of the same list or mapping")
    return value


def load_desired(path: str) -> DesiredSet:
    """A DesiredSet from a JSON or YAML file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ReportError("cannot read %s: %s" % (path, exc.strerror or exc), "check the --desired path") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = parse_simple_yaml(text, path)
    if data is None:
        raise ReportError("%s says nothing" % path, "list the packages every host should have")
    return parse_desired(data)
