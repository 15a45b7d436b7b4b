"""Salt execution module pkgsrc_service: one service description, registered natively with SMF,
systemd, launchd or rc.d (the same core and options as the Ansible module pkgsrc.deploy.service).
"""
from __future__ import annotations

from salt.exceptions import CommandExecutionError

try:
    from pkgsrc_core.errors import PkgsrcError
    from pkgsrc_core.runner import SubprocessRunner
    from pkgsrc_core.services.health import health as core_health
    from pkgsrc_core.services.options import manage_service

    HAS_CORE = True
except ImportError:  # pragma: no cover - reported by __virtual__
    HAS_CORE = False

__virtualname__ = "pkgsrc_service"

# __salt__ and __opts__ are injected by the Salt loader.
# pylint: disable=undefined-variable


def __virtual__():
    if not HAS_CORE:
        return (False, "pkgsrc_core is missing: run saltutil.sync_all, or install the saltext-pkgsrc wheel")
    return __virtualname__


def manage(name, state="started", test=False, **options):
    """
    Register, enable and run (or remove) a service. Options as the Ansible module
    pkgsrc.deploy.service: command (list), description, user, group, working_dir, env (dict),
    stop_command, reload_command, network, filesystems, depends_on, restart, start_timeout,
    stop_timeout, forks, pid_file, log_file, enabled, init, scope, source, prefix.
    state: started, stopped, restarted, reloaded, registered or absent. test=True plans only.

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc_service.manage webapp command='["/opt/local/bin/webapp", "-f"]'
        salt '*' pkgsrc_service.manage nginx source=package prefix=/opt/local
    """
    params = {k: v for k, v in options.items() if not k.startswith("__")}
    params.update(name=name, state=state)
    if isinstance(params.get("env"), dict):
        params["env"] = {str(k): str(v) for k, v in params["env"].items()}
    try:
        return manage_service(params, SubprocessRunner(timeout=600), check=bool(test))
    except PkgsrcError as exc:
        raise CommandExecutionError(str(exc)) from None


def health(url=None, command=None, status=200, body=None, rc=0, timeout=5, retries=10, delay=2,
           **kwargs):  # pylint: disable=unused-argument
    """
    Check that an application answers: GET url answers status (and its body holds body), or the
    command (an argv list, no shell) exits rc; up to 1 + retries attempts, delay seconds apart,
    each bounded by timeout. The same check as the Ansible module pkgsrc.deploy.health. Returns
    healthy, attempts, detail; raises when the application is not healthy (so an orchestration
    step fails).

    CLI Example:

    .. code-block:: bash

        salt '*' pkgsrc_service.health url=http://127.0.0.1:8080/health body=ok retries=15
        salt '*' pkgsrc_service.health command='["/opt/local/bin/webapp", "--self-test"]'
    """
    params = dict(url=url, command=command, status=status, body=body, rc=rc, timeout=timeout, retries=retries,
                  delay=delay)
    try:
        result = core_health(params)
    except PkgsrcError as exc:
        raise CommandExecutionError(str(exc)) from None
    if not result["healthy"]:
        raise CommandExecutionError(result["msg"], info=result)
    return result
