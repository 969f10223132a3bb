"""Every cache mreg keeps, one module each. Per user, under `cache_root()` (`$XDG_CACHE_HOME/mreg`):

- `objects`: verified store objects, so a pull hit needs no store read;
- `valid`: which exact bytes passed schema validation;
- `registries`: bare caches of remote registries (`--registry URL`).

Per clone, under `clone_cache_dir()` (`<git common dir>/mreg`), because what they hold is about
that clone's files and objects:

- `stat`: a file's digest by its stat (git's index trick);
- `digests`: which artifact-set digest each manifest blob holds;
- `lineage`, `documents` (both `blob_index` files): what `lineage` looks up of each manifest and
  evaluation blob, and each manifest blob's checked document (`report`).

A cache only ever saves work: deleting any of them changes no answer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def clone_cache_dir(git_common_dir: Path) -> Path:
    return git_common_dir / "mreg"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mreg"


def append_lines(path: Path, data: bytes) -> None:
    """Append whole lines to a per-clone index in one `write` on an O_APPEND file, so concurrent
    writers never interleave a line; a read-only git dir only costs the next reader its speed."""
    if not data:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
