"""What this clone itself imported (SPEC §14): foreign identity → the artifact-set digest it stored.

A manifest's `import.source` / `import.id` labels are text any writer can set; only this record
(in the clone's git directory, written by no one else) lets a re-run skip comparing bytes. A version
it does not vouch for is fetched again and compared by digest.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


class ImportRecord:
    def __init__(self, directory: Path, system: str) -> None:
        self.path = directory / f"imported-{system.lower()}.json"
        self._entries: dict[str, str] | None = None
        self._dirty = False

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            try:
                raw = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError):
                raw = {}
            items = raw.items() if isinstance(raw, dict) else ()
            self._entries = {k: v for k, v in items if isinstance(k, str) and isinstance(v, str)}
        return self._entries

    def vouches(self, model: str, key: str, digest: object) -> bool:
        return self._load().get(f"{model}\0{key}") == digest

    def remember(self, model: str, key: str, digest: str) -> None:
        self._load()[f"{model}\0{key}"] = digest
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or self._entries is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix="imported-")
        except OSError:  # a cache: without it a re-run compares bytes again
            return
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self._entries, out)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
