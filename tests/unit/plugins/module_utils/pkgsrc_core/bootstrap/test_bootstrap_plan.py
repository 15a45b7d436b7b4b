"""plan_bootstrap(): tables of (request, host, filesystem probe) -> plan. Pure: nothing is touched."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import plan as bs
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.platforms import detect_host

HOSTS = {
    "smartos-zone": {"sysname": "SunOS", "release": "5.11", "version": "joyent_20150806T063417Z",
                     "machine": "i86pc", "zonename": "09306c91-f497-43a5-bced-5f4c8d064ff2",
                     "exists": {"/lib/svc/bin/svc.startd": True}},
    "smartos-gz": {"sysname": "SunOS", "release": "5.11", "version": "joyent_20241128T004404Z", "machine": "i86pc",
                   "zonename": "global", "exists": {"/lib/svc/bin/svc.startd": True}},
    "macos": {"sysname": "Darwin", "release": "23.5.0", "version": "Darwin Kernel Version 23.5.0", "machine": "arm64",
              "sw_vers": "ProductName:\t\tmacOS\nProductVersion:\t\t14.5\nBuildVersion:\t\t23F79\n",
              "exists": {"/sbin/launchd": True}},
    "centos7": {"sysname": "Linux", "release": "3.10.0-693.el7.x86_64", "version": "#1 SMP", "machine": "x86_64",
                "os_release": 'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n',
                "exists": {"/run/systemd/system": True}},
    "debian": {"sysname": "Linux", "release": "6.1.0-47-amd64", "version": "#1 SMP", "machine": "x86_64",
               "os_release": 'ID=debian\nVERSION_ID="12"\n', "exists": {"/run/systemd/system": True}},
}


def host(name, euid=0, home="/root"):
    probe = dict(HOSTS[name])
    probe.update(euid=euid, home=home)
    return detect_host(probe)


def kinds(plan):
    return [a.kind for a in plan.actions]


FRESH = bs.FsProbe()


@pytest.mark.parametrize("name,kit,key", [
    ("smartos-zone", "smartos-trunk-x86_64", "8254B861"),
    ("smartos-gz", "smartos-trunk-tools", "8254B861"),
    ("macos", "macos12.3-trunk-arm64", "ED09C4B0"),
    ("centos7", "el7-trunk-x86_64", "5FE35E6E"),
])
def test_fresh_kit_plan(name, kit, key):
    plan = bs.plan_bootstrap(bs.BootstrapRequest(), host(name), FRESH)
    assert plan.method == "kit" and plan.kit.name == kit
    assert kinds(plan)[:5] == ["fetch", "fetch", "fetch", "verify_signature", "install_kit"]
    assert kinds(plan)[-1] == "pkgin_update"
    fetches = [a.params for a in plan.actions if a.kind == "fetch"]
    assert [f["role"] for f in fetches] == ["kit", "signature", "key"]
    assert fetches[0]["checksum"] == plan.kit.checksum and fetches[0]["checksum"].startswith("sha1:")
    assert fetches[2]["url"].endswith("/pgp/%s.asc" % key)
    assert all(f["dest"].startswith("/var/tmp/pkgsrc-deploy/") for f in fetches)
    verify = [a for a in plan.actions if a.kind == "verify_signature"][0]
    assert verify.params["fingerprint"] == plan.kit.key_fingerprint
    assert plan.changed


def test_fresh_plan_configures_path_per_platform():
    linux = bs.plan_bootstrap(bs.BootstrapRequest(), host("centos7"), FRESH)
    assert "/etc/profile.d/pkgsrc.sh" in [a.params.get("path") for a in linux.actions]
    mac = bs.plan_bootstrap(bs.BootstrapRequest(), host("macos"), FRESH)
    assert {"/etc/paths.d/10-pkgsrc", "/etc/manpaths.d/10-pkgsrc"} <= {a.params.get("path") for a in mac.actions}
    zone = bs.plan_bootstrap(bs.BootstrapRequest(), host("smartos-zone"), FRESH)
    assert not [a for a in zone.actions if a.kind == "write_file"]
    assert any("PATH and MANPATH left alone on SunOS" in m for m in zone.messages)
    quiet = bs.plan_bootstrap(bs.BootstrapRequest(manage_path=False), host("centos7"), FRESH)
    assert not [a for a in quiet.actions if a.kind == "write_file"]


def test_repositories_and_verified_installation():
    req = bs.BootstrapRequest(repositories=("https://a.example/All", "https://b.example/All"),
                              verified_installation="always", manage_path=False)
    plan = bs.plan_bootstrap(req, host("centos7"), FRESH)
    writes = {a.params["file"]: a.params for a in plan.actions if a.kind == "write_file"}
    assert writes["repositories"]["repositories"] == ["https://a.example/All", "https://b.example/All"]
    assert writes["pkg_install"]["settings"] == {"PKG_PATH": "https://a.example/All;https://b.example/All",
                                                 "VERIFIED_INSTALLATION": "always"}
    after = [d["after"] for d in plan.diff if d["after_header"].endswith("repositories.conf")][0]
    assert after.endswith("https://a.example/All\nhttps://b.example/All\n")


EXISTING_PACKAGES = ("bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
                     "pkg_install-20170419", "pkgin-26.4.0")


def test_existing_pkgdb_means_already_bootstrapped():
    fs = bs.FsProbe(pkgdb="/usr/pkg/.pkgdb", packages=EXISTING_PACKAGES, existing=("/usr/pkg",),
                    files={"/etc/profile.d/pkgsrc.sh": None})
    plan = bs.plan_bootstrap(bs.BootstrapRequest(manage_path=False), host("centos7"), fs)
    assert plan.actions == () and not plan.changed
    assert plan.existing.pkg_install == "20170419" and plan.existing.pkgin == "26.4.0"
    assert plan.existing.libarchive is None and not plan.existing.ours
    assert "already bootstrapped" in plan.messages[0] and "not extracted over an existing install" in plan.messages[0]
    assert "pkg_install 20170419, pkgin 26.4.0" in plan.messages[0]
    result = bs.result_of_plan(plan)
    assert result.changed is False and result.existing["pkgin"] == "26.4.0"


def test_existing_install_converges_configuration():
    repos = ("https://pkgsrc.example/All",)
    current = {"/usr/pkg/etc/pkgin/repositories.conf": "http://old.example/All\n",
               "/usr/pkg/etc/pkg_install.conf": "GPG_KEYRING_VERIFY=/usr/pkg/etc/gnupg/pkgsrc.gpg\n"
                                                "PKG_PATH=http://old.example/All\nVERIFIED_INSTALLATION=always\n",
               "/etc/profile.d/pkgsrc.sh": None}
    fs = bs.FsProbe(pkgdb="/usr/pkg/.pkgdb", packages=EXISTING_PACKAGES, files=current, pkgin_present=True)
    plan = bs.plan_bootstrap(bs.BootstrapRequest(repositories=repos), host("centos7"), fs)
    assert kinds(plan) == ["write_file", "write_file", "write_file", "pkgin_update"]
    pkg_conf = [d for d in plan.diff if d["after_header"] == "/usr/pkg/etc/pkg_install.conf"][0]
    assert pkg_conf["after"] == ("GPG_KEYRING_VERIFY=/usr/pkg/etc/gnupg/pkgsrc.gpg\n"
                                 "PKG_PATH=https://pkgsrc.example/All\nVERIFIED_INSTALLATION=always\n")
    # Second run: the files now say what was asked, so nothing to do.
    done = {p: d["after"] for p, d in zip((d["after_header"] for d in plan.diff), plan.diff)}
    fs2 = bs.FsProbe(pkgdb="/usr/pkg/.pkgdb", packages=EXISTING_PACKAGES, files=done, pkgin_present=True)
    again = bs.plan_bootstrap(bs.BootstrapRequest(repositories=repos), host("centos7"), fs2)
    assert again.actions == () and again.diff == ()


def test_user_kit_without_checksum_or_signature_is_refused():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(kit_url="https://mirror.example/kit.tgz", prefix="/usr/pkg"),
                          host("centos7"), FRESH)
    assert "verify=false" in str(err.value) and "kit_checksum" in str(err.value)


def test_user_kit_with_signature_but_no_key_is_refused():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(kit_url="https://m.example/kit.tgz",
                                              kit_signature_url="https://m.example/kit.tgz.asc"),
                          host("centos7"), FRESH)
    assert "kit_key" in str(err.value)


def test_unverified_kit_is_allowed_only_with_the_opt_out_and_warned():
    plan = bs.plan_bootstrap(bs.BootstrapRequest(kit_url="https://m.example/kit.tgz", verify=False),
                             host("centos7"), FRESH)
    assert "verify_signature" not in kinds(plan)
    assert [a.params["checksum"] for a in plan.actions if a.kind == "fetch"] == [None]
    assert any(m.startswith("WARNING") and "UNVERIFIED" in m for m in plan.messages)


def test_user_checksum_overrides_but_signature_stays_required():
    plan = bs.plan_bootstrap(bs.BootstrapRequest(kit_checksum="sha256:" + "ab" * 32), host("centos7"), FRESH)
    assert plan.actions[0].params["checksum"] == "sha256:" + "ab" * 32
    assert "verify_signature" in kinds(plan)


def test_kits_are_not_relocatable():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(prefix="/opt/mine"), host("centos7"), FRESH)
    assert "cannot be relocated" in str(err.value)


def test_unprivileged_kit_into_opt_refused():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(method="kit", unprivileged=False), host("centos7", euid=1000,
                                                                                      home="/home/a"), FRESH)
    assert "needs root" in str(err.value)


def test_no_kit_for_debian():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(), host("debian"), FRESH)
    assert "from source" in str(err.value)


def test_stale_staging_is_removed_first():
    fs = bs.FsProbe(stale_staging=("/usr/.pkgsrc-bootstrap-staging-abc123",))
    plan = bs.plan_bootstrap(bs.BootstrapRequest(), host("centos7"), fs)
    assert plan.actions[0].kind == "remove_stale"
    assert plan.actions[0].params["paths"] == ["/usr/.pkgsrc-bootstrap-staging-abc123"]


def test_unprivileged_user_bootstraps_from_source():
    h = host("debian", euid=1000, home="/home/alice")
    req = bs.BootstrapRequest(source_path="/home/alice/pkgsrc", make_jobs=4, prefer_pkgsrc="yes",
                              mk_fragment="PKG_DEVELOPER=yes\n", abi=64)
    fs = bs.FsProbe(shell="/bin/bash", files={"/home/alice/.profile": "umask 022\n"})
    plan = bs.plan_bootstrap(req, h, fs)
    assert plan.method == "source" and plan.layout.prefix == "/home/alice/pkg"
    run = [a for a in plan.actions if a.kind == "run_bootstrap"][0]
    assert run.params["args"] == [
        "--prefix", "/home/alice/pkg", "--pkgdbdir", "/home/alice/pkg/pkgdb", "--sysconfdir",
        "/home/alice/pkg/etc", "--varbase", "/home/alice/pkg/var", "--workdir",
        "/home/alice/.cache/pkgsrc-deploy/bootstrap-work", "--unprivileged", "--prefer-pkgsrc", "yes",
        "--make-jobs", "4", "--abi", "64", "--mk-fragment", "/home/alice/.cache/pkgsrc-deploy/mk-fragment.conf"]
    assert run.params["sh"] == "/bin/bash" and run.params["roots"] == ["/home/alice/pkg"]
    profile = [a for a in plan.actions if a.kind == "write_file"][0]
    assert profile.params["path"] == "/home/alice/.profile"
    diff = plan.diff[0]
    assert diff["before"] == "umask 022\n" and diff["after"].startswith("umask 022\n# BEGIN pkgsrc.deploy ")
    assert "pkgin_update" not in kinds(plan)


def test_source_needs_a_tree():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(), host("debian", euid=1000, home="/home/a"), FRESH)
    assert "source_path" in str(err.value)


def test_source_url_needs_a_checksum():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(source_url="https://cdn.example/pkgsrc.tar.gz"),
                          host("debian", euid=1000, home="/home/a"), FRESH)
    assert "source_checksum" in str(err.value)


def test_source_url_plan():
    plan = bs.plan_bootstrap(bs.BootstrapRequest(source_url="https://cdn.example/pkgsrc.tar.gz",
                                                 source_checksum="sha256:" + "1" * 64),
                             host("debian", euid=1000, home="/home/a"), FRESH)
    assert kinds(plan)[:3] == ["fetch", "unpack_source", "run_bootstrap"]


@pytest.mark.parametrize("path", ["/home/a/my pkg", "/home/a/p%kg", "relative", "/home/a/../b"])
def test_source_refuses_paths_the_script_refuses(path):
    with pytest.raises(PkgsrcError):
        bs.plan_bootstrap(bs.BootstrapRequest(source_path="/src/pkgsrc", prefix=path),
                          host("debian", euid=1000, home="/home/a"), FRESH)


def test_absent_refuses_an_install_it_did_not_make():
    fs = bs.FsProbe(pkgdb="/usr/pkg/.pkgdb", packages=EXISTING_PACKAGES, existing=("/usr/pkg",))
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(state="absent"), host("centos7"), fs)
    assert "force=true" in str(err.value) and "/usr/pkg" in str(err.value)


def test_absent_with_force():
    fs = bs.FsProbe(pkgdb="/usr/pkg/.pkgdb", packages=EXISTING_PACKAGES, existing=("/usr/pkg",),
                    files={"/etc/profile.d/pkgsrc.sh": "PATH=..."})
    plan = bs.plan_bootstrap(bs.BootstrapRequest(state="absent", force=True), host("centos7"), fs)
    assert [a.params["paths"] for a in plan.actions] == [["/usr/pkg"], ["/etc/profile.d/pkgsrc.sh"]]
    assert "by force" in plan.messages[0]


def test_absent_with_marker_removes_what_it_lists():
    marker = {"tool": "pkgsrc.deploy", "roots": ["/opt/local", "/var/db/pkgin"],
              "config_files": [], "profile_blocks": []}
    fs = bs.FsProbe(pkgdb="/opt/local/pkg", marker=marker, existing=("/opt/local", "/var/db/pkgin"))
    plan = bs.plan_bootstrap(bs.BootstrapRequest(state="absent"), host("smartos-zone"), fs)
    assert plan.actions[0].params["paths"] == ["/opt/local", "/var/db/pkgin"]


def test_absent_refuses_system_directories_even_from_a_marker():
    marker = {"tool": "pkgsrc.deploy", "roots": ["/var"]}
    fs = bs.FsProbe(pkgdb="/opt/local/pkg", marker=marker, existing=("/var",))
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(state="absent"), host("smartos-zone"), fs)
    assert "system directory" in str(err.value)


def test_absent_when_nothing_is_there():
    plan = bs.plan_bootstrap(bs.BootstrapRequest(state="absent"), host("centos7"), FRESH)
    assert plan.actions == () and "nothing to remove" in plan.messages[0]


def test_upgrade_plan():
    fs = bs.FsProbe(pkgdb="/usr/pkg/.pkgdb", packages=EXISTING_PACKAGES)
    plan = bs.plan_bootstrap(bs.BootstrapRequest(state="upgraded"), host("centos7"), fs)
    assert plan.actions[0].params["steps"] == [
        ["/usr/pkg/sbin/pkg_add", "-U", "pkg_install", "pkgin", "libarchive"],
        ["/usr/pkg/bin/pkgin", "clean"],
        ["/usr/pkg/bin/pkgin", "-y", "upgrade"]]


def test_upgrade_needs_an_install():
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(state="upgraded"), host("centos7"), FRESH)
    assert "state=present" in str(err.value)


def test_installed_layout_wins_over_the_table():
    installed = Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc",
                       varbase="/opt/pkg/var")
    fs = bs.FsProbe(pkgdb="/opt/pkg/pkgdb", packages=EXISTING_PACKAGES, installed_layout=installed)
    plan = bs.plan_bootstrap(bs.BootstrapRequest(manage_path=False), host("macos"), fs)
    assert plan.layout.pkg_dbdir == "/opt/pkg/pkgdb"


@pytest.mark.parametrize("params,text", [
    ({"state": "latest"}, "state"), ({"method": "rpm"}, "method"), ({"branch": "2024Q9"}, "branch"),
])
def test_bad_requests(params, text):
    with pytest.raises(PkgsrcError) as err:
        bs.plan_bootstrap(bs.BootstrapRequest(**params), host("smartos-zone"), FRESH)
    assert text in str(err.value)


def test_request_from_params():
    req = bs.BootstrapRequest.from_params({"repositories": ["https://a/All"], "prefix": None, "verify": False,
                                           "extra_paths": "/opt/pkg-extra"})
    assert req.repositories == ("https://a/All",) and req.prefix is None and req.verify is False
    assert req.extra_paths == ("/opt/pkg-extra",)
    with pytest.raises(PkgsrcError):
        bs.BootstrapRequest.from_params({"colour": "red"})


def test_resolve_layout_overrides():
    req = bs.BootstrapRequest(method="source", prefix="/opt/app", varbase="/var/opt/app")
    layout = bs.resolve_layout(req, host("centos7"))
    assert (layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase) == (
        "/opt/app", "/opt/app/pkgdb", "/opt/app/etc", "/var/opt/app")


def test_tool_versions_from_pkgdb_names():
    assert bs.tool_versions(EXISTING_PACKAGES + ("libarchive-3.7.2",)) == {
        "pkg_install": "20170419", "pkgin": "26.4.0", "libarchive": "3.7.2"}
