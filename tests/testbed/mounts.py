"""Mount table helpers: what is mounted under a path, and unmounting it deepest first."""
from __future__ import annotations

import subprocess
from pathlib import Path


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 and so on)."""
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points() -> list[str]:
    """Every mount point in this process's mount namespace, in mount order."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4:
                points.append(_unescape(fields[4]))
    return points


def mounts_under(path: Path | str) -> list[str]:
    """Mount points at or below ``path``."""
    base = str(Path(path)).rstrip("/")
    return [p for p in mount_points() if p == base or p.startswith(base + "/")]


def unmount_under(path: Path | str) -> None:
    """Unmount everything at or below ``path``, deepest first (lazily if busy)."""
    for point in sorted(set(mounts_under(path)), key=len, reverse=True):
        proc = subprocess.run(["umount", point], capture_output=True, check=False)
        if proc.returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
