"""Services: one ServiceSpec, rendered for SMF, systemd, launchd or rc.d, and managed plan-then-apply.

    from pkgsrc_core.services import ServiceSpec, ensure, manager_for
    spec = ServiceSpec(name="app", command=["/opt/pkg/bin/app", "-f"], user="app")
    manager = manager_for("systemd", runner)
    result = ensure(manager, manager.request(spec, enabled=True, state="running"), check=False)
    result.changed, result.diff, result.messages

Each renderer module exposes `render(spec) -> str`; each manager drives one init system's
tools through a Runner. See base.py for the planner and spec.py for validation.
"""
from __future__ import annotations

from typing import Any

from ..errors import ServiceError
from ..runner import Runner
from .base import (
    STATES,
    Action,
    ServiceManager,
    ServicePlan,
    ServiceRef,
    ServiceRequest,
    ServiceResult,
    ServiceStatus,
    apply,
    ensure,
    plan_service,
)
from .launchd import LaunchdManager
from .rcd import RcdManager
from .smf import SmfManager
from .spec import ServiceSpec, spec_from_dict
from .systemd import SystemdManager

MANAGERS = {
    "smf": SmfManager,
    "systemd": SystemdManager,
    "launchd": LaunchdManager,
    "rcd": RcdManager,
}

__all__ = [
    "STATES", "Action", "ServiceManager", "ServicePlan", "ServiceRef", "ServiceRequest", "ServiceResult",
    "ServiceStatus", "ServiceSpec", "spec_from_dict", "apply", "ensure", "plan_service", "manager_for",
    "SmfManager", "SystemdManager", "LaunchdManager", "RcdManager", "MANAGERS",
]


def manager_for(init: str, runner: Runner, **options: Any) -> ServiceManager:
    """The manager for an init system name ('smf', 'systemd', 'launchd', 'rcd'); options go to its constructor."""
    try:
        cls = MANAGERS[init]
    except KeyError:
        raise ServiceError("no service manager for init system %r" % (init,),
                           "supported: %s" % ", ".join(sorted(MANAGERS))) from None
    return cls(runner, **options)
