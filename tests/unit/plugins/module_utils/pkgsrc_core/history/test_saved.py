"""history.saved: the pkg_tarup-style re-pack (argv and packing list, with a fake Runner), the
MD5 check, the store's sidecars, find_saved and retention. The same code against the stand-ins is
in tests/sim/test_contract_repack.py, against the real tools in tests/realtools/test_real_saved.py."""
from __future__ import annotations

import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import CommandError, PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history import saved
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Result, Runner
from tests.conftest import SAMPLES_DIR

SAMPLE = (SAMPLES_DIR / "repack-downgrade-files.md").read_text(encoding="utf-8")
HELLO_FILES = {"bin/hello": b"#!/bin/sh\necho hello\n", "man/man1/hello.1": b".TH HELLO 1\n",
               "share/doc/hello/README": b"hello 1.0\n"}


def _sample_block(command_start):
    """The output lines of the sample's ``` block whose command starts so."""
    for block in re.findall(r"^```\n(.*?)^```$", SAMPLE, flags=re.MULTILINE | re.DOTALL):
        lines = block.splitlines()
        if lines[0].startswith("$ " + command_start):
            return lines
    raise KeyError(command_start)


def _md5(data):
    import hashlib  # pylint: disable=import-outside-toplevel
    return hashlib.md5(data).hexdigest()  # noqa: S324


def _contents(prefix, files=None, meta=("+COMMENT", "+DESC", "+BUILD_INFO", "+SIZE_PKG", "+SIZE_ALL"),
              head=(), md5s=None):
    """An installed +CONTENTS as pkg_add writes it (the real hello-1.0's shape)."""
    lines = ["@name hello-1.0", "@cwd %s" % prefix, *head]
    for rel, data in (HELLO_FILES if files is None else files).items():
        lines += [rel, "@comment MD5:%s" % (md5s or {}).get(rel, _md5(data))]
    lines.append("@cwd %s" % prefix)
    for name in meta:
        lines += ["@ignore", name]
        if name == "+DISPLAY":
            lines.append("@display +DISPLAY")
    return "\n".join(lines) + "\n"


class FakeRunner(Runner):
    """Records argv and the packing list it was given; writes a package whose +CONTENTS names it."""

    def __init__(self, rc=0, write=True, name=None):
        self.calls = []
        self.plists = []
        self.rc = rc
        self.write = write
        self.name = name

    def run(self, argv, env=None, cwd=None, stdin=None):
        self.calls.append(list(argv))
        self.plists.append(Path(argv[argv.index("-f") + 1]).read_text())
        target = argv[-1]
        if self.rc == 0 and self.write:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                data = ("@name %s\n" % (self.name or Path(target).name[:-4])).encode()
                info = tarfile.TarInfo("+CONTENTS")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            Path(target).write_bytes(buf.getvalue())
        return Result(tuple(argv), self.rc, "", "pkg_create: failed\n" if self.rc else "")


@pytest.fixture()
def host(tmp_path):
    """A prefix with hello-1.0 installed (files and pkgdb entry); returns (layout, prefix path)."""
    prefix = tmp_path / "opt" / "pkg"
    for rel, data in HELLO_FILES.items():
        (prefix / rel).parent.mkdir(parents=True, exist_ok=True)
        (prefix / rel).write_bytes(data)
    entry = prefix / "pkgdb" / "hello-1.0"
    entry.mkdir(parents=True)
    (entry / "+CONTENTS").write_text(_contents(prefix))
    for name in ("+COMMENT", "+DESC", "+BUILD_INFO", "+SIZE_PKG", "+SIZE_ALL"):
        (entry / name).write_text(name + "\n")
    layout = Layout(prefix=str(prefix), pkg_dbdir=str(prefix / "pkgdb"), sysconfdir=str(prefix / "etc"),
                    varbase=str(prefix / "var"))
    return layout, prefix


def test_repack_plist_is_the_samples_grep_without_md5_lines():
    """The sample's grep output (the installed hello-1.0's +CONTENTS without @ignore, + and @name),
    minus the `@comment MD5:` lines pkg_create writes again."""
    grepped = _sample_block("grep ")[1:]
    installed = "\n".join(["@name hello-1.0"] + grepped[:-1] + ["@cwd /opt/pkg", "@ignore", "+COMMENT", "@ignore",
                                                                "+DESC", "@ignore", "+BUILD_INFO"]) + "\n"
    assert saved.repack_plist(installed) == "".join(
        line + "\n" for line in grepped if not line.startswith("@comment MD5:"))


@pytest.mark.parametrize("contents, plist", [
    # pkgin's entry: @cwd before @name, @blddep kept (pkg_tarup keeps dependencies in the list).
    ("@cwd /p\n@name pkgin-26.4.0\n@blddep digest-20160304\n@comment $NetBSD: PLIST,v 1.3 $\nbin/pkgin\n"
     "@comment MD5:2d0c9e6e80f53f57bdaaab2dc24b1073\n@cwd /p\n@ignore\n+COMMENT\n@ignore\n+INSTALL\n",
     "@cwd /p\n@blddep digest-20160304\n@comment $NetBSD: PLIST,v 1.3 $\nbin/pkgin\n@cwd /p\n"),
    # symlink comments, @display, @pkgdep/@pkgcfl, @exec, @dirrm, @mode kept or dropped as pkg_tarup.
    ("@name x-1.0\n@cwd /p\n@pkgdep hello>=1.0\n@pkgcfl y-[0-9]*\nbin/x\n@comment MD5:00\nbin/y\n"
     "@comment Symlink:x\n@exec echo %f\n@dirrm share/x\n@mode 0600\netc/x.conf\n@comment MD5:11\n@mode\n@cwd /p\n"
     "@ignore\n+DISPLAY\n@display +DISPLAY\n@src /build\n",
     "@cwd /p\n@pkgdep hello>=1.0\n@pkgcfl y-[0-9]*\nbin/x\nbin/y\n@exec echo %f\n@dirrm share/x\n@mode 0600\n"
     "etc/x.conf\n@mode\n@cwd /p\n"),
])
def test_repack_plist_table(contents, plist):
    assert saved.repack_plist(contents) == plist


def test_save_installed_runs_pkg_create_as_the_sample(host):
    layout, prefix = host
    runner = FakeRunner()
    result = saved.save_installed(layout, "hello-1.0", runner)
    (argv,) = runner.calls
    entry = "%s/pkgdb/hello-1.0/" % prefix
    store = "%s/var/db/pkgsrc-deploy/saved" % prefix
    assert argv[:-4] == [
        "%s/sbin/pkg_create" % prefix, "-l", "-U", "-B", entry + "+BUILD_INFO", "-c", entry + "+COMMENT",
        "-d", entry + "+DESC", "-s", entry + "+SIZE_PKG", "-S", entry + "+SIZE_ALL",
        "-p", str(prefix), "-I", str(prefix), "-f"]
    work = os.path.dirname(argv[-4])
    assert os.path.dirname(work) == store and os.path.basename(work).startswith(".saving-")
    assert argv[-3:] == ["-F", "gzip", work + "/hello-1.0.tgz"]
    assert runner.plists == ["@cwd {0}\nbin/hello\nman/man1/hello.1\nshare/doc/hello/README\n@cwd {0}\n".format(prefix)]
    assert result.path == store + "/hello-1.0.tgz" and result.pkgname == "hello-1.0"
    assert sorted(os.listdir(store)) == ["hello-1.0.json", "hello-1.0.tgz"]  # the work folder is gone
    assert os.stat(result.path).st_mode & 0o777 == 0o644
    assert result.warnings == () and result.md5_mismatches == ()
    sidecar = json.loads(Path(store, "hello-1.0.json").read_text())
    assert sidecar == {"pkgname": "hello-1.0", "file": "hello-1.0.tgz", "sha256": result.sha256,
                       "size": os.path.getsize(result.path), "created": result.created, "md5_mismatches": []}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", result.created)
    assert saved.find_saved(layout, "hello-1.0") == result.path
    assert result.to_dict()["path"] == result.path


def test_optional_metadata_gives_pkg_tarups_options(host):
    layout, prefix = host
    entry = prefix / "pkgdb" / "hello-1.0"
    for name in ("+BUILD_VERSION", "+INSTALL", "+DEINSTALL", "+DISPLAY", "+PRESERVE", "+REQUIRED_BY",
                 "+INSTALLED_INFO", "+DIRS", "+FILES"):
        (entry / name).write_text("x\n")
    (entry / "+BUILD_INFO").unlink()
    runner = FakeRunner()
    saved.save_installed(layout, "hello-1.0", runner)
    flags = [(a, os.path.basename(b)) for a, b in zip(runner.calls[0], runner.calls[0][1:])
             if b.startswith(str(entry) + "/")]
    assert flags == [("-c", "+COMMENT"), ("-d", "+DESC"), ("-s", "+SIZE_PKG"), ("-S", "+SIZE_ALL"),
                     ("-b", "+BUILD_VERSION"), ("-i", "+INSTALL"), ("-k", "+DEINSTALL"), ("-D", "+DISPLAY"),
                     ("-n", "+PRESERVE")]


def test_modified_file_is_saved_with_a_warning(host):
    layout, prefix = host
    readme = prefix / "share" / "doc" / "hello" / "README"
    readme.write_bytes(b"hello 1.0\nedited\n")
    result = saved.save_installed(layout, "hello-1.0", FakeRunner())
    assert result.md5_mismatches == (str(readme),)
    assert result.warnings == ("hello-1.0: %s was modified since install (its MD5 differs from +CONTENTS); "
                               "saved as it is on disk" % readme,)
    sidecar = json.loads(Path(result.path[:-4] + ".json").read_text())
    assert sidecar["md5_mismatches"] == [str(readme)]
    assert saved.read_saved(layout, "hello-1.0").md5_mismatches == (str(readme),)


def test_a_symlink_is_not_md5_checked(host):
    layout, prefix = host
    (prefix / "bin" / "hi").symlink_to("hello")
    entry = prefix / "pkgdb" / "hello-1.0" / "+CONTENTS"
    entry.write_text(entry.read_text().replace("bin/hello\n", "bin/hello\n@comment MD5:%s\nbin/hi\n"
                                               "@comment Symlink:hello\n" % _md5(HELLO_FILES["bin/hello"]), 1))
    runner = FakeRunner()
    assert saved.save_installed(layout, "hello-1.0", runner).warnings == ()
    assert "bin/hi\n" in runner.plists[0] and "Symlink" not in runner.plists[0]


@pytest.mark.parametrize("change, message", [
    (lambda p: (p / "share" / "doc" / "hello" / "README").unlink(),
     "files of it are missing: {prefix}/share/doc/hello/README"),
    (lambda p: (p / "pkgdb" / "hello-1.0" / "+DESC").unlink(), "its pkgdb entry lacks +DESC"),
    (lambda p: (p / "pkgdb" / "hello-1.0" / "+CONTENTS").write_text(
        _contents(p, head=("@cwd /etc", "motd"))), "files outside the prefix (@cwd /etc)"),
])
def test_refusals_before_pkg_create_runs(host, change, message):
    layout, prefix = host
    change(prefix)
    runner = FakeRunner()
    with pytest.raises(PkgsrcError) as err:
        saved.save_installed(layout, "hello-1.0", runner)
    assert message.format(prefix=prefix) in str(err.value)
    assert runner.calls == []


@pytest.mark.parametrize("pkgname", ["hello-2.0", "../hello-1.0", "", ".hidden-1", "hello"])
def test_unknown_or_bad_names(host, pkgname):
    layout, _prefix = host
    with pytest.raises(PkgsrcError):
        saved.save_installed(layout, pkgname, FakeRunner())


def test_pkg_create_failure_leaves_nothing(host):
    layout, prefix = host
    with pytest.raises(CommandError) as err:
        saved.save_installed(layout, "hello-1.0", FakeRunner(rc=2))
    assert "pkg_create could not re-pack hello-1.0" in str(err.value)
    assert os.listdir(prefix / "var" / "db" / "pkgsrc-deploy" / "saved") == []
    with pytest.raises(PkgsrcError) as err:
        saved.save_installed(layout, "hello-1.0", FakeRunner(name="other-1.0"))
    assert "made no readable package" in str(err.value)
    assert os.listdir(prefix / "var" / "db" / "pkgsrc-deploy" / "saved") == []
    assert saved.find_saved(layout, "hello-1.0") is None


def test_alternate_root_reads_under_root_and_records_the_logical_prefix(tmp_path):
    root = tmp_path / "image"
    prefix = root / "opt" / "pkg"
    for rel, data in HELLO_FILES.items():
        (prefix / rel).parent.mkdir(parents=True, exist_ok=True)
        (prefix / rel).write_bytes(data)
    entry = prefix / "pkgdb" / "hello-1.0"
    entry.mkdir(parents=True)
    (entry / "+CONTENTS").write_text(_contents("/opt/pkg"))
    for name in ("+COMMENT", "+DESC"):
        (entry / name).write_text(name + "\n")
    layout = Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc",
                    varbase="/opt/pkg/var", root=str(root))
    runner = FakeRunner()
    result = saved.save_installed(layout, "hello-1.0", runner)
    argv = runner.calls[0]
    assert argv[0] == "%s/sbin/pkg_create" % prefix
    assert argv[argv.index("-p") + 1] == str(prefix) and argv[argv.index("-I") + 1] == "/opt/pkg"
    assert runner.plists[0].splitlines()[0] == "@cwd %s" % prefix
    assert result.path == "%s/var/db/pkgsrc-deploy/saved/hello-1.0.tgz" % prefix


def test_find_saved_trusts_only_a_package_matching_its_sidecar(host):
    layout, _prefix = host
    result = saved.save_installed(layout, "hello-1.0", FakeRunner())
    assert saved.find_saved(layout, "hello-1.0") == result.path
    assert saved.find_saved(layout, "hello-1.1") is None
    data = Path(result.path).read_bytes()
    Path(result.path).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other bytes
    assert saved.find_saved(layout, "hello-1.0") is None
    Path(result.path).write_bytes(data)
    os.unlink(result.path[:-4] + ".json")
    assert saved.find_saved(layout, "hello-1.0") is None  # an unfinished save


def _fake_store(layout, items):
    """Saved packages straight into the store: (pkgname, size, created)."""
    directory = Path(saved.store_dir(layout))
    directory.mkdir(parents=True, exist_ok=True)
    for pkgname, size, created in items:
        (directory / (pkgname + ".tgz")).write_bytes(b"x" * size)
        (directory / (pkgname + ".json")).write_text(json.dumps(
            {"pkgname": pkgname, "file": pkgname + ".tgz", "sha256": "0" * 64, "size": size, "created": created,
             "md5_mismatches": []}))
    return directory


@pytest.mark.parametrize("keep, max_bytes, removed, left", [
    ({"a-1", "b-1", "c-1"}, None, (), ["a-1", "b-1", "c-1"]),
    ({"a-1", "c-1"}, None, ("b-1",), ["a-1", "c-1"]),
    ({"a-1", "b-1", "c-1"}, 250, ("a-1",), ["b-1", "c-1"]),          # the oldest first
    ({"a-1", "b-1", "c-1"}, 99, ("a-1", "b-1", "c-1"), []),          # never past the limit
    ({"c-1"}, 100, ("a-1", "b-1"), ["c-1"]),
    (set(), 10 ** 9, ("a-1", "b-1", "c-1"), []),
])
def test_retention_table(host, keep, max_bytes, removed, left):
    layout, _prefix = host
    directory = _fake_store(layout, [("b-1", 100, "2026-01-02T00:00:00.000000Z"),
                                     ("a-1", 100, "2026-01-01T00:00:00.000000Z"),
                                     ("c-1", 100, "2026-01-03T00:00:00.000000Z")])
    assert saved.retention(layout, keep, max_bytes) == removed
    assert [s.pkgname for s in saved.list_saved(layout)] == left
    assert sorted(os.listdir(directory)) == sorted(n + e for n in left for e in (".json", ".tgz"))


def test_retention_clears_what_unfinished_saves_left(host):
    layout, _prefix = host
    directory = _fake_store(layout, [("a-1", 10, "2026-01-01T00:00:00.000000Z")])
    (directory / "orphan-1.tgz").write_bytes(b"x")
    (directory / "lonely-1.json").write_text("{}")
    (directory / ".saving-abc").mkdir()
    (directory / ".saving-abc" / "a-1.tgz").write_bytes(b"x")
    assert saved.retention(layout, {"a-1", "orphan-1", "lonely-1"}, None) == ()
    assert sorted(os.listdir(directory)) == ["a-1.json", "a-1.tgz"]


def test_retention_of_a_missing_store(host):
    layout, _prefix = host
    assert saved.retention(layout, set(), 0) == ()
    assert saved.list_saved(layout) == ()


def test_save_then_retention_keeps_the_store_under_its_cap(host):
    layout, _prefix = host
    _fake_store(layout, [("old-1", 10 ** 6, "2000-01-01T00:00:00.000000Z")])
    result = saved.save_installed(layout, "hello-1.0", FakeRunner())
    assert saved.retention(layout, {"old-1", "hello-1.0"}, 10 ** 6) == ("old-1",)
    assert [s.pkgname for s in saved.list_saved(layout)] == ["hello-1.0"]
    assert saved.find_saved(layout, "hello-1.0") == result.path
