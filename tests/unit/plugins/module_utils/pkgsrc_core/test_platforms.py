"""platforms.py on a table of real uname, os-release, sw_vers and zonename outputs.

Every text below was printed by the named system (collected from published documentation,
release notes and session logs); none is made up. Where the source printed `uname -a`, the
table keeps that line and a test checks that the uname fields given to detect_host() are the
ones that line shows.
"""
from __future__ import annotations

import os

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core import platforms
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap.kits import select_kit

CENTOS7_OS_RELEASE = """NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"
"""

ROCKY8_OS_RELEASE = """NAME="Rocky Linux"
VERSION="8.7 (Green Obsidian)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.7"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Rocky Linux 8.7 (Green Obsidian)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:8:GA"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-8"
ROCKY_SUPPORT_PRODUCT_VERSION="8.7"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="8.7"
"""

ALMA9_OS_RELEASE = """NAME="AlmaLinux"
VERSION="9.2 (Turquoise Kodkod)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.2 (Turquoise Kodkod)"
ANSI_COLOR="0;34"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:almalinux:almalinux:9::baseos"
HOME_URL="https://almalinux.org/"
DOCUMENTATION_URL="https://wiki.almalinux.org/"
BUG_REPORT_URL="https://bugs.almalinux.org/"

ALMALINUX_MANTISBT_PROJECT="AlmaLinux-9"
ALMALINUX_MANTISBT_PROJECT_VERSION="9.2"
REDHAT_SUPPORT_PRODUCT="AlmaLinux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.2"
"""

DEBIAN12_OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

OMNIOS_R151048_OS_RELEASE = """NAME="OmniOS"
PRETTY_NAME="OmniOS Community Edition v11 r151048"
CPE_NAME="cpe:/o:omniosce:omnios:11:151048:0"
ID=omnios
VERSION=r151048
VERSION_ID=r151048
BUILD_ID=151048.0.2023.11.04
HOME_URL="https://omnios.org/"
SUPPORT_URL="https://omnios.org/"
BUG_REPORT_URL="https://github.com/omniosorg/omnios-build/issues/new"
"""

MACOS14_SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t14.5\nBuildVersion:\t\t23F79\n"
MACOS13_SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t13.6.1\n"

SVC = {"/lib/svc/bin/svc.startd": True}
SYSTEMD = {"/run/systemd/system": True}
LAUNCHD = {"/sbin/launchd": True}
RCD = {"/etc/rc.subr": True}

# name: (uname -a as printed or None, uname fields, other probe keys, expected facts, expected layout, kit)
CASES = {
    "smartos-global-zone": (
        "SunOS genesis 5.11 joyent_20241128T004404Z i86pc i386 i86pc",
        ("SunOS", "genesis", "5.11", "joyent_20241128T004404Z", "i86pc"),
        {"zonename": "global\n", "exists": SVC},
        {"os_id": "smartos", "os_release": "20241128T004404Z", "platform": "smartos-gz", "global_zone": True,
         "arch": "x86_64", "abi": 64, "init": "smf", "os_family": "illumos"},
        ("/opt/tools", "/opt/tools/var/db/pkg", "/opt/tools/etc", "/opt/tools/var"),
        "smartos-trunk-tools"),
    "smartos-zone": (
        "SunOS 08-00-27-ac-b1-65 5.11 joyent_20150806T063417Z i86pc i386 i86pc",
        ("SunOS", "08-00-27-ac-b1-65", "5.11", "joyent_20150806T063417Z", "i86pc"),
        {"zonename": "09306c91-f497-43a5-bced-5f4c8d064ff2\n", "exists": SVC},
        {"os_id": "smartos", "os_release": "20150806T063417Z", "platform": "illumos", "global_zone": False,
         "zonename": "09306c91-f497-43a5-bced-5f4c8d064ff2", "arch": "x86_64", "init": "smf"},
        ("/opt/local", "/opt/local/pkg", "/opt/local/etc", "/var"),
        "smartos-trunk-x86_64"),
    "omnios-r151046": (
        None,
        ("SunOS", "omnios", "5.11", "omnios-r151046-82ebda23c9", "i86pc"),
        {"zonename": "global\n", "isainfo_bits": "64\n", "exists": SVC},
        {"os_id": "omnios", "os_release": "r151046", "platform": "illumos", "global_zone": True,
         "arch": "x86_64", "abi": 64},
        ("/opt/local", "/opt/local/pkg", "/opt/local/etc", "/var"),
        "smartos-trunk-x86_64"),
    "omnios-r151048": (
        "SunOS omnios 5.11 omnios-r151048-24333ee74c i86pc i386 i86pc",
        ("SunOS", "omnios", "5.11", "omnios-r151048-24333ee74c", "i86pc"),
        {"zonename": "global", "os_release": OMNIOS_R151048_OS_RELEASE, "exists": SVC},
        {"os_id": "omnios", "os_release": "r151048", "os_name": "OmniOS", "platform": "illumos"},
        ("/opt/local", "/opt/local/pkg", "/opt/local/etc", "/var"),
        "smartos-trunk-x86_64"),
    "centos-7": (
        "Linux CentOS74 3.10.0-693.el7.x86_64 #1 SMP Tue Aug 22 21:09:27 UTC 2017 x86_64 x86_64 x86_64 GNU/Linux",
        ("Linux", "CentOS74", "3.10.0-693.el7.x86_64", "#1 SMP Tue Aug 22 21:09:27 UTC 2017", "x86_64"),
        {"os_release": CENTOS7_OS_RELEASE, "exists": SYSTEMD},
        {"os_id": "centos", "os_family": "redhat", "os_release": "7", "os_major": "7", "platform": "el",
         "arch": "x86_64", "abi": 64, "init": "systemd", "os_name": "CentOS Linux 7 (Core)"},
        ("/usr/pkg", "/usr/pkg/.pkgdb", "/usr/pkg/etc", "/usr/pkg/var"),
        "el7-trunk-x86_64"),
    "rocky-8": (
        None,
        ("Linux", "mysql", "4.18.0-425.19.2.el8_7.x86_64", "#1 SMP Tue Apr 4 22:38:11 UTC 2023", "x86_64"),
        {"os_release": ROCKY8_OS_RELEASE, "exists": SYSTEMD},
        {"os_id": "rocky", "os_family": "redhat", "os_release": "8.7", "os_major": "8", "platform": "el"},
        ("/usr/pkg", "/usr/pkg/.pkgdb", "/usr/pkg/etc", "/usr/pkg/var"),
        "el7-trunk-x86_64"),
    "alma-9-aarch64": (
        "Linux mumenstallu 5.14.0-284.30.1.el9_2.aarch64 #1 SMP PREEMPT_DYNAMIC Fri Sep 15 19:19:23 UTC 2023 "
        "aarch64 aarch64 aarch64 GNU/Linux",
        ("Linux", "mumenstallu", "5.14.0-284.30.1.el9_2.aarch64",
         "#1 SMP PREEMPT_DYNAMIC Fri Sep 15 19:19:23 UTC 2023", "aarch64"),
        {"os_release": ALMA9_OS_RELEASE, "exists": SYSTEMD},
        {"os_id": "almalinux", "os_family": "redhat", "os_release": "9.2", "os_major": "9", "arch": "aarch64",
         "abi": 64, "platform": "el"},
        ("/usr/pkg", "/usr/pkg/.pkgdb", "/usr/pkg/etc", "/usr/pkg/var"),
        None),
    "debian-12": (
        "Linux debian12-0 6.1.0-47-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.170-3 (2026-05-08) x86_64 GNU/Linux",
        ("Linux", "debian12-0", "6.1.0-47-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.170-3 (2026-05-08)", "x86_64"),
        {"os_release": DEBIAN12_OS_RELEASE, "exists": SYSTEMD},
        {"os_id": "debian", "os_family": "debian", "os_release": "12", "os_major": "12", "platform": "linux",
         "init": "systemd"},
        ("/usr/pkg", "/usr/pkg/.pkgdb", "/usr/pkg/etc", "/usr/pkg/var"),
        None),
    "debian-12-no-systemd": (
        None,
        ("Linux", "debian12-0", "6.1.0-47-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.170-3 (2026-05-08)", "x86_64"),
        {"os_release": DEBIAN12_OS_RELEASE, "exists": {}},
        {"os_id": "debian", "init": "unknown"},
        ("/usr/pkg", "/usr/pkg/.pkgdb", "/usr/pkg/etc", "/usr/pkg/var"),
        None),
    "macos-14-arm64": (
        "Darwin Erics-MacBook-Pro-2.local 23.5.0 Darwin Kernel Version 23.5.0: Wed May  1 20:12:58 PDT 2024; "
        "root:xnu-10063.121.3~5/RELEASE_ARM64_T6000 arm64",
        ("Darwin", "Erics-MacBook-Pro-2.local", "23.5.0",
         "Darwin Kernel Version 23.5.0: Wed May  1 20:12:58 PDT 2024; root:xnu-10063.121.3~5/RELEASE_ARM64_T6000",
         "arm64"),
        {"sw_vers": MACOS14_SW_VERS, "exists": LAUNCHD},
        {"os_id": "macos", "os_family": "darwin", "os_release": "14.5", "os_major": "14", "arch": "aarch64",
         "abi": 64, "init": "launchd", "platform": "macos", "os_name": "macOS"},
        ("/opt/pkg", "/opt/pkg/.pkgdb", "/opt/pkg/etc", "/opt/pkg/var"),
        "macos12.3-trunk-arm64"),
    "macos-13-x86_64": (
        "Darwin *-MacBook-Pro.local 22.6.0 Darwin Kernel Version 22.6.0: Wed Oct  4 21:25:26 PDT 2023; "
        "root:xnu-8796.141.3.701.17~4/RELEASE_X86_64 x86_64",
        ("Darwin", "*-MacBook-Pro.local", "22.6.0",
         "Darwin Kernel Version 22.6.0: Wed Oct  4 21:25:26 PDT 2023; root:xnu-8796.141.3.701.17~4/RELEASE_X86_64",
         "x86_64"),
        {"sw_vers": MACOS13_SW_VERS, "exists": LAUNCHD},
        {"os_id": "macos", "os_release": "13.6.1", "os_major": "13", "arch": "x86_64", "platform": "macos"},
        ("/opt/pkg", "/opt/pkg/.pkgdb", "/opt/pkg/etc", "/opt/pkg/var"),
        "macos12.3-trunk-x86_64"),
    "netbsd-10-amd64": (
        "NetBSD  10.0 NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024  "
        "mkrepro@mkrepro.NetBSD.org:/usr/src/sys/arch/amd64/compile/GENERIC amd64",
        ("NetBSD", "", "10.0", "NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024  "
         "mkrepro@mkrepro.NetBSD.org:/usr/src/sys/arch/amd64/compile/GENERIC", "amd64"),
        {"exists": RCD},
        {"os_id": "netbsd", "os_release": "10.0", "os_major": "10", "arch": "x86_64", "abi": 64, "init": "rcd",
         "platform": "netbsd"},
        ("/usr/pkg", "/usr/pkg/pkgdb", "/usr/pkg/etc", "/var"),
        None),
}


def _probe(case):
    _line, fields, extra, _facts, _layout, _kit = CASES[case]
    probe = dict(zip(("sysname", "nodename", "release", "version", "machine"), fields))
    probe.update(extra)
    probe.setdefault("euid", 0)
    probe.setdefault("home", "/root")
    return probe


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][0] is not None))
def test_uname_fields_are_those_the_line_shows(case):
    line, fields = CASES[case][0], CASES[case][1]
    joined = " ".join(fields)
    # uname -a prints sysname nodename release version machine, then (Linux, illumos) more fields.
    assert line == joined or line.startswith(joined + " ")


@pytest.mark.parametrize("case", sorted(CASES))
def test_detect_host(case):
    facts = platforms.detect_host(_probe(case))
    expected = CASES[case][3]
    got = facts.to_dict()
    got["os_name"] = facts.os_name
    for key, value in expected.items():
        assert got[key] == value, "%s: %s is %r, expected %r" % (case, key, got[key], value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_layout_follows_the_contract_table(case):
    facts = platforms.detect_host(_probe(case))
    layout = platforms.default_layout(facts)
    assert (layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase) == CASES[case][4]


@pytest.mark.parametrize("case", sorted(CASES))
def test_kit_for_host(case):
    facts = platforms.detect_host(_probe(case))
    want = CASES[case][5]
    if want is None:
        with pytest.raises(PkgsrcError) as err:
            select_kit(facts.platform, facts.arch, "trunk", os_release=facts.os_release, os_family=facts.os_family)
        assert "no published bootstrap kit" in str(err.value)
        assert "from source" in str(err.value)
    else:
        kit = select_kit(facts.platform, facts.arch, "trunk", os_release=facts.os_release,
                         os_family=facts.os_family)
        assert kit.name == want
        assert kit.prefix == platforms.default_layout(facts).prefix


def test_el_aarch64_refusal_names_the_kits_that_exist():
    facts = platforms.detect_host(_probe("alma-9-aarch64"))
    with pytest.raises(PkgsrcError) as err:
        select_kit(facts.platform, facts.arch, "trunk", os_release=facts.os_release, os_family=facts.os_family)
    assert "el7-trunk-x86_64" in str(err.value)


def test_unprivileged_layout_is_home_pkg():
    probe = _probe("debian-12")
    probe.update(euid=1000, home="/home/alice")
    facts = platforms.detect_host(probe)
    layout = platforms.default_layout(facts)
    assert facts.privileged is False
    assert (layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase) == (
        "/home/alice/pkg", "/home/alice/pkg/pkgdb", "/home/alice/pkg/etc", "/home/alice/pkg/var")
    assert layout.unprivileged and layout.init == "systemd-user"
    assert platforms.default_layout(platforms.detect_host(_probe("smartos-zone")), unprivileged=True,
                                    ).init == "none"


def test_source_layout_default():
    layout = platforms.default_layout(platforms.detect_host(_probe("centos-7")), method="source")
    assert (layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase) == (
        "/usr/pkg", "/usr/pkg/pkgdb", "/usr/pkg/etc", "/usr/pkg/var")


def test_unconfirmed_layouts_are_marked():
    confirmed = {case: platforms.default_layout(platforms.detect_host(_probe(case))).confirmed for case in CASES}
    assert confirmed["smartos-zone"] is True and confirmed["netbsd-10-amd64"] is True
    assert confirmed["macos-14-arm64"] is False and confirmed["centos-7"] is False
    assert confirmed["smartos-global-zone"] is False  # "(?)" for its sysconfdir in the contract


def test_macos_layout_allows_paths_d_file():
    layout = platforms.default_layout(platforms.detect_host(_probe("macos-14-arm64")))
    assert layout.allowed_files() == ("/etc/paths.d/10-pkgsrc",)
    assert layout.manpath == "/opt/pkg/share/man"


def test_smartos_zone_may_write_only_pkgin_db_under_shared_var():
    layout = platforms.default_layout(platforms.detect_host(_probe("smartos-zone")))
    assert layout.allowed_roots() == ("/opt/local", "/var/db/pkgin")


def test_zone_unknown_without_zonename():
    probe = _probe("smartos-zone")
    probe["zonename"] = None
    facts = platforms.detect_host(probe)
    assert facts.zonename is None and facts.global_zone is None


def test_32bit_illumos():
    probe = _probe("omnios-r151046")
    probe["isainfo_bits"] = "32"
    facts = platforms.detect_host(probe)
    assert (facts.arch, facts.abi) == ("i386", 32)


def test_macos_without_sw_vers_uses_darwin_major():
    probe = _probe("macos-14-arm64")
    probe["sw_vers"] = None
    facts = platforms.detect_host(probe)
    assert facts.os_major == "14"


def test_parse_os_release_quoting():
    values = platforms.parse_os_release('ID="rocky"\nNAME=\'Rocky Linux\'\n# comment\nBROKEN\nEMPTY=\n')
    assert values == {"ID": "rocky", "NAME": "Rocky Linux", "EMPTY": ""}


def test_parse_sw_vers():
    assert platforms.parse_sw_vers(MACOS14_SW_VERS) == {
        "ProductName": "macOS", "ProductVersion": "14.5", "BuildVersion": "23F79"}


def test_detect_needs_sysname():
    with pytest.raises(PkgsrcError):
        platforms.detect_host({})


def test_pkgdb_candidates_order():
    facts = platforms.detect_host(_probe("netbsd-10-amd64"))
    layout = platforms.default_layout(facts)
    cands = platforms.pkgdb_candidates(layout, facts)
    assert cands[0] == "/usr/pkg/pkgdb" and cands[-1] == "/var/db/pkg"
    linux = platforms.detect_host(_probe("debian-12"))
    assert "/var/db/pkg" not in platforms.pkgdb_candidates(platforms.default_layout(linux), linux)


def test_probe_host_on_this_machine():
    probe = platforms.probe_host()
    uts = os.uname()
    assert probe["sysname"] == uts.sysname and probe["machine"] == uts.machine
    assert probe["euid"] == os.geteuid()
    facts = platforms.detect_host(probe)
    assert facts.opsys == uts.sysname
    if uts.sysname == "Linux" and probe["os_release"]:
        assert facts.os_id == platforms.parse_os_release(probe["os_release"]).get("ID", "linux")
        assert facts.init == ("systemd" if os.path.exists("/run/systemd/system") else "unknown")
