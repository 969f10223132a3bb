"""Real environments for failure tests, never mocks: a process that file permissions bind even when the
tests run as root, and a nearly full disk (a small tmpfs in a private mount namespace).

Both use Linux namespaces through util-linux's `unshare`. Root ignores permission bits, but a process
in a new user namespace with no uid mapping keeps its kernel uid and loses every capability over the
host's files, so a directory's mode binds it exactly as it binds an ordinary user. A user namespace
that maps the caller to root may mount a tmpfs in its own mount namespace: the mount exists only for
that process tree and disappears with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest


@cache
def _unshare_works(*flags: str) -> bool:
    if shutil.which("unshare") is None:
        return False
    proc = subprocess.run(["unshare", *flags, "true"], capture_output=True)
    return proc.returncode == 0


def unprivileged(cmd: Sequence[str]) -> list[str]:
    """`cmd` as a process that permission bits bind (skips the test where that cannot be arranged)."""
    if os.geteuid() != 0:
        return list(cmd)
    if not _unshare_works("--user"):
        pytest.skip("running as root without user namespaces: permission bits cannot bind")
    return ["unshare", "--user", *cmd]


def on_full_disk(directory: Path, cmd: Sequence[str], *, size_kib: int = 512) -> list[str]:
    """`cmd`, run while `directory` is a tmpfs of `size_kib` holding a copy of its contents and filled
    to the last byte. Only that process tree sees the mount: `directory` is untouched afterwards."""
    if not _unshare_works("--user", "--map-root-user", "--mount"):
        pytest.skip("no user and mount namespaces here: cannot make a full disk")
    copy = directory.parent / f".{directory.name}.full-disk-copy"
    shutil.copytree(directory, copy, symlinks=True)
    script = (
        'set -e; mount -t tmpfs -o size="$1"k mreg-full "$2"; cp -a "$3"/. "$2"/; '
        'dd if=/dev/zero of="$2"/.fill bs=1024 2>/dev/null || true; shift 3; exec "$@"'
    )
    return [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        script,
        "sh",
        str(size_kib),
        str(directory),
        str(copy),
        *cmd,
    ]


def read_only(*paths: Path) -> None:
    """Take the write bits off every file and directory under `paths` (undo with `writable`)."""
    for path in paths:
        for p in [path, *path.rglob("*")]:
            if not p.is_symlink():
                p.chmod(p.stat().st_mode & ~0o222)


def writable(*paths: Path) -> None:
    for path in paths:
        for p in [path, *path.rglob("*")]:
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
