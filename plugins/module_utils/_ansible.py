"""The Ansible side of the core: a Runner over module.run_command, and one place for errors.

Modules call `run(module, function, ...)`: the core's PkgsrcError becomes fail_json with the
error's message and hint; nothing else of the core leaks into the modules. `exit_with` hands a
core result dict to exit_json the same way for every module.
"""
from __future__ import annotations

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.journal import history_options
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Result, Runner, validate_argv


class AnsibleRunner(Runner):
    """Runs argv lists through AnsibleModule.run_command (never a shell), in the C locale."""

    def __init__(self, module):
        self.module = module

    def run(self, argv, env=None, cwd=None, stdin=None):
        args = validate_argv(argv)
        environ = {"LC_ALL": "C"}
        environ.update(env or {})
        rc, out, err = self.module.run_command(list(args), check_rc=False, environ_update=environ, cwd=cwd,
                                               data=stdin, binary_data=True, use_unsafe_shell=False)
        return Result(args, rc, out, err)


#: The options of the `_history` documentation fragment, for a module's argument_spec.
HISTORY_ARGS = dict(history_keep=dict(type="int", default=200), save_packages=dict(type="bool", default=True),
                    saved_keep=dict(type="int", default=5), saved_max_size=dict(type="str"))


def history(module):
    """The run's history options (actor ansible); a bad value fails the task."""
    return run(module, history_options, "ansible", module.params)


def run(module, function, *args, **kwargs):
    """Call a core function; turn a PkgsrcError into fail_json (no traceback reaches the user)."""
    try:
        return function(*args, **kwargs)
    except PkgsrcError as exc:
        module.fail_json(msg=str(exc), **exc.details())
    return None


def exit_with(module, result, default_msg=""):
    """exit_json with a core result dict: its diff only in diff mode; its messages (when it has
    them) joined into msg, lines starting with WARNING also shown as Ansible warnings."""
    out = dict(result)
    diff = out.pop("diff", None)
    messages = out.pop("messages", None)
    if module._diff and diff:  # pylint: disable=protected-access
        out["diff"] = diff
    if messages is not None:
        for line in messages:
            if line.startswith("WARNING"):
                module.warn(line)
        out["msg"] = "; ".join(messages) or default_msg
    module.exit_json(**out)
