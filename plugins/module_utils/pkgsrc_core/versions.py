"""pkgsrc versions and package patterns, with the semantics of pkg_install (dewey.c, opattern.c).

Versions are compared "dewey" style: a version becomes a sequence of integers, where digit
runs are numbers, `.`, `_` and `pl` are a 0 separator, `alpha`/`beta`/`pre`/`rc` are -3/-2/-1/-1,
a lone letter is a 0 separator followed by its place in the alphabet (`1.2e` == `1.2.5`), any
other character is skipped, and `nbN` is kept aside as a final tie-break. Missing components
count as 0, so `1` == `1.0`. Words are matched without regard to case.

Patterns are tried as pkg_install tries them: `{a,b}` alternatives (expanded recursively, any
match wins); otherwise a relational ("dewey") pattern when it holds `<` or `>` (`foo>=1.2`,
`foo>=1.2<2`); otherwise an fnmatch glob on the whole PKGNAME when it holds `*?[]`; otherwise
an exact PKGNAME. A glob or exact pattern that fails is retried as `<pattern>-[0-9]*`, so a
bare name such as `gtk2+` matches every version of gtk2+.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Iterable, Optional, Sequence, Tuple

from .errors import PatternError

__all__ = [
    "dewey_cmp", "pkg_match", "best_match", "split_pkgname", "compile_pattern",
    "version_key", "is_pattern",
]

_ALPHA, _BETA, _RC, _DOT = -3, -2, -1, 0
# Checked in this order at every position, as pkg_install does ("pre" before "pl").
_MODIFIERS = (("alpha", _ALPHA), ("beta", _BETA), ("pre", _RC), ("rc", _RC), ("pl", _DOT),
              ("_", _DOT), (".", _DOT))
# Relational operators, longest first where they share a prefix.
_OPERATORS = (("<=", "le"), ("<", "lt"), (">=", "ge"), (">", "gt"), ("==", "eq"), ("!=", "ne"))
_GLOB_CHARS = frozenset("*?[]")

VersionKey = Tuple[Tuple[int, ...], int]


@lru_cache(maxsize=65536)
def version_key(version: str) -> VersionKey:
    """Parse a version string into (components, nb revision) as pkg_install does."""
    comps = []
    nb = 0
    low = version.lower()
    i = 0
    n = len(low)
    while i < n:
        ch = low[i]
        if ch.isdigit():
            j = i
            while j < n and low[j].isdigit():
                j += 1
            comps.append(int(low[i:j]))
            i = j
            continue
        for word, value in _MODIFIERS:
            if low.startswith(word, i):
                comps.append(value)
                i += len(word)
                break
        else:
            if low.startswith("nb", i):
                j = i + 2
                while j < n and low[j].isdigit():
                    j += 1
                nb = int(low[i + 2:j] or "0")
                i = j
            elif "a" <= ch <= "z":
                comps.append(_DOT)
                comps.append(ord(ch) - ord("a") + 1)
                i += 1
            else:
                i += 1
    return tuple(comps), nb


def _cmp_keys(left: VersionKey, right: VersionKey) -> int:
    lv, rv = left[0], right[0]
    for i in range(max(len(lv), len(rv))):
        a = lv[i] if i < len(lv) else 0
        b = rv[i] if i < len(rv) else 0
        if a != b:
            return -1 if a < b else 1
    if left[1] != right[1]:
        return -1 if left[1] < right[1] else 1
    return 0


def dewey_cmp(a: str, b: str) -> int:
    """Compare two versions: -1 if a < b, 0 if equal, 1 if a > b (pkg_install's dewey order)."""
    return _cmp_keys(version_key(a), version_key(b))


def _test(cmp: int, op: str) -> bool:
    if op == "lt":
        return cmp < 0
    if op == "le":
        return cmp <= 0
    if op == "gt":
        return cmp > 0
    if op == "ge":
        return cmp >= 0
    if op == "eq":
        return cmp == 0
    return cmp != 0


def _operator_at(text: str, pos: int) -> Optional[Tuple[str, int]]:
    for token, op in _OPERATORS:
        if text.startswith(token, pos):
            return op, len(token)
    return None


def split_pkgname(pkgname: str) -> Tuple[str, str]:
    """Split a PKGNAME at its last `-` into (name, version): `gtk2+-2.24nb1` -> (`gtk2+`, `2.24nb1`)."""
    name, sep, version = pkgname.rpartition("-")
    if not sep or not name or not version:
        raise PatternError("%r is not a PKGNAME (name-version)" % (pkgname,),
                           "give the full package name with its version, e.g. foo-1.2nb1")
    return name, version


def is_pattern(text: str) -> bool:
    """True when text uses pattern syntax (alternatives, relations or glob characters)."""
    return any(c in text for c in "{}<>*?[]")


# --- fnmatch(3) with FNM_PERIOD, as pkg_install's glob_match calls it ---------------------

@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> "re.Pattern[str]":
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            j = i + 1
            negate = j < n and pattern[j] in "!^"
            if negate:
                j += 1
            start = j
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape("["))
            else:
                body = pattern[start:j].replace("\\", "\\\\").replace("^", "\\^")
                out.append("[%s%s]" % ("^" if negate else "", body))
                i = j
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("(?s:%s)\\Z" % "".join(out))


def _glob_match(pattern: str, pkgname: str) -> bool:
    # FNM_PERIOD: a leading period must be matched by a literal period.
    if pkgname.startswith(".") and not pattern.startswith("."):
        return False
    return _glob_regex(pattern).match(pkgname) is not None


# --- alternatives ---------------------------------------------------------------------

def _expand_alternatives(pattern: str) -> Sequence[str]:
    """One level of `{a,b}` expansion at the first `{`; nested braces stay for the recursion."""
    start = pattern.index("{")
    depth = 0
    end = -1
    for i in range(start, len(pattern)):
        if pattern[i] == "{":
            depth += 1
        elif pattern[i] == "}":
            depth -= 1
            if depth == 0:
                end = i
                break
    if end < 0:
        raise PatternError("malformed alternative in pattern %r: a '{' is never closed" % (pattern,),
                           "balance the braces, e.g. {nginx,apache}-[0-9]*")
    head, body, tail = pattern[:start], pattern[start + 1:end], pattern[end + 1:]
    parts = []
    depth = 0
    last = 0
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[last:i])
            last = i + 1
    parts.append(body[last:])
    return [head + part + tail for part in parts]


# --- relational patterns --------------------------------------------------------------

def _dewey_match(pattern: str, pkgname: str) -> bool:
    name, sep, version = pkgname.rpartition("-")
    if not sep:
        return False
    pos = min(i for i in (pattern.find("<"), pattern.find(">")) if i >= 0)
    if pattern[:pos] != name:
        return False
    found = _operator_at(pattern, pos)
    if found is None:
        return False
    op, width = found
    rest = pattern[pos + width:]
    if op in ("gt", "ge"):
        upper_at = rest.find("<")
        if upper_at >= 0:
            upper = _operator_at(rest, upper_at)
            if upper is None:
                return False
            op2, width2 = upper
            if not _test(dewey_cmp(version, rest[upper_at + width2:]), op2):
                return False
            rest = rest[:upper_at]
    return _test(dewey_cmp(version, rest), op)


# --- the matcher ----------------------------------------------------------------------

def _simple(ch: str) -> bool:
    return ch.isalnum() or ch == "-"


def _quick_reject(pattern: str, pkgname: str) -> bool:
    """pkg_install's quick check: a pattern starting with plain characters must share them."""
    for i in (0, 1):
        if i >= len(pattern) or not _simple(pattern[i]):
            return False
        if i >= len(pkgname) or pattern[i] != pkgname[i]:
            return True
    return False


def _match(pattern: str, pkgname: str) -> bool:
    if _quick_reject(pattern, pkgname):
        return False
    if "{" in pattern:
        return any(_match(alt, pkgname) for alt in _expand_alternatives(pattern))
    if "<" in pattern or ">" in pattern:
        return _dewey_match(pattern, pkgname)
    if any(c in _GLOB_CHARS for c in pattern) and _glob_match(pattern, pkgname):
        return True
    if pattern == pkgname:
        return True
    return _glob_match(pattern + "-[0-9]*", pkgname)


def _check_pattern(pattern: str) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise PatternError("empty package pattern", "give a name, PKGNAME or pattern such as foo>=1.2")
    if any(c in pattern for c in "\0\n\r"):
        raise PatternError("package pattern %r contains a control character" % (pattern,))
    if pattern.count("{") != pattern.count("}"):
        raise PatternError("malformed alternative in pattern %r: braces do not balance" % (pattern,),
                           "balance the braces, e.g. {nginx,apache}-[0-9]*")


def pkg_match(pattern: str, pkgname: str) -> bool:
    """True when PKGNAME matches the pattern, exactly as `pkg_admin pmatch PATTERN PKGNAME`."""
    _check_pattern(pattern)
    return _match(pattern, pkgname)


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """Validate a pattern once and return a predicate over PKGNAMEs (for matching many names)."""
    _check_pattern(pattern)
    return lambda pkgname: _match(pattern, pkgname)


def best_match(pattern: str, pkgnames: Iterable[str]) -> Optional[str]:
    """The best PKGNAME matching pattern (highest version; on a tie the smaller name), or None.

    This is what `pkg_info -E` and `pkg_admin lsbest` print.
    """
    matches = compile_pattern(pattern)
    best: Optional[str] = None
    best_key: Optional[VersionKey] = None
    for pkgname in pkgnames:
        if not matches(pkgname):
            continue
        sep, version = pkgname.rpartition("-")[1:]
        if not sep:
            continue
        key = version_key(version)
        if best is None or best_key is None:
            best, best_key = pkgname, key
            continue
        order = _cmp_keys(key, best_key)
        if order > 0 or (order == 0 and pkgname < best):
            best, best_key = pkgname, key
    return best
