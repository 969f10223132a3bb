"""Remembers the digest of a file by its stat, as git's index does, so re-registering unchanged
bytes neither re-hashes nor re-copies them. Keyed by inode, size, mtime and ctime in nanoseconds:
ctime cannot be set back by a user, so any write to the file invalidates its entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

MAX_ENTRIES = 10_000
# A file changed less than this long before it was hashed could change again within the same
# timestamp tick without its stat changing (git's "racily clean" case): such files are not remembered.
RACY_SECONDS = 2.0


class StatCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, list[object]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, list[object]]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text())
                self._entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    @staticmethod
    def _key(f: Path) -> tuple[str, list[object]]:
        st = f.stat()
        return str(f.resolve()), [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]

    def lookup(self, f: Path) -> tuple[list[object], tuple[str, int] | None]:
        """The file's stat signature now, and its digest and size if that signature is known."""
        key, sig = self._key(f)
        entry = self._load().get(key)
        if entry and entry[:-1] == sig and isinstance(entry[-1], str):
            return sig, (entry[-1], int(f.stat().st_size))
        return sig, None

    def remember(self, f: Path, before: list[object], digest: str, size: int) -> None:
        """Only when the stat taken before hashing still holds and the file is not racily new."""
        key, sig = self._key(f)
        if sig != before or sig[2] != size:
            return  # the file changed while it was read: remember nothing about it
        newest_ns = max(int(sig[3]), int(sig[4]))  # type: ignore[call-overload]  # mtime_ns, ctime_ns
        if time.time() - newest_ns / 1e9 < RACY_SECONDS:
            return
        entries = self._load()
        entries[key] = [*sig, digest]
        if len(entries) > MAX_ENTRIES:
            for old in list(entries)[: len(entries) - MAX_ENTRIES]:
                del entries[old]
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or self._entries is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix="statcache-")
        except OSError:  # a cache: on a full disk or a read-only clone it is simply not kept
            return
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self._entries, out)
            os.replace(tmp, self.path)
        except OSError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
