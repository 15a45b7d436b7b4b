"""The adapters' bootstrap options and the one call both make.

The user-facing bootstrap options (the same for the Ansible module and the Salt functions)
mapped onto BootstrapRequest, and the one call both adapters make.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ..errors import PkgsrcError
from ..packages.journal import HISTORY_PARAMS, history_options
from ..runner import Runner
from .apply import bootstrap
from .plan import BootstrapRequest

# user option -> BootstrapRequest field (options not listed keep their names)
RENAMES = {"url": "kit_url", "checksum": "kit_checksum", "signature_url": "kit_signature_url",
           "gpg_key": "kit_key", "keyring": "kit_keyring", "fingerprint": "kit_fingerprint"}
SOURCE_RENAMES = {"path": "source_path", "url": "source_url", "checksum": "source_checksum",
                  "workdir": "workdir", "make_jobs": "make_jobs", "abi": "abi", "compiler": "compiler",
                  "prefer_pkgsrc": "prefer_pkgsrc", "mk_fragment": "mk_fragment", "sh": "sh"}


def request_from_options(options: Mapping[str, Any]) -> BootstrapRequest:
    """Adapter options -> BootstrapRequest. `from_source` (a mapping) selects the source method."""
    params: Dict[str, Any] = {}
    for key, value in options.items():
        if value is None or key == "from_source":
            continue
        params[RENAMES.get(key, key)] = value
    source: Optional[Mapping[str, Any]] = options.get("from_source")
    if source:
        if not isinstance(source, Mapping):
            raise PkgsrcError("from_source must be a mapping (path or url, checksum, make_jobs, ...)")
        unknown = sorted(k for k in source if k not in SOURCE_RENAMES)
        if unknown:
            raise PkgsrcError("unknown from_source option(s): %s" % ", ".join(unknown),
                              "use: %s" % ", ".join(sorted(SOURCE_RENAMES)))
        for key, value in source.items():
            if value is not None:
                params[SOURCE_RENAMES[key]] = value
        if params.get("method", "auto") == "auto":
            params["method"] = "source"
    return BootstrapRequest.from_params(params)


def run_bootstrap(options: Mapping[str, Any], runner: Runner, check_mode: bool = False,
                  tool: str = "cli", controller: Optional[str] = None) -> Dict[str, Any]:
    """Bootstrap (or remove, or upgrade) pkgsrc as the options say; the result as plain data.

    The history options (journal.HISTORY_PARAMS) among them go to the run's transaction record.
    """
    history = history_options(tool, options, controller)
    request = request_from_options({k: v for k, v in options.items() if k not in HISTORY_PARAMS})
    return bootstrap(request, runner, check_mode=check_mode, history=history).to_dict()
