"""pytest fixtures for the testbed. Import them into a conftest.py::

    from tests.testbed.fixtures import testbed, testbed_root, testbed_session  # noqa: F401
    from tests.testbed.fixtures import pytest_collection_modifyitems  # noqa: F401 (adds the marker)

``testbed`` is a factory: ``tb = testbed(2)`` boots two hosts and returns the ``Testbed``; every
testbed a test made is torn down after it, pass or fail, and the teardown fails the test if anything
was left behind. ``testbed_session`` is the same factory with session scope, for suites that share
hosts. Tests that use either get the ``testbed`` marker automatically (deselect with
``-m "not testbed"``). They are skipped only where a testbed cannot exist: not Linux, or not root.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

from .collections_wheel import ensure_collections
from .inventory import COLLECTIONS_PATH
from .rootfs import build_root
from .testbed import Testbed

FIXTURE_NAMES = ("testbed", "testbed_session", "testbed_root")
TOOLS = ("systemd-nspawn", "debootstrap", "nsenter", "ip", "nc", "ssh", "ssh-keygen")

TestbedFactory = Callable[..., Testbed]


def unavailable_reason() -> str | None:
    """Why no testbed can run here (a skip reason), or None."""
    if not sys.platform.startswith("linux"):
        return f"the testbed needs Linux (systemd-nspawn), this is {sys.platform}"
    if os.geteuid() != 0:
        return "the testbed needs root (network namespaces, cgroups, systemd-nspawn)"
    return None


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def testbed_root() -> Iterator[Path]:
    """The cached host root (built on first use, about 75 s) and the Ansible collections the tests need.

    While the session runs, SIGTERM is turned into KeyboardInterrupt, so a CI timeout still runs the
    testbed teardowns instead of leaving hosts behind.
    """
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"testbed tools missing: {', '.join(missing)}; run scripts/setup.sh (it installs them)")
    ensure_collections(COLLECTIONS_PATH)
    root, _seconds = build_root()
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield root
    finally:
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _factory(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TestbedFactory, list[Testbed]]:
    made: list[Testbed] = []

    def make(n: int = 2, names: Sequence[str] | None = None, serve: Path | str | None = None,
             bind_controller_python: bool = False) -> Testbed:
        tb = Testbed(tmp_path_factory.mktemp("testbed"), serve=serve, root=root,
                     bind_controller_python=bind_controller_python)
        made.append(tb)  # before up(): a failed up is still torn down
        tb.up(n, names=names)
        return tb

    return make, made


def _teardown(made: list[Testbed]) -> None:
    problems = []
    for tb in reversed(made):
        left = tb.down()
        if left:
            problems.append(f"testbed {tb.run_id} left behind:\n  " + "\n  ".join(left))
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def testbed(testbed_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestbedFactory]:
    """Factory: ``testbed(n=2, names=None, serve=None) -> Testbed`` (hosts see nothing of the controller's files;
    ``bind_controller_python`` is accepted only as False, for older callers)."""
    make, made = _factory(testbed_root, tmp_path_factory)
    try:
        yield make
    finally:
        _teardown(made)


@pytest.fixture(scope="session")
def testbed_session(testbed_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestbedFactory]:
    """Session-scoped ``testbed`` factory: hosts stay up until the session ends."""
    make, made = _factory(testbed_root, tmp_path_factory)
    try:
        yield make
    finally:
        _teardown(made)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Give every test that uses a testbed fixture the ``testbed`` marker."""
    del config
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in FIXTURE_NAMES):
            item.add_marker(pytest.mark.testbed)
