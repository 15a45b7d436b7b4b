"""Saved packages (issue 13) against the real pkg_install 20170419 and pkgin 26.4.0.

On one testbed host: the real kit extracted at /opt/pkg, hello-1.0 installed with the real pkgin
from the real demo repository, then re-packed by the core's own code (history.saved.save_installed,
run INSIDE the host with the host's python3 from a copy of plugins/module_utils/pkgsrc_core), with
the host's real pkg_create. The package is deleted, the saved file added back with the real
pkg_add, and the real pkg_admin check finds nothing wrong. A file modified since install is saved
as it is, with a warning, and comes back modified.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.realtools import KIT_NAME, PKG_DBDIR, PREFIX
from tests.realtools.site import prepare

pytestmark = [pytest.mark.slow]

CORE = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "pkgsrc_core"
CORE_IN_HOST = "/root/core"
README = PREFIX + "/share/doc/hello/README"
SAVED = PREFIX + "/var/db/pkgsrc-deploy/saved/hello-1.0.tgz"

SAVE_SCRIPT = """
import json, sys
from pkgsrc_core.history import saved
from pkgsrc_core.layout import Layout
from pkgsrc_core.runner import SubprocessRunner
layout = Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc", varbase="/opt/pkg/var")
result = saved.save_installed(layout, sys.argv[1], SubprocessRunner())
print(json.dumps(dict(result.to_dict(), argv=list(result.argv), found=saved.find_saved(layout, sys.argv[1]))))
"""


def _core_tarball() -> bytes:
    """plugins/module_utils/pkgsrc_core as pkgsrc_core/..., sources only."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(CORE.rglob("*.py")):
            if "__pycache__" not in path.parts:
                tar.add(str(path), arcname="pkgsrc_core/" + str(path.relative_to(CORE)))
    return buf.getvalue()


@pytest.fixture(scope="module")
def host(real_kit, testbed_session):
    """A host with the real kit at /opt/pkg, pointed at the real demo repository, and the core copied in."""
    tb = testbed_session(1, names=["realsaved"])
    site = prepare(tb.www_dir, tb.http_url, real_kit)
    (tb.www_dir / "core.tar.gz").write_bytes(_core_tarball())
    machine = tb.hosts[0]
    machine.run(["curl", "-fsS", "-o", "/root/kit.tar.gz", site.base_url + "kit/" + KIT_NAME])
    machine.run(["tar", "-xzpf", "/root/kit.tar.gz", "-C", "/"])
    machine.put_file(PREFIX + "/etc/pkgin/repositories.conf", site.repo_url + "\n")
    machine.run(["curl", "-fsS", "-o", "/root/core.tar.gz", site.base_url + "core.tar.gz"])
    machine.run(["mkdir", "-p", CORE_IN_HOST])
    machine.run(["tar", "-xzf", "/root/core.tar.gz", "-C", CORE_IN_HOST])
    return machine


def pkg_info(host):
    out = host.run([PREFIX + "/sbin/pkg_info", "-K", PKG_DBDIR]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def admin_check(host):
    """The real pkg_admin check: (rc, every line it printed)."""
    done = host.run([PREFIX + "/sbin/pkg_admin", "-K", PKG_DBDIR, "check"], check=False)
    return done.returncode, (done.stdout + done.stderr).splitlines()


def save(host, pkgname):
    """history.saved.save_installed run inside the host by its python3; its result as data."""
    done = host.run(["python3", "-c", SAVE_SCRIPT, pkgname], env={"PYTHONPATH": CORE_IN_HOST}, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def install_hello(host):
    done = host.run([PREFIX + "/bin/pkgin", "-y", "install", "hello-1.0"], check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello-1.0" in pkg_info(host)


def reinstall_from(host, path):
    """pkg_delete hello, then pkg_add of the saved file: hello-1.0 is back."""
    done = host.run([PREFIX + "/sbin/pkg_delete", "-K", PKG_DBDIR, "hello"], check=False)
    assert done.returncode == 0, done.stderr
    assert "hello-1.0" not in pkg_info(host)
    added = host.run([PREFIX + "/sbin/pkg_add", "-K", PKG_DBDIR, path], check=False)
    assert (added.returncode, added.stderr) == (0, ""), added.stderr
    assert "hello-1.0" in pkg_info(host)
    assert host.run([PREFIX + "/bin/hello"], check=False).returncode == 0


def test_saved_package_reinstalls_with_the_real_tools(host):
    install_hello(host)
    rc, lines = admin_check(host)
    assert rc == 0 and not [line for line in lines if "fail" in line.lower()], lines
    result = save(host, "hello-1.0")
    entry = PKG_DBDIR + "/hello-1.0/"
    assert result["argv"][:13] == [PREFIX + "/sbin/pkg_create", "-l", "-U", "-B", entry + "+BUILD_INFO",
                                   "-c", entry + "+COMMENT", "-d", entry + "+DESC", "-s", entry + "+SIZE_PKG",
                                   "-S", entry + "+SIZE_ALL"]
    assert result["path"] == result["found"] == SAVED
    assert result["warnings"] == [] and result["md5_mismatches"] == []
    assert host.run(["stat", "-c", "%a", SAVED]).stdout.strip() == "644"
    packed = host.run(["tar", "-xzOf", SAVED, "+CONTENTS"]).stdout
    installed = host.run(["cat", entry + "+CONTENTS"]).stdout
    assert packed.count("@comment MD5:") == 3  # pkg_create's own, once each
    assert [x for x in packed.splitlines() if "MD5:" in x] == [x for x in installed.splitlines() if "MD5:" in x]
    assert host.run([PREFIX + "/sbin/pkg_info", "-X", SAVED]).stdout.startswith("PKGNAME=hello-1.0\n")

    reinstall_from(host, SAVED)
    rc, lines = admin_check(host)
    assert rc == 0 and lines[-1] == "Done." and not [line for line in lines if "fail" in line.lower()], lines


def test_modified_file_is_saved_as_it_is_with_a_warning(host):
    if "hello-1.0" not in pkg_info(host):
        install_hello(host)
    host.run(["sh", "-c", "echo 'edited after install' >> " + README])
    edited = host.get_file(README)
    rc, lines = admin_check(host)
    assert rc == 0 and [line for line in lines if "fails MD5 checksum" in line], lines  # rc 0 all the same

    result = save(host, "hello-1.0")
    assert result["md5_mismatches"] == [README]
    assert len(result["warnings"]) == 1 and README in result["warnings"][0], result["warnings"]

    reinstall_from(host, SAVED)
    assert host.get_file(README) == edited
    rc, lines = admin_check(host)
    assert rc == 0 and not [line for line in lines if "fail" in line.lower()], lines
