"""summary.py on the real repository summary and `pkg_info -X` output, every compression, and
every kind of damage a downloaded summary can have."""
from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import io
import json
import lzma
import os
import pickle
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import summary

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core import versions
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError, SummaryError


def _samples() -> Path:
    """tests/data/samples (tests/data/README.md), or $PKGSRC_SAMPLES if set."""
    env = os.environ.get("PKGSRC_SAMPLES")
    found = Path(env) if env else Path(__file__).resolve().parents[5] / "data" / "samples"
    if not (found / "pkg_summary-demo-repo").is_file():
        raise RuntimeError("real-tool samples not found in %s (see tests/data/README.md)" % found)
    return found


SAMPLES = _samples()
DEMO = SAMPLES / "pkg_summary-demo-repo"
DEMO_BYTES = DEMO.read_bytes()


def _transcript(argv):
    with open(SAMPLES / "transcripts.jsonl", encoding="utf-8") as handle:
        for line in handle:
            step = json.loads(line)
            if step["argv"] == argv:
                return step
    raise LookupError(argv)


def _parse(data: bytes, name="pkg_summary"):
    return list(summary.iter_summary(io.BytesIO(data)))


def _record(pkgname, *lines):
    return "\n".join(("PKGNAME=" + pkgname,) + lines) + "\n"


# --- the real repository summary ----------------------------------------------------------

def test_demo_summary_yields_exactly_its_pkgnames():
    # Counted independently: every line that starts a PKGNAME in the raw file.
    raw = [line[len("PKGNAME="):] for line in DEMO.read_text().splitlines() if line.startswith("PKGNAME=")]
    assert len(raw) == 13
    assert [rec.pkgname for rec in summary.iter_summary(DEMO)] == raw


def test_demo_summary_agrees_with_pkgin_avail():
    # `pkgin -p avail` on this repository printed PKGNAME;COMMENT for every package.
    avail = _transcript(["pkgin", "-p", "avail"])["stdout"].splitlines()
    expected = sorted(tuple(line.split(";", 1)) for line in avail if line)
    got = sorted((rec.pkgname, rec.comment) for rec in summary.iter_summary(str(DEMO)))
    assert got == expected


def test_pkg_info_X_output_is_the_same_record_as_the_repository():
    step = _transcript(["pkg_info", "-X", "/srv/pkgsrc-repo/All/foo-tool-3.2.tgz"])
    (from_tool,) = _parse(step["stdout"].encode())
    index = summary.index_summary(DEMO)
    assert from_tool == index.get("foo-tool-3.2")
    assert from_tool.depends == ("libfoo>=2.0",)


# (pkgname, attribute, expected): straight from the sample file.
DEMO_FIELDS = [
    ("foo-tool-3.2", "name", "foo-tool"),
    ("foo-tool-3.2", "version", "3.2"),
    ("foo-tool-3.2", "depends", ("libfoo>=2.0",)),
    ("foo-tool-3.2", "requires", ("/lib/x86_64-linux-gnu/libc.so.6", "/opt/pkg/lib/libfoo.so.2")),
    ("foo-tool-3.2", "file_size", 3049),
    ("foo-tool-3.2", "size_pkg", 14512),
    ("foo-tool-3.2", "file_name", "foo-tool-3.2.tgz"),
    ("foo-tool-3.2", "pkgpath", "devel/foo-tool"),
    ("foo-tool-3.2", "description",
     "foo-tool is a demo command line tool linked against libfoo.\nIt adds two numbers using libfoo."),
    ("foo-tool-3.2", "conflicts", ()),
    ("foo-tool-3.2", "provides", ()),
    ("foo-tool-3.2", "supersedes", ()),
    ("bootstrap-mk-files-20170802", "conflicts", ("mk-files-[0-9]*",)),
    ("bootstrap-mk-files-20170802", "requires", ()),
    ("libfoo-2.0nb1", "version", "2.0nb1"),
    ("libfoo-2.0nb1", "provides", ("/opt/pkg/lib/libfoo.so.2",)),
    ("pkg_install-20170419", "conflicts", ("audit-packages-[0-9]*",)),
    ("pkgin-26.4.0", "name", "pkgin"),
    ("bmake-20150505", "depends", ("bootstrap-mk-files-[0-9]*",)),
    ("nawk-20121220nb1", "comment", "Brian Kernighan's pattern-directed scanning and processing language"),
]


@pytest.mark.parametrize("pkgname,attribute,expected", DEMO_FIELDS, ids=["%s.%s" % c[:2] for c in DEMO_FIELDS])
def test_demo_record_fields(pkgname, attribute, expected):
    rec = summary.index_summary(DEMO).get(pkgname)
    assert getattr(rec, attribute) == expected


def test_multi_line_description_keeps_tabs_and_empty_lines():
    rec = summary.index_summary(DEMO).get("digest-20160304")
    lines = rec.description.split("\n")
    assert lines[0] == "This utility is a wrapper for the"
    assert lines[1] == ""
    assert lines[2] == "\t+ md5(3),"
    assert lines[-1] == "http://www.NetBSD.org/docs/software/packages.html"
    assert len(lines) == sum(1 for line in rec.text.split("\n") if line.startswith("DESCRIPTION="))


def test_fields_hold_every_scalar_variable_and_not_the_lists():
    rec = summary.index_summary(DEMO).get("pkg_install-20170419")
    assert rec.fields["PKG_OPTIONS"] == "inet6 openssl"
    assert rec.fields["PKGNAME"] == "pkg_install-20170419"
    assert rec.fields["OPSYS"] == "Linux"
    for key in summary.LIST_VARIABLES:
        assert key not in rec.fields
    assert len(rec.requires) == 17
    assert rec.get("REQUIRES").split("\n") == list(rec.requires)
    assert rec.get("NOPE") is None and rec.get("NOPE", "x") == "x"
    with pytest.raises(TypeError):
        rec.fields["OPSYS"] = "NetBSD"  # read-only


def test_unknown_variables_are_kept():
    text = _record("x-1.0", "FUTURE_THING=a=b", "COMMENT=c", "NEW_LIST=1", "NEW_LIST=2", "DEPENDS=y>=1")
    (rec,) = _parse(text.encode())
    assert rec.fields["FUTURE_THING"] == "a=b"
    assert rec.fields["NEW_LIST"] == "1\n2"
    assert rec.depends == ("y>=1",)


def test_records_are_frozen_comparable_and_picklable():
    rec = summary.index_summary(DEMO).get("hello-1.0")
    with pytest.raises(AttributeError):
        rec.pkgname = "x"  # type: ignore[misc]
    assert rec.comment == "Friendly greeting program (demo)"  # parsed and cached
    copy = pickle.loads(pickle.dumps(rec))
    assert copy == rec and copy.comment == rec.comment
    assert hash(copy) == hash(rec)


def test_file_name_defaults_to_pkgname_tgz():
    (rec,) = _parse(_record("x-1.0", "COMMENT=c").encode())
    assert rec.file_name == "x-1.0.tgz"
    assert rec.file_size is None and rec.size_pkg is None
    assert rec.description == "" and rec.pkgpath == ""


# --- compression ---------------------------------------------------------------------------

def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)


COMPRESSORS = {
    "plain": lambda data: data,
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": _zstd,
}
EXPECTED_DEMO = [line[8:] for line in DEMO.read_text().splitlines() if line.startswith("PKGNAME=")]


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_every_format_from_a_path(tmp_path, kind):
    path = tmp_path / "pkg_summary.whatever"  # the format comes from the magic bytes, not the name
    path.write_bytes(COMPRESSORS[kind](DEMO_BYTES))
    recs = list(summary.iter_summary(path))
    assert [r.pkgname for r in recs] == EXPECTED_DEMO
    assert recs[4].depends == ("libfoo>=2.0",)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_every_format_from_a_file_object(kind):
    assert [r.pkgname for r in _parse(COMPRESSORS[kind](DEMO_BYTES))] == EXPECTED_DEMO


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
def test_concatenated_streams_are_one_summary(kind):
    half = DEMO_BYTES.index(b"\n\nPKGNAME=hello-1.0") + 2
    compress = COMPRESSORS[kind]
    data = compress(DEMO_BYTES[:half]) + compress(DEMO_BYTES[half:])
    assert [r.pkgname for r in _parse(data)] == EXPECTED_DEMO


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
def test_concatenated_streams_larger_than_a_read(kind, monkeypatch):
    # Incompressible enough that each stream spans several reads, and one ends mid-read.
    monkeypatch.setattr(summary, "_READ_SIZE", 64 * 1024)
    monkeypatch.setattr(summary, "_OUT_SIZE", 256 * 1024)
    compress = COMPRESSORS[kind]
    first = "".join(_record("a%04d-1.0" % i, "DESCRIPTION=" + os.urandom(150).hex()) + "\n" for i in range(4000))
    second = "".join(_record("b%04d-1.0" % i, "DESCRIPTION=" + os.urandom(150).hex()) + "\n" for i in range(4000))
    data = compress(first.encode()) + compress(second.encode())
    assert len(data) > 2 * summary._READ_SIZE
    names = [r.pkgname for r in _parse(data)]
    assert names == ["a%04d-1.0" % i for i in range(4000)] + ["b%04d-1.0" % i for i in range(4000)]


class _Trickle(io.RawIOBase):
    """A stream that hands out at most 3 bytes per read, like a slow socket."""

    def __init__(self, data):
        super().__init__()
        self._data = data

    def readable(self):
        return True

    def read(self, size=-1):
        out, self._data = self._data[:3], self._data[3:]
        return out


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_short_reads_still_find_the_format(kind):
    data = COMPRESSORS[kind](DEMO_BYTES)
    assert [r.pkgname for r in summary.iter_summary(_Trickle(data))] == EXPECTED_DEMO


def test_zero_padding_after_a_gzip_stream_is_ignored():
    assert [r.pkgname for r in _parse(gzip.compress(DEMO_BYTES) + b"\0" * 1000)] == EXPECTED_DEMO


def test_zstd_without_the_zstandard_module(monkeypatch, tmp_path):
    if importlib.util.find_spec("zstandard") is not None:
        monkeypatch.setattr(summary, "_zstd", lambda: None)  # else: really absent, as on many hosts
    path = tmp_path / "pkg_summary.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 32)
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(path))
    assert "zstandard" in str(err.value) and "pkg_summary.xz" in str(err.value)
    assert err.value.source == str(path)


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
def test_truncated_download(tmp_path, kind):
    data = COMPRESSORS[kind](DEMO_BYTES)
    path = tmp_path / "pkg_summary.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(path))
    message = str(err.value)
    assert "pkg_summary.gz" in message
    assert "truncated" in message or "corrupt" in message
    assert "pkgin -f update" in message


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_corrupt_download(tmp_path, kind):
    data = bytearray(COMPRESSORS[kind](DEMO_BYTES))
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0x5A
    path = tmp_path / "pkg_summary.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(path))
    assert "corrupt" in str(err.value) or "truncated" in str(err.value) or "not VARIABLE=value" in str(err.value)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_empty_summary_has_no_records(tmp_path, kind):
    path = tmp_path / "pkg_summary"
    path.write_bytes(COMPRESSORS[kind](b""))
    assert list(summary.iter_summary(path)) == []


def test_empty_file_object_and_blank_lines_only():
    assert _parse(b"") == []
    assert _parse(b"\n\n\n") == []


# --- layout tolerance ------------------------------------------------------------------------

def test_missing_final_empty_line_crlf_bom_and_extra_empty_lines_read_the_same():
    normal = [(r.pkgname, r.fields["COMMENT"], r.description) for r in _parse(DEMO_BYTES)]
    variants = [
        DEMO_BYTES.rstrip(b"\n"),
        DEMO_BYTES.replace(b"\n", b"\r\n"),
        b"\n\n" + DEMO_BYTES.replace(b"\n\n", b"\n\n\n\n"),
        b"\xef\xbb\xbf" + DEMO_BYTES,  # a byte order mark
    ]
    for data in variants:
        assert [(r.pkgname, r.fields["COMMENT"], r.description) for r in _parse(data)] == normal


def test_latin1_byte_in_description_is_read_not_refused():
    text = _record("x-1.0", "COMMENT=caf\xc3\xa9 in utf-8", "DESCRIPTION=Ren\xe9 wrote it")
    (rec,) = _parse(text.encode("latin-1"))
    assert rec.description == "René wrote it"
    assert rec.comment == "café in utf-8"


def test_large_file_spanning_many_blocks(tmp_path):
    # Bigger than several read and decompression pieces: every record must come out whole.
    records = ["".join(_record("pkg%05d-1.%d" % (i, i % 7), "COMMENT=number %d" % i,
                               *["DESCRIPTION=line %d of %d" % (j, i) for j in range(i % 9)]))
               for i in range(30000)]
    data = "\n".join(records).encode()
    path = tmp_path / "pkg_summary.gz"
    path.write_bytes(gzip.compress(data, compresslevel=1))
    seen = 0
    for i, rec in enumerate(summary.iter_summary(path)):
        assert rec.pkgname == "pkg%05d-1.%d" % (i, i % 7)
        assert rec.comment == "number %d" % i
        seen += 1
    assert seen == 30000


# --- damage: errors name the file and the line -----------------------------------------------

def _lines_before(data: bytes, marker: bytes) -> int:
    return data[: data.index(marker)].count(b"\n") + 1


MALFORMED = [
    # (id, summary text, marker on the offending line, words in the message)
    ("line without =", _record("a-1.0", "COMMENT=x") + "\n" + _record("b-1.0", "this is junk", "COMMENT=y"),
     "this is junk", "not VARIABLE=value"),
    ("junk first line", "junk\n" + _record("a-1.0"), "junk", "not VARIABLE=value"),
    ("junk last line", _record("a-1.0") + "\n" + _record("b-1.0") + "junk at the end", "junk at", "not VARIABLE"),
    ("no PKGNAME", _record("a-1.0") + "\nCOMMENT=orphan\nSIZE_PKG=1\n", "COMMENT=orphan", "no PKGNAME"),
    ("no version", _record("a-1.0") + "\n" + _record("justaname", "COMMENT=x"), "PKGNAME=justaname", "no version"),
    ("empty blank line missing", _record("a-1.0", "COMMENT=x") + _record("b-2.0", "COMMENT=y"), "PKGNAME=b-2.0",
     "second PKGNAME"),
]


@pytest.mark.parametrize("text,marker,words", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("kind", ["plain", "gzip"])
def test_malformed_summary_names_file_and_line(tmp_path, text, marker, words, kind):
    data = text.encode()
    path = tmp_path / "pkg_summary.gz"
    path.write_bytes(COMPRESSORS[kind](data))
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(path))
    assert err.value.line == _lines_before(data, marker.encode())
    assert err.value.source == str(path)
    assert words in str(err.value)
    assert "%s:%d:" % (path, err.value.line) in str(err.value)
    assert isinstance(err.value, PkgsrcError) and err.value.hint


def test_line_number_is_exact_far_into_a_big_file(tmp_path):
    body = "".join(_record("p%05d-1.0" % i, "COMMENT=c", "DESCRIPTION=d\nDESCRIPTION=e") + "\n"
                   for i in range(9000))
    data = (body + _record("bad-1.0", "COMMENT=c", "oops no equals sign") + "\n" + body).encode()
    path = tmp_path / "pkg_summary.xz"
    path.write_bytes(lzma.compress(data))
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(path))
    assert err.value.line == _lines_before(data, b"oops no equals")
    assert err.value.line > 40000


def test_binary_junk_is_refused():
    with pytest.raises(SummaryError) as err:
        _parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "binary" in str(err.value)


def test_text_mode_file_object_is_refused():
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(io.StringIO("PKGNAME=a-1\n")))
    assert "binary mode" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(SummaryError) as err:
        list(summary.iter_summary(tmp_path / "nope.gz"))
    assert "cannot be read" in str(err.value) and "nope.gz" in str(err.value)


def _open_fds_on(path):
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + fd) == str(path):
                fds.append(fd)
        except OSError:
            pass
    return fds


def test_stopping_early_closes_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "_READ_SIZE", 16 * 1024)  # many small pieces: the file is mid-read
    monkeypatch.setattr(summary, "_OUT_SIZE", 64 * 1024)
    path = tmp_path / "pkg_summary.gz"
    path.write_bytes(gzip.compress(DEMO_BYTES * 200))
    gen = summary.iter_summary(path)
    assert next(gen).pkgname == "bmake-20150505"
    assert len(_open_fds_on(path)) == 1
    gen.close()
    assert _open_fds_on(path) == []


def test_an_error_mid_stream_closes_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "_READ_SIZE", 64 * 1024)
    monkeypatch.setattr(summary, "_OUT_SIZE", 256 * 1024)
    body = b"".join(b"PKGNAME=p%06d-1.0\nCOMMENT=c\nDESCRIPTION=%s\n\n" % (i, b"x" * 200) for i in range(20000))
    path = tmp_path / "pkg_summary.gz"
    head = body[:body.index(b"\n\n", 200000) + 2]
    path.write_bytes(gzip.compress(head + b"PKGNAME=bad-1.0\nbroken line\n\n" + body, 1))
    with pytest.raises(SummaryError) as err:
        for _rec in summary.iter_summary(path):
            pass
    # the exception (and its traceback, holding the generator frames) is still alive here
    assert err.value.line == head.count(b"\n") + 2
    assert _open_fds_on(path) == []


# --- the index -------------------------------------------------------------------------------

def test_index_versions_lowest_first_and_best():
    index = summary.index_summary(DEMO)
    assert len(index) == 13 and index.duplicates == 0
    assert [r.pkgname for r in index.versions("hello")] == ["hello-1.0", "hello-1.1"]
    assert index.versions("nothere") == ()
    assert index.best("hello").pkgname == "hello-1.1"
    assert index.best("hello<1.1").pkgname == "hello-1.0"
    assert index.best("nothere") is None
    assert "libfoo-2.0nb1" in index and "libfoo" not in index
    assert index.names()[:3] == ["bmake", "bootstrap-mk-files", "cwrappers"]


FIND = [
    ("hello>=1.0<1.1", ["hello-1.0"]),
    ("hello", ["hello-1.0", "hello-1.1"]),
    ("hello-1.1", ["hello-1.1"]),
    ("hello-[0-9]*", ["hello-1.0", "hello-1.1"]),
    ("libfoo>=2.0", ["libfoo-2.0nb1"]),
    ("libfoo>2.0nb1", []),
    ("{libfoo,foo-tool}-[0-9]*", ["foo-tool-3.2", "libfoo-2.0nb1"]),
    ("*-mk-files-*", ["bootstrap-mk-files-20170802"]),
    ("pkg_install>=2017", ["pkg_install-20170419"]),
    ("nothing", []),
]


@pytest.mark.parametrize("pattern,expected", FIND)
def test_index_find(pattern, expected):
    assert [r.pkgname for r in summary.index_summary(DEMO).find(pattern)] == expected


def _dewey_cases():
    with open(SAMPLES / "dewey-cases.tsv", newline="", encoding="utf-8") as handle:
        return [(r["pattern"], r["pkgname"], r["match"] == "yes") for r in csv.DictReader(handle, delimiter="\t")]


def test_index_find_agrees_with_real_pmatch_on_every_sample_case():
    # A summary of every PKGNAME in dewey-cases.tsv; for each pattern, find() must return what
    # a scan with pkg_match returns, and agree with the real pkg_admin pmatch answers.
    cases = _dewey_cases()
    pkgnames = sorted({c[1] for c in cases})
    data = "\n".join(_record(p, "COMMENT=c") for p in pkgnames).encode()
    index = summary.SummaryIndex(_parse(data))
    assert len(index) == len(pkgnames)
    for pattern in sorted({c[0] for c in cases}):
        found = {r.pkgname for r in index.find(pattern)}
        assert found == {p for p in pkgnames if versions.pkg_match(pattern, p)}, pattern
        best = index.best(pattern)
        assert (best.pkgname if best else None) == versions.best_match(pattern, pkgnames), pattern
    for pattern, pkgname, real in cases:
        assert (pkgname in {r.pkgname for r in index.find(pattern)}) is real, (pattern, pkgname)


ALTERNATIVES = ["{py311,py312}-foo>=1", "{py3{11,12},p5}-foo-[0-9]*", "{,lib}foo>=0", "p{y311,5}-{foo,bar}",
                "{a,b", "*-foo-*", "{py311-foo,lib}>=1.5<3"]


@pytest.mark.parametrize("pattern", ALTERNATIVES)
def test_index_find_with_alternatives_agrees_with_a_full_scan(pattern):
    pkgnames = ["py311-foo-1.0", "py311-foo-2.0nb1", "py312-foo-0.9", "p5-foo-1.2", "p5-bar-3", "foo-1.0", "libfoo-2",
                "lib-2.0", "py311-bar-1", "foo-bar-1", "py311-foo-bar-2"]
    index = summary.SummaryIndex(_parse("\n".join(_record(p) for p in pkgnames).encode()))
    try:
        expected = sorted(p for p in pkgnames if versions.pkg_match(pattern, p))
    except PkgsrcError:
        with pytest.raises(PkgsrcError):
            index.find(pattern)
        return
    assert sorted(r.pkgname for r in index.find(pattern)) == expected
    best = index.best(pattern)
    assert (best.pkgname if best else None) == versions.best_match(pattern, pkgnames)


def test_index_prefix_names_follow_pkg_install():
    # A bare name also matches NAME-<digit>*, so font-adobe matches font-adobe-100dpi-1.0.
    data = "\n".join(_record(p) for p in ("font-adobe-1.0", "font-adobe-100dpi-1.0.3", "font-adobe-utopia-1.0",
                                          "font-adobe-0.9")).encode()
    index = summary.SummaryIndex(_parse(data))
    assert [r.pkgname for r in index.find("font-adobe")] == ["font-adobe-0.9", "font-adobe-1.0",
                                                             "font-adobe-100dpi-1.0.3"]
    assert [r.pkgname for r in index.versions("font-adobe")] == ["font-adobe-0.9", "font-adobe-1.0"]


def test_index_keeps_the_first_of_duplicate_pkgnames():
    data = (_record("a-1.0", "COMMENT=first") + "\n" + _record("a-1.0", "COMMENT=second")).encode()
    index = summary.SummaryIndex(_parse(data))
    assert len(index) == 1 and index.duplicates == 1
    assert index.get("a-1.0").comment == "first"


def test_index_versions_in_dewey_order():
    names = ["v-1.0", "v-1.0nb2", "v-1.0rc1", "v-1.10", "v-1.9", "v-1.0nb10", "v-1.0alpha"]
    data = "\n".join(_record(p) for p in names).encode()
    index = summary.SummaryIndex(_parse(data))
    assert [r.version for r in index.versions("v")] == ["1.0alpha", "1.0rc1", "1.0", "1.0nb2", "1.0nb10", "1.9",
                                                        "1.10"]


def test_bad_pattern_raises_pattern_error():
    with pytest.raises(PkgsrcError):
        summary.index_summary(DEMO).find("{unbalanced")
