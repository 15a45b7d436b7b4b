"""archive.py: every hostile or broken archive is refused before anything is written; a good one
is extracted with the modes, links and times it lists, and nothing else."""
from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import io
import lzma
import os
import random
import stat
import tarfile
import threading

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import archive
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import UnsafeArchiveError

MTIME = 1795294980  # 2026-11-21 21:03 UTC, when the samples were made
PREFIX_ROOTS = archive.AllowedPaths(roots=("/opt/pkg", "/var/db/pkgin"), files=("/etc/paths.d/10-pkgsrc",),
                                    setid_roots=("/opt/pkg",))


def member(name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link="", mtime=MTIME, dev=(0, 0)):
    return (name, data, mode, kind, link, mtime, dev)


def tar_bytes(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode, kind, link, mtime, dev in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname, info.mtime = kind, mode, link, mtime
            info.devmajor, info.devminor = dev
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    return raw.getvalue()


def good_members():
    return [
        member("./opt/pkg/", mode=0o755, kind=tarfile.DIRTYPE),
        member("./opt/pkg/bin/", mode=0o755, kind=tarfile.DIRTYPE),
        member("./opt/pkg/bin/pkgin", b"#!/bin/sh\nexit 0\n", 0o755),
        member("./opt/pkg/sbin/", mode=0o755, kind=tarfile.DIRTYPE),
        member("./opt/pkg/sbin/pkg_add", b"\x7fELF pretend", 0o4555),
        member("./opt/pkg/man/man1/", mode=0o755, kind=tarfile.DIRTYPE),
        member("./opt/pkg/man/man1/pkg_add.1", b".Dd\n", 0o444),
        member("./opt/pkg/lib/libfoo.so.2", b"lib", 0o644),
        member("./opt/pkg/lib/libfoo.so", kind=tarfile.SYMTYPE, link="libfoo.so.2", mode=0o777),
        member("./opt/pkg/lib/libfoo-hard.so", kind=tarfile.LNKTYPE, link="./opt/pkg/lib/libfoo.so.2"),
        member("./opt/pkg/share/doc/", mode=0o755, kind=tarfile.DIRTYPE),
        member("./opt/pkg/share/doc/link-up", kind=tarfile.SYMTYPE, link="../../bin/pkgin", mode=0o777),
        member("./opt/pkg/pkgdb/", mode=0o555, kind=tarfile.DIRTYPE),
        member("./var/db/pkgin/cache/", mode=0o755, kind=tarfile.DIRTYPE),
        member("./etc/paths.d/10-pkgsrc", b"/opt/pkg/sbin\n/opt/pkg/bin\n", 0o644),
    ]


def write(tmp_path, data, name="kit.tar.gz"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_good_kit_is_listed(tmp_path):
    listing = archive.scan_archive(write(tmp_path, gzip.compress(tar_bytes(good_members()))), PREFIX_ROOTS)
    paths = [m.path for m in listing.members]
    assert "/opt/pkg/bin/pkgin" in paths and "/etc/paths.d/10-pkgsrc" in paths
    assert listing.compression == "gz"
    assert listing.roots_used == ("/etc/paths.d/10-pkgsrc", "/opt/pkg", "/var/db/pkgin")
    assert listing.files == 6
    kinds = {m.path: m.kind for m in listing.members}
    assert kinds["/opt/pkg/lib/libfoo.so"] == "symlink" and kinds["/opt/pkg/lib/libfoo-hard.so"] == "hardlink"


@pytest.mark.parametrize("compress,name", [
    (gzip.compress, "gz"), (bz2.compress, "bz2"), (lzma.compress, "xz"), (lambda b: b, ""),
])
def test_compressions_told_by_magic(tmp_path, compress, name):
    path = write(tmp_path, compress(tar_bytes(good_members())), "kit.bin")
    listing = archive.scan_archive(path, PREFIX_ROOTS)
    assert listing.compression == name
    assert len(listing.members) == len(good_members())


HOSTILE = {
    "dotdot": ([member("./opt/pkg/../../etc/evil", b"x")], "contains '..'"),
    "absolute": ([member("/etc/evil", b"x")], "absolute name"),
    "outside": ([member("./etc/cron.d/evil", b"* * * * * root sh\n")], "outside the kit's paths"),
    "ancestor-file": ([member("./opt/evil", b"x")], "outside the kit's paths"),
    "ancestor-symlink": ([member("./var/db", kind=tarfile.SYMTYPE, link="/etc")], "outside the kit's paths"),
    "symlink-absolute-escape": ([member("./opt/pkg/evil", kind=tarfile.SYMTYPE, link="/etc")],
                                "points outside"),
    "symlink-relative-escape": ([member("./opt/pkg/lib/evil", kind=tarfile.SYMTYPE, link="../../../etc/shadow")],
                                "points outside"),
    "symlink-climbs-above-root": ([member("./opt/pkg/lib/evil", kind=tarfile.SYMTYPE,
                                          link="../../../../../opt/pkg/bin")], "climbs above the root"),
    "write-through-symlink": ([member("./opt/pkg/link", kind=tarfile.SYMTYPE, link="bin"),
                               member("./opt/pkg/link/evil", b"x")], "lies below a symlink"),
    "below-a-file": ([member("./opt/pkg/afile", b"x"), member("./opt/pkg/afile/evil", b"x")], "lies below a file"),
    "hardlink-outside": ([member("./opt/pkg/shadow", kind=tarfile.LNKTYPE, link="/etc/shadow")], "absolute name"),
    "hardlink-to-missing": ([member("./opt/pkg/shadow", kind=tarfile.LNKTYPE, link="./etc/shadow")],
                            "does not point to an earlier file"),
    "chr-device": ([member("./opt/pkg/mem", kind=tarfile.CHRTYPE, dev=(1, 1))], "a device node"),
    "blk-device": ([member("./opt/pkg/sda", kind=tarfile.BLKTYPE, dev=(8, 0))], "a device node"),
    "fifo": ([member("./opt/pkg/fifo", kind=tarfile.FIFOTYPE)], "a fifo"),
    "setuid-outside-prefix": ([member("./var/db/pkgin/evil", b"x", 0o4755)], "setuid/setgid outside the prefix"),
    "setgid-outside-prefix": ([member("./var/db/pkgin/evil", b"x", 0o2755)], "setuid/setgid outside the prefix"),
    "duplicate": ([member("./opt/pkg/bin/pkgin", b"other")], "appears twice"),
    "control-chars": ([member("./opt/pkg/bin/a\nb", b"x")], "control characters"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_member_refused(tmp_path, kind):
    extra, message = HOSTILE[kind]
    path = write(tmp_path, gzip.compress(tar_bytes(good_members() + extra)))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(path, PREFIX_ROOTS)
    assert message in str(err.value)
    assert "nothing was written" in str(err.value)
    assert sorted(os.listdir(tmp_path)) == before


def test_all_problems_are_reported(tmp_path):
    extra = HOSTILE["outside"][0] + HOSTILE["chr-device"][0] + HOSTILE["fifo"][0]
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, gzip.compress(tar_bytes(good_members() + extra))), PREFIX_ROOTS)
    text = str(err.value)
    assert "outside" in text and "device node" in text and "fifo" in text


def test_source_tree_refuses_absolute_links(tmp_path):
    allowed = archive.AllowedPaths(roots=("/",), absolute_links=False)
    data = tar_bytes([member("pkgsrc/", kind=tarfile.DIRTYPE, mode=0o755),
                      member("pkgsrc/evil", kind=tarfile.SYMTYPE, link="/etc/passwd")])
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, gzip.compress(data)), allowed)
    assert "absolute target" in str(err.value)
    data = tar_bytes([member("pkgsrc/", kind=tarfile.DIRTYPE, mode=0o755),
                      member("pkgsrc/up", kind=tarfile.SYMTYPE, link="../../x")])
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, gzip.compress(data), "b.tgz"), allowed)
    assert "climbs above the root" in str(err.value)


def test_setuid_inside_prefix_is_kept(tmp_path):
    listing = archive.scan_archive(write(tmp_path, gzip.compress(tar_bytes(good_members()))), PREFIX_ROOTS)
    mode = [m.mode for m in listing.members if m.path == "/opt/pkg/sbin/pkg_add"][0]
    assert mode == 0o4555


def test_truncated_gzip_refused(tmp_path):
    data = gzip.compress(tar_bytes(good_members() + [member("./opt/pkg/big", os.urandom(200000))]))
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, data[: len(data) // 2]), PREFIX_ROOTS)
    assert "truncated or corrupt" in str(err.value)


def test_gzip_bad_crc_refused(tmp_path):
    data = bytearray(gzip.compress(tar_bytes(good_members())))
    data[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, bytes(data)), PREFIX_ROOTS)
    assert "truncated or corrupt" in str(err.value)


def test_truncated_plain_tar_refused(tmp_path):
    data = tar_bytes(good_members() + [member("./opt/pkg/big", os.urandom(20000))])
    cut = data.index(b"./opt/pkg/big") + 3000  # inside the data of the last member
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, data[:cut], "kit.tar"), PREFIX_ROOTS)
    assert "truncated or corrupt" in str(err.value)


def test_tar_cut_at_a_member_boundary_refused(tmp_path):
    data = tar_bytes(good_members())
    body = data.rstrip(b"\0")
    cut = ((len(body) + 511) // 512) * 512  # drop only the end-of-archive blocks
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, gzip.compress(data[:cut])), PREFIX_ROOTS)
    assert "end-of-archive marker" in str(err.value)


def test_garbage_header_refused(tmp_path):
    data = tar_bytes(good_members())
    body_end = ((len(data.rstrip(b"\0")) + 511) // 512) * 512
    damaged = data[:body_end] + b"garbage!" * 64 + data[body_end:]
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, gzip.compress(damaged)), PREFIX_ROOTS)
    assert "end-of-archive marker" in str(err.value)


def test_not_an_archive(tmp_path):
    with pytest.raises(UnsafeArchiveError):
        archive.scan_archive(write(tmp_path, b"<html>404 Not Found</html>\n" * 40), PREFIX_ROOTS)


def test_expansion_limit(tmp_path):
    data = gzip.compress(tar_bytes(good_members() + [member("./opt/pkg/zeros", b"\0" * 300000)]))
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, data), PREFIX_ROOTS, max_bytes=100000)
    assert "too large" in str(err.value)


def _tree(top):
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            out[os.path.relpath(path, top)] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode))
    return out


def test_extract_writes_exactly_the_members(tmp_path):
    path = write(tmp_path, gzip.compress(tar_bytes(good_members())))
    listing = archive.scan_archive(path, PREFIX_ROOTS)
    dest = tmp_path / "staging"
    dest.mkdir()
    count = archive.extract_archive(listing, str(dest))
    assert count == 6
    tree = _tree(dest)
    assert tree["opt/pkg/bin/pkgin"] == (stat.S_IFREG, 0o755)
    assert tree["opt/pkg/sbin/pkg_add"] == (stat.S_IFREG, 0o4555)
    assert tree["opt/pkg/man/man1/pkg_add.1"] == (stat.S_IFREG, 0o444)
    assert tree["opt/pkg/pkgdb"] == (stat.S_IFDIR, 0o555)
    assert tree["opt"] == (stat.S_IFDIR, 0o755)  # an ancestor: fixed mode
    assert tree["opt/pkg/lib/libfoo.so"][0] == stat.S_IFLNK
    assert os.readlink(dest / "opt/pkg/lib/libfoo.so") == "libfoo.so.2"
    assert os.stat(dest / "opt/pkg/lib/libfoo-hard.so").st_ino == os.stat(dest / "opt/pkg/lib/libfoo.so.2").st_ino
    assert (dest / "etc/paths.d/10-pkgsrc").read_text() == "/opt/pkg/sbin\n/opt/pkg/bin\n"
    assert int(os.stat(dest / "opt/pkg/bin/pkgin").st_mtime) == MTIME
    assert int(os.stat(dest / "opt/pkg/pkgdb").st_mtime) == MTIME
    assert sorted(tree) == sorted(set(tree))
    expected = {m.path.lstrip("/") for m in listing.members}
    # Directories without a member of their own (parents of listed members).
    ancestors = {"opt", "var", "var/db", "var/db/pkgin", "etc", "etc/paths.d", "opt/pkg/lib", "opt/pkg/man",
                 "opt/pkg/share"}
    assert set(tree) == expected | ancestors


def test_extract_refuses_a_non_empty_destination(tmp_path):
    listing = archive.scan_archive(write(tmp_path, gzip.compress(tar_bytes(good_members()))), PREFIX_ROOTS)
    dest = tmp_path / "staging"
    dest.mkdir()
    (dest / "x").write_text("x")
    with pytest.raises(Exception) as err:
        archive.extract_archive(listing, str(dest))
    assert "not empty" in str(err.value)


def test_archive_swapped_after_scan_is_refused(tmp_path):
    path = write(tmp_path, gzip.compress(tar_bytes(good_members())))
    listing = archive.scan_archive(path, PREFIX_ROOTS)
    evil = good_members() + [member("./etc/cron.d/evil", b"x")]
    with open(path, "wb") as handle:
        handle.write(gzip.compress(tar_bytes(evil)))
    dest = tmp_path / "staging"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError) as err:
        archive.extract_archive(listing, str(dest))
    assert "changed after it was checked" in str(err.value)
    assert not (dest / "etc" / "cron.d" / "evil").exists()


def test_archive_with_same_members_but_other_bytes_is_refused(tmp_path):
    path = write(tmp_path, gzip.compress(tar_bytes(good_members())))
    listing = archive.scan_archive(path, PREFIX_ROOTS)
    changed = [m if m[0] != "./opt/pkg/bin/pkgin" else member(m[0], b"#!/bin/sh\nevil\n", 0o755)
               for m in good_members()]
    with open(path, "wb") as handle:
        handle.write(gzip.compress(tar_bytes(changed)))
    dest = tmp_path / "staging"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError) as err:
        archive.extract_archive(listing, str(dest))
    assert "changed after it was checked" in str(err.value)


def test_extract_sets_owner_when_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    listing = archive.scan_archive(write(tmp_path, gzip.compress(tar_bytes(good_members()))), PREFIX_ROOTS)
    dest = tmp_path / "staging"
    dest.mkdir()
    archive.extract_archive(listing, str(dest), owner=(1, 1))
    assert os.stat(dest / "opt/pkg/bin/pkgin").st_uid == 1
    assert os.lstat(dest / "opt/pkg/lib/libfoo.so").st_uid == 1
    assert os.stat(dest / "opt/pkg/sbin/pkg_add").st_mode & 0o7777 == 0o4555


@pytest.mark.parametrize("head,name", [(b"\x1f\x8b\x08", "gz"), (b"BZh9", "bz2"), (b"\xfd7zXZ\x00", "xz"),
                                       (b"./opt", "")])
def test_detect_compression(head, name):
    assert archive.detect_compression(head) == name


@functools.lru_cache(maxsize=None)
def _text(size):
    """Word-like bytes: compressible, yet quick for bz2 (long repeats are its slow case)."""
    rng = random.Random(size)
    letters = b"abcdefghijklmnop"
    words = [bytes(rng.choice(letters) for n in range(rng.randint(2, 9))) for w in range(4000)]
    return b" ".join(rng.choice(words) for n in range(size // 5 + 1))[:size]


def _big_members():
    """Files of awkward sizes around the 1 MiB decompression block, each with its own contents."""
    sizes = [0, 1, 511, 512, 513, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 77, 4000]
    text = _text(max(sizes) + 64)
    out = [member("./opt/pkg/", mode=0o755, kind=tarfile.DIRTYPE)]
    for index, size in enumerate(sizes):
        out.append(member("./opt/pkg/f%02d" % index, text[index:index + size], 0o644))
    return out


@pytest.mark.parametrize("compress", [functools.partial(gzip.compress, compresslevel=1),
                                      functools.partial(bz2.compress, compresslevel=1),
                                      functools.partial(lzma.compress, preset=0), lambda b: b],
                         ids=["gz", "bz2", "xz", "plain"])
def test_extracted_bytes_are_exact_across_block_boundaries(tmp_path, compress):
    members = _big_members()
    listing = archive.scan_archive(write(tmp_path, compress(tar_bytes(members)), "kit.bin"), PREFIX_ROOTS)
    dest = tmp_path / "staging"
    dest.mkdir()
    assert archive.extract_archive(listing, str(dest)) == len(members) - 1
    for name, data, *_rest in members[1:]:
        assert (dest / name).read_bytes() == data, name


@pytest.mark.parametrize("compress,joined", [
    (gzip.compress, lambda a, b: a + b),
    (gzip.compress, lambda a, b: a + b"\0" * 1000),  # zero padding after the only member
    (bz2.compress, lambda a, b: a + b),
    (lzma.compress, lambda a, b: a + b),
    (lzma.compress, lambda a, b: a + b"not a stream"),  # trailing data, ignored as Python's LZMAFile does
    (bz2.compress, lambda a, b: a + b"not a stream"),
], ids=["gz-members", "gz-padding", "bz2-streams", "xz-streams", "xz-trailing", "bz2-trailing"])
def test_several_streams_in_one_file(tmp_path, compress, joined):
    data = tar_bytes(good_members())
    half = len(data) // 2
    whole = joined(compress(data[:half]), compress(data[half:]))
    if joined(b"", b"x") != b"x":  # padding or trailing data: the first stream is the whole archive
        whole = joined(compress(data), b"")
    path = write(tmp_path, whole, "kit.bin")
    listing = archive.scan_archive(path, PREFIX_ROOTS)
    assert len(listing.members) == len(good_members())
    assert listing.sha256 == hashlib.sha256(whole).hexdigest()
    dest = tmp_path / "staging"
    dest.mkdir()
    assert archive.extract_archive(listing, str(dest)) == 6
    assert (dest / "opt/pkg/bin/pkgin").read_bytes() == b"#!/bin/sh\nexit 0\n"


def test_gzip_with_trailing_garbage_refused(tmp_path):
    path = write(tmp_path, gzip.compress(tar_bytes(good_members())) + b"not gzip at all")
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(path, PREFIX_ROOTS)
    assert "truncated or corrupt" in str(err.value)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_compressed_kits_refused(tmp_path, compress, fraction):
    data = compress(tar_bytes(good_members() + [member("./opt/pkg/big", os.urandom(300000))]))
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, data[:int(len(data) * fraction)], "kit.bin"), PREFIX_ROOTS)
    assert "truncated or corrupt" in str(err.value)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_kit_without_its_stream_end_refused(tmp_path, compress):
    """The whole tar is there, only the compressed stream's end (gzip's CRC and length) is cut."""
    data = compress(tar_bytes(good_members()))
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, data[:-4], "kit.bin"), PREFIX_ROOTS)
    assert "end-of-stream marker" in str(err.value)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_compression_bomb_stops_at_the_limit(tmp_path, compress):
    bomb = compress(tar_bytes(good_members() + [member("./opt/pkg/zeros", b"\0" * (24 << 20))]))
    assert len(bomb) < (1 << 20)
    with pytest.raises(UnsafeArchiveError) as err:
        archive.scan_archive(write(tmp_path, bomb, "kit.bin"), PREFIX_ROOTS, max_bytes=4 << 20)
    assert "too large" in str(err.value)


def test_no_reader_thread_is_left_behind(tmp_path):
    good = write(tmp_path, gzip.compress(tar_bytes(_big_members()), compresslevel=1), "good.tgz")
    bad = gzip.compress(tar_bytes(_big_members()), compresslevel=1)
    bad = write(tmp_path, bad[: len(bad) // 2], "bad.tgz")
    listing = archive.scan_archive(good, PREFIX_ROOTS)
    with pytest.raises(UnsafeArchiveError):
        archive.scan_archive(bad, PREFIX_ROOTS)
    dest = tmp_path / "staging"
    dest.mkdir()
    with open(good, "r+b") as handle:  # same length, other bytes: refused part-way or at the end
        handle.seek(os.path.getsize(good) // 2)
        handle.write(b"\0" * 4096)
    with pytest.raises(UnsafeArchiveError) as err:
        archive.extract_archive(listing, str(dest))
    assert "changed after it was checked" in str(err.value)
    assert [t.name for t in threading.enumerate() if t.name == "pkgsrc-inflate"] == []
