"""The object cache (`$XDG_CACHE_HOME/mreg`, SPEC §5): verified objects only, so a hit needs no store read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mreg.cache import cache_root
from mreg.digest import object_key


class ObjectCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "objects"

    def path(self, digest: str) -> Path:
        return self.root / object_key(digest)

    def find(self, digest: str) -> Path | None:
        p = self.path(digest)
        return p if p.is_file() else None

    def temp(self) -> tuple[int, str]:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=tmp, prefix="get-")

    def admit(self, tmp: str, digest: str) -> Path:
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        return final

    def evict(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()
