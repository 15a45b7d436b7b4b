"""pkgdb.py on the two real package databases of the sample scenario, checked against what the
real pkg_info and pkgin printed at the same points, and on damaged databases."""
from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import pkgdb
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgdbError, PkgsrcError


def _samples() -> Path:
    """tests/data/samples (tests/data/README.md), or $PKGSRC_SAMPLES if set."""
    env = os.environ.get("PKGSRC_SAMPLES")
    found = Path(env) if env else Path(__file__).resolve().parents[5] / "data" / "samples"
    if not (found / "pkgdb-final").is_dir():
        raise RuntimeError("real-tool samples not found in %s (see tests/data/README.md)" % found)
    return found


SAMPLES = _samples()
AFTER_FOO_TOOL = SAMPLES / "pkgdb-after-foo-tool"
FINAL = SAMPLES / "pkgdb-final"


def _steps():
    with open(SAMPLES / "transcripts.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _step(step_name, argv):
    matches = [s for s in _steps() if s["step"] == step_name and s["argv"] == argv]
    assert len(matches) == 1, (step_name, argv)
    return matches[0]


def _pkg_info_listing(stdout):
    """`pkg_info` output: PKGNAME, spaces, COMMENT on each line."""
    out = {}
    for line in stdout.splitlines():
        if line.strip():
            pkgname, comment = line.split(None, 1)
            out[pkgname] = comment
    return out


def _dirs_with_contents(path):
    return sorted(d.name for d in path.iterdir() if (d / "+CONTENTS").is_file())


# --- the real databases ------------------------------------------------------------------

@pytest.mark.parametrize("dbdir", [AFTER_FOO_TOOL, FINAL], ids=["after-foo-tool", "final"])
def test_every_package_directory_is_found_and_nothing_else(dbdir):
    db = pkgdb.read_pkgdb(dbdir)
    assert db.exists
    assert sorted(db.packages) == _dirs_with_contents(dbdir)
    assert "pkgdb.byfile.db" not in db.packages and "pkg-vulnerabilities" not in db.packages
    for pkg in db:
        assert pkg.path == str(dbdir / pkg.pkgname)
        assert pkg.name + "-" + pkg.version == pkg.pkgname


def test_after_install_matches_what_pkg_info_listed():
    # Step 03-install: `pkg_info` right after `pkgin -y install foo-tool`.
    listed = _pkg_info_listing(_step("03-install", ["pkg_info"])["stdout"])
    db = pkgdb.read_pkgdb(AFTER_FOO_TOOL)
    assert {p.pkgname: p.comment for p in db} == listed


def test_final_matches_what_the_fresh_kit_listed_and_pkgin_exported():
    # The scenario ends with the kit's own packages again: the same set and comments as the
    # very first `pkg_info`, and `pkgin export` printed their PKGPATHs (all user-installed).
    listed = _pkg_info_listing(_step("01-kit", ["pkg_info"])["stdout"])
    db = pkgdb.read_pkgdb(str(FINAL))
    assert {p.pkgname: p.comment for p in db} == listed
    exported = _step("08-remove", ["pkgin", "export"])["stdout"].split()
    assert sorted(p.pkgpath for p in db.user_installed()) == sorted(exported)
    assert db.automatic() == []


def test_automatic_flags_match_pkgin_keep_lists():
    db = pkgdb.read_pkgdb(AFTER_FOO_TOOL)
    keep = [line.split()[0] for line in _step("03-install", ["pkgin", "show-keep"])["stdout"].splitlines() if line]
    no_keep = [line.split()[0] for line in _step("03-install", ["pkgin", "show-no-keep"])["stdout"].splitlines()
               if line]
    assert sorted(p.pkgname for p in db.user_installed()) == sorted(keep)
    assert sorted(p.pkgname for p in db.automatic()) == sorted(no_keep) == ["libfoo-2.0nb1"]
    assert db.get("libfoo").automatic is True
    assert db.get("foo-tool").automatic is False


def test_required_by_matches_files_and_pkg_info_R():
    db = pkgdb.read_pkgdb(AFTER_FOO_TOOL)
    # `pkg_info -R libfoo` printed "Required by:" then foo-tool-3.2.
    out = _step("03-install", ["pkg_info", "-R", "libfoo"])["stdout"]
    required = out.split("Required by:\n", 1)[1].split()
    assert db.get("libfoo").required_by == tuple(required) == ("foo-tool-3.2",)
    for pkg in db:
        path = AFTER_FOO_TOOL / pkg.pkgname / "+REQUIRED_BY"
        expected = tuple(path.read_text().split()) if path.exists() else ()
        assert pkg.required_by == expected, pkg.pkgname
    assert db.get("bootstrap-mk-files").required_by == ("bmake-20150505",)


def test_depends_are_the_pkgdep_lines_of_contents():
    db = pkgdb.read_pkgdb(AFTER_FOO_TOOL)
    # `pkg_info -n foo-tool` printed "Requires:" then libfoo>=2.0.
    out = _step("03-install", ["pkg_info", "-n", "foo-tool"])["stdout"]
    assert db.get("foo-tool").depends == tuple(out.split("Requires:\n", 1)[1].split()) == ("libfoo>=2.0",)
    for pkg in db:
        lines = (AFTER_FOO_TOOL / pkg.pkgname / "+CONTENTS").read_text().splitlines()
        assert pkg.depends == tuple(line.split(None, 1)[1] for line in lines if line.startswith("@pkgdep ")), \
            pkg.pkgname
        assert pkg.conflicts == tuple(line.split(None, 1)[1] for line in lines if line.startswith("@pkgcfl ")), \
            pkg.pkgname
    assert db.get("bmake").depends == ("bootstrap-mk-files-[0-9]*",)
    assert db.get("pkg_install").conflicts == ("audit-packages-[0-9]*",)


# (pkgname, attribute, expected) from the files of pkgdb-after-foo-tool.
FIELDS = [
    ("foo-tool-3.2", "size_pkg", 14512),
    ("foo-tool-3.2", "size_all", 28847),
    ("foo-tool-3.2", "pkgpath", "devel/foo-tool"),
    ("foo-tool-3.2", "preserve", False),
    ("bmake-20150505", "size_all", 340314),
    ("bmake-20150505", "preserve", True),
    ("pkg_install-20170419", "size_pkg", 1686027),
    ("pkgin-26.4.0", "version", "26.4.0"),
    ("nawk-20121220nb1", "name", "nawk"),
    ("nawk-20121220nb1", "version", "20121220nb1"),
]


@pytest.mark.parametrize("pkgname,attribute,expected", FIELDS, ids=["%s.%s" % f[:2] for f in FIELDS])
def test_package_fields(pkgname, attribute, expected):
    assert getattr(pkgdb.read_pkgdb(AFTER_FOO_TOOL).packages[pkgname], attribute) == expected


def test_build_info_matches_pkg_info_Q():
    db = pkgdb.read_pkgdb(AFTER_FOO_TOOL)
    # `pkg_info -Q PKGPATH pkgin` printed pkgtools/pkgin.
    assert db.get("pkgin").build_info["PKGPATH"] == _step("01-kit", ["pkg_info", "-Q", "PKGPATH", "pkgin"])[
        "stdout"].strip()
    tool = db.get("foo-tool")
    assert tool.build_info["OPSYS"] == "Linux"
    assert tool.build_info["BUILD_HOST"].startswith("Linux vm 6.18.44")
    assert tool.build_info["REQUIRES"] == "/lib/x86_64-linux-gnu/libc.so.6\n/opt/pkg/lib/libfoo.so.2"
    assert tool.build_info_list("REQUIRES") == ("/lib/x86_64-linux-gnu/libc.so.6", "/opt/pkg/lib/libfoo.so.2")
    assert tool.build_info_list("NOPE") == ()
    with pytest.raises(TypeError):
        tool.build_info["OPSYS"] = "NetBSD"  # read-only


def test_lookups_by_name_and_pattern():
    db = pkgdb.read_pkgdb(AFTER_FOO_TOOL)
    # `pkg_info -e pkg_install>=2017` and `pkg_info -E pkgin-[0-9]*` from step 01-kit.
    assert [p.pkgname for p in db.find("pkg_install>=2017")] == ["pkg_install-20170419"]
    assert db.best("pkgin-[0-9]*").pkgname == "pkgin-26.4.0"
    assert db.find("nonexistent") == [] and db.best("nonexistent") is None
    assert db.get("nonexistent") is None
    assert db.get("libfoo-2.0nb1") is db.get("libfoo")
    assert "libfoo-2.0nb1" in db and len(db) == 8
    assert db.names() == sorted(p.name for p in db)


def test_installed_package_is_frozen_hashable_and_picklable():
    pkg = pkgdb.read_pkgdb(AFTER_FOO_TOOL).get("foo-tool")
    with pytest.raises(AttributeError):
        pkg.automatic = True  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(pkg)) == pkg
    assert copy.deepcopy(pkg) == pkg
    assert len({pkg, copy.copy(pkg)}) == 1


# --- damaged or unusual databases ----------------------------------------------------------

def _copy_db(src, tmp_path):
    dst = tmp_path / "pkgdb"
    shutil.copytree(src, dst)
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    os.chmod(dst, 0o755)
    return dst


def test_missing_dbdir_is_an_empty_database(tmp_path):
    db = pkgdb.read_pkgdb(tmp_path / "not-bootstrapped")
    assert len(db) == 0 and not db.exists


def test_dbdir_that_is_a_file(tmp_path):
    path = tmp_path / "pkgdb"
    path.write_text("x")
    with pytest.raises(PkgdbError) as err:
        pkgdb.read_pkgdb(path)
    assert "not a directory" in str(err.value) and isinstance(err.value, PkgsrcError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_dbdir_raises_with_a_hint(tmp_path):
    dst = _copy_db(AFTER_FOO_TOOL, tmp_path)
    os.chmod(dst, 0)
    try:
        with pytest.raises(PkgdbError) as err:
            pkgdb.read_pkgdb(dst)
    finally:
        os.chmod(dst, 0o755)
    assert "run as the user that owns" in str(err.value)


def test_dbdir_without_permission_raises_with_a_hint(tmp_path, monkeypatch):
    # As root the chmod test above cannot run; the error path is the same.
    def denied(path):
        raise PermissionError(13, "Permission denied", os.fspath(path))

    monkeypatch.setattr(pkgdb.os, "scandir", denied)
    with pytest.raises(PkgdbError) as err:
        pkgdb.read_pkgdb(tmp_path)
    assert str(tmp_path) in str(err.value) and "run as the user that owns" in str(err.value)


def test_unreadable_metadata_file_raises(tmp_path, monkeypatch):
    dst = _copy_db(AFTER_FOO_TOOL, tmp_path)
    real_open = open
    victim = str(dst / "libfoo-2.0nb1" / "+REQUIRED_BY")

    def fake_open(path, *args, **kwargs):
        if os.fspath(path) == victim:
            raise PermissionError(13, "Permission denied", victim)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(PkgdbError) as err:
        pkgdb.read_pkgdb(dst)
    assert victim in str(err.value) and "run as the user" in str(err.value)


def test_non_package_entries_are_skipped(tmp_path):
    dst = _copy_db(AFTER_FOO_TOOL, tmp_path)
    (dst / "half-removed-1.0").mkdir()                     # no +CONTENTS
    (dst / "half-removed-1.0" / "+COMMENT").write_text("x\n")
    (dst / "noversion").mkdir()                            # not named PKGNAME
    (dst / "noversion" / "+CONTENTS").write_text("@name noversion\n")
    (dst / ".pkgdb.lock").write_text("")
    (dst / "stray-file-1.0").write_text("")
    db = pkgdb.read_pkgdb(dst)
    assert sorted(db.packages) == _dirs_with_contents(AFTER_FOO_TOOL)


def test_minimal_package_directory(tmp_path):
    # Only +CONTENTS: every optional file missing.
    (tmp_path / "bare-1.0").mkdir()
    (tmp_path / "bare-1.0" / "+CONTENTS").write_text("@name bare-1.0\n@cwd /opt/pkg\nbin/bare\n")
    (pkg,) = pkgdb.read_pkgdb(tmp_path)
    assert (pkg.comment, pkg.automatic, pkg.depends, pkg.required_by, pkg.size_pkg, pkg.size_all) == (
        "", False, (), (), None, None)
    assert dict(pkg.build_info) == {}


INSTALLED_INFO = [
    ("automatic=yes\n", True),
    ("automatic=YES\n", True),
    ("automatic= yes\n", True),   # var_get skips one space after "="
    ("automatic=no\n", False),
    ("Automatic=yes\n", False),   # the variable name is matched exactly
    ("", False),
    ("other=1\nautomatic=Yes", True),
]


@pytest.mark.parametrize("text,expected", INSTALLED_INFO)
def test_automatic_flag_as_pkg_install_reads_it(tmp_path, text, expected):
    (tmp_path / "p-1.0").mkdir()
    (tmp_path / "p-1.0" / "+CONTENTS").write_text("@name p-1.0\n")
    (tmp_path / "p-1.0" / "+INSTALLED_INFO").write_text(text)
    assert pkgdb.read_pkgdb(tmp_path).get("p").automatic is expected


def test_two_versions_of_one_name(tmp_path):
    # pkg_add refuses this, but a damaged database can hold it: get(name) gives the highest.
    for pkgname in ("font-adobe-1.0nb2", "font-adobe-1.0", "font-adobe-100dpi-1.0.3", "font-adobe-0.9"):
        (tmp_path / pkgname).mkdir()
        (tmp_path / pkgname / "+CONTENTS").write_text("@name %s\n" % pkgname)
    db = pkgdb.read_pkgdb(tmp_path)
    assert db.get("font-adobe").pkgname == "font-adobe-1.0nb2"
    assert db.get("font-adobe-100dpi").pkgname == "font-adobe-100dpi-1.0.3"
    assert sorted(p.pkgname for p in db.find("font-adobe<1.0nb1")) == ["font-adobe-0.9", "font-adobe-1.0"]


def test_latin1_comment_is_read(tmp_path):
    (tmp_path / "p-1.0").mkdir()
    (tmp_path / "p-1.0" / "+CONTENTS").write_text("@name p-1.0\n")
    (tmp_path / "p-1.0" / "+COMMENT").write_bytes("Caf\xe9 tools\n".encode("latin-1"))
    assert pkgdb.read_pkgdb(tmp_path).get("p").comment == "Café tools"


def test_build_info_parsing_table():
    text = "A=1\nB= two\nREQUIRES=/a\nREQUIRES=/b\nnot a variable\n=empty\nC=x=y\n"
    assert pkgdb.parse_build_info(text) == {"A": "1", "B": "two", "REQUIRES": "/a\n/b", "C": "x=y"}


# --- packing lists ---------------------------------------------------------------------------

def test_parse_contents_of_an_installed_package():
    plist = pkgdb.read_contents(AFTER_FOO_TOOL, "bmake-20150505")
    assert plist.name == "bmake-20150505"
    assert plist.cwd == "/opt/pkg"
    assert [f.full_path for f in plist.files] == ["/opt/pkg/bin/bmake", "/opt/pkg/man/man1/bmake.1"]
    assert [f.md5 for f in plist.files] == ["43d30b36d43905425fe5d8b481592d42", "e3059f987702e69f1886866c7d542d6e"]
    assert plist.pkgdeps == ("bootstrap-mk-files-[0-9]*",)
    assert plist.blddeps == ("bootstrap-mk-files-20170802", "cwrappers-20170611")
    assert plist.comments == ("$NetBSD: PLIST,v 1.3 2014/02/14 16:09:18 jperkin Exp $",)
    assert plist.ignored == ("+COMMENT", "+DESC", "+BUILD_VERSION", "+BUILD_INFO", "+SIZE_PKG", "+SIZE_ALL",
                             "+PRESERVE")


def _listing_contents():
    """The +CONTENTS of each package in samples/package-listings.txt, with its tar listing."""
    text = (SAMPLES / "package-listings.txt").read_text()
    out = {}
    for section in text.split("# +CONTENTS inside ")[1:]:
        name, _sep, body = section.partition("\n")
        out[name.strip()] = body.split("\n# tar -tvzf")[0]
    tars = {}
    for section in text.split("# tar -tvzf ")[1:]:
        name, _sep, body = section.partition("\n")
        tars[name.strip()] = [line.split()[-1] for line in body.split("\n# +CONTENTS")[0].splitlines() if line.strip()]
    return out, tars


@pytest.mark.parametrize("package", ["hello-1.0.tgz", "foo-tool-3.2.tgz", "svc-demo-1.0.tgz"])
def test_parse_contents_matches_the_package_archive(package):
    contents, tars = _listing_contents()
    plist = pkgdb.parse_contents(contents[package])
    members = tars[package]
    # Every archive member is either a listed file or an @ignore'd metadata file (+CONTENTS is
    # the packing list itself), and the other way round.
    assert sorted([f.path for f in plist.files] + list(plist.ignored) + ["+CONTENTS"]) == sorted(members)
    assert plist.name == package[:-4]
    assert all(f.md5 and len(f.md5) == 32 for f in plist.files)


def test_parse_contents_directives_table():
    text = "\n".join([
        "@name x-1.0", "@cwd /opt/pkg", "@pkgdep a>=1", "@pkgdep b-[0-9]*", "@blddep a-1.2", "@pkgcfl old-x-[0-9]*",
        "@comment just a note", "@mode 0755", "@owner root", "@group wheel", "bin/x", "@comment MD5:abc",
        "@mode", "lib/link.so", "@comment Symlink:libx.so.1", "@exec echo hi", "@unexec echo bye",
        "@dirrm share/x", "@option preserve", "@display +DISPLAY", "@frobnicate now", "@cd /etc", "x.conf", "",
    ])
    plist = pkgdb.parse_contents(text)
    assert plist.name == "x-1.0" and plist.cwd == "/opt/pkg"
    assert plist.pkgdeps == ("a>=1", "b-[0-9]*") and plist.blddeps == ("a-1.2",)
    assert plist.conflicts == ("old-x-[0-9]*",)
    assert plist.comments == ("just a note",)
    first, link, conf = plist.files
    assert (first.path, first.md5, first.mode, first.owner, first.group) == ("bin/x", "abc", "0755", "root", "wheel")
    assert (link.mode, link.symlink, link.owner) == (None, "libx.so.1", "root")
    assert conf.full_path == "/etc/x.conf"
    assert plist.exec == ("echo hi",) and plist.unexec == ("echo bye",)
    assert plist.dirrm == ("share/x",) and plist.options == ("preserve",)
    assert plist.display == "+DISPLAY"
    assert plist.other == (("frobnicate", "now"),)


def test_read_contents_of_a_missing_package(tmp_path):
    with pytest.raises(PkgdbError):
        pkgdb.read_contents(tmp_path, "nope-1.0")
