"""Which exact bytes passed schema validation (keys made by `mreg.manifest`): one marker file each.

A marker counts only when it holds its own key: an empty or truncated file (a crash, a full disk, a
hand-made file) is not a pass. `MREG_NO_VALIDATION_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mreg.cache import cache_root


def _marker(key: str) -> Path | None:
    if os.environ.get("MREG_NO_VALIDATION_CACHE"):
        return None
    return cache_root() / "validated" / key[:2] / key[2:]


def known(key: str) -> bool:
    marker = _marker(key)
    if marker is None:
        return False
    try:
        with open(marker, "rb") as f:
            return f.read(129) == key.encode()
    except OSError:
        return False


def remember(key: str) -> None:
    marker = _marker(key)
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
            tmp.write_bytes(key.encode())
            os.replace(tmp, marker)
