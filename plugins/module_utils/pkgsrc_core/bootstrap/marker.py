"""The state file a bootstrap made by this tool leaves: <prefix>/etc/pkgsrc-deploy.json.

It records how the prefix was made (kit or source, what was verified, the bootstrap command),
the layout, the top-level paths the bootstrap created (`roots`: what state=absent removes) and
the files outside those roots it manages (`config_files`, `profile_blocks`). Its presence is what
lets state=absent remove a prefix without force.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional

from ..errors import PkgsrcError

TOOL = "pkgsrc.deploy"
FORMAT = 1


def render_marker(data: Mapping[str, Any]) -> str:
    """JSON text of a marker (sorted keys, trailing newline)."""
    body = dict(data)
    body["tool"] = TOOL
    body["format"] = FORMAT
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def parse_marker(text: Optional[str]) -> Optional[Dict[str, Any]]:
    """The marker's data, None when there is none; PkgsrcError when it is not ours or is damaged."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise PkgsrcError("the bootstrap state file is not valid JSON",
                          "restore it or remove it; with it removed, state=absent needs force") from None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        raise PkgsrcError("the bootstrap state file was not written by %s" % TOOL,
                          "leave it alone; state=absent needs force for this prefix")
    return data


def updated_marker(current: Optional[Mapping[str, Any]], **changes: Any) -> Dict[str, Any]:
    """current with changes merged; list fields are unions that keep their order."""
    data: Dict[str, Any] = dict(current or {})
    for key, value in changes.items():
        if isinstance(value, (list, tuple)) and isinstance(data.get(key), list):
            merged = list(data[key])
            for item in value:
                if item not in merged:
                    merged.append(item)
            data[key] = merged
        else:
            data[key] = value
    return data
