"""services/options.py: removing a service without its command still addresses the service the
options name (a given SMF FMRI or launchd Label), not the default identity."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import ServiceError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Result, Runner
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.options import manage_service


class NothingThere(Runner):
    """Every query says the service is unknown (as svcs and launchctl do for a missing one)."""

    def __init__(self):
        self.calls = []

    def run(self, argv, env=None, cwd=None, stdin=None):
        self.calls.append(list(argv))
        if argv[0].endswith("svcs"):
            return Result(tuple(argv), 1, "", "svcs: Pattern '%s' doesn't match any instances\n" % argv[-1])
        return Result(tuple(argv), 113, "", "Could not find service \"x\" in domain for system\n")


@pytest.mark.parametrize("init,options,ident", [
    ("launchd", {}, "org.pkgsrc.web"),
    ("launchd", {"launchd_label": "com.example.web"}, "com.example.web"),
    ("smf", {}, "svc:/pkgsrc/web:default"),
    ("smf", {"smf_fmri": "svc:/site/web"}, "svc:/site/web:default"),
])
def test_absent_without_command_uses_the_given_identity(init, options, ident):
    runner = NothingThere()
    result = manage_service(dict(options, name="web", state="absent", init=init), runner, check=True)
    assert result["ident"] == ident
    assert not result["changed"]
    assert any(ident.split(":default")[0] in " ".join(call) for call in runner.calls), runner.calls


def test_present_without_command_is_refused():
    with pytest.raises(ServiceError) as err:
        manage_service({"name": "web", "state": "started", "init": "smf"}, NothingThere(), check=True)
    assert "has no command" in str(err.value)
