"""Every cache mreg keeps, one module each, all under one root (`$XDG_CACHE_HOME/mreg`):

- `objects`: verified store objects, so a pull hit needs no store read;
- `stat`: a file's digest by its stat (git's index trick), per clone;
- `digests`: which artifact-set digest each manifest blob holds, per clone;
- `valid`: which exact bytes passed schema validation;
- `registries`: bare caches of remote registries (`--registry URL`).

A cache only ever saves work: deleting any of them changes no answer.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mreg"
